/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-death - clients that die or leave without saying so.
 *
 * For a client killed with SIGKILL while blocked in ipcd_recv(), one that
 * exits without ipcd_close(), and one that closes: asserts that it
 * disappears from status, that its client queue (and semaphore) are
 * removed from the namespace, that a message it sent just before dying
 * is still delivered (accepted means not lost), that IPCD_ACK to its name
 * then gives -ENOENT and that its name can be registered again.  Also: a
 * forked child of a client cannot use the inherited handle (an error, not a
 * crash) and its exit does not disconnect the parent.  And a client killed
 * in the middle of registering (its REGISTER written, its reply FIFO not
 * open for reading: a pid that is gone) does not leave its FIFO in
 * clients/: ipcd removes it; nor does one killed before it registered
 * (ipcd removes unread FIFOs when it stops).  The waits are hang
 * guards (10 s); the time observed is logged, not asserted.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

enum how { KILLED, EXITED, CLOSED };
static const char *const how_name[] = { "killed", "exited", "closed" };

static void victim(enum how how, int ready_fd, int go_fd)
{
        ipcd_client *c = tl_connect("victim");
        ipcd_msg m;
        char x;

        tl_send(c, "watcher", 9, "last words", 10, 0);
        CHECK(write(ready_fd, "r", 1) == 1);
        /* the parent has looked at status: now die (or be killed) */
        if (how != KILLED)
                CHECK(read(go_fd, &x, 1) == 1);
        switch (how) {
        case KILLED:
                /* blocked in receive when the SIGKILL comes */
                ipcd_recv(c, &m, 0, -1);
                break;
        case EXITED:
                _exit(0); /* no ipcd_close() */
        case CLOSED:
                ipcd_close(c);
                pause(); /* alive, but gone from ipcd */
                break;
        }
        _exit(1);
}

static void test_one(ipcd_client *watcher, enum how how)
{
        unsigned msgs_before, sems_before;
        struct tl_status st;
        const struct wire_status_client *sv;
        int pipefd[2], gofd[2], qid, status;
        uint64_t t0, deadline;
        ipcd_client *again;
        pid_t pid;
        char x;

        tl_log("--- victim %s", how_name[how]);
        tl_wait_clients(1); /* the watcher: earlier rounds' clients are gone */
        msgs_before = tl_sysv_count("msg");
        sems_before = tl_sysv_count("sem");
        CHECK(pipe(pipefd) == 0 && pipe(gofd) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(pipefd[0]);
                close(gofd[1]);
                victim(how, pipefd[1], gofd[0]);
        }
        close(pipefd[1]);
        close(gofd[0]);
        CHECK(read(pipefd[0], &x, 1) == 1);
        close(pipefd[0]);

        tl_status(&st);
        sv = tl_status_client(&st, "victim");
        CHECK_MSG(sv, "victim missing from status while alive");
        CHECK_EQ(sv->pid, pid);
        qid = sv->qid;
        tl_status_free(&st);
        CHECK(tl_sysv_find("msg", qid, NULL));

        t0 = tl_now_ms();
        if (how == KILLED)
                CHECK(kill(pid, SIGKILL) == 0);
        else
                CHECK(write(gofd[1], "g", 1) == 1);
        close(gofd[1]);
        if (how != CLOSED) {
                CHECK(waitpid(pid, &status, 0) == pid);
                if (how == KILLED)
                        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
                else
                        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }

        /* gone from status and from the namespace */
        deadline = t0 + 10000;
        for (;;) {
                bool listed, queue;

                tl_status(&st);
                listed = tl_status_client(&st, "victim") != NULL;
                tl_status_free(&st);
                queue = tl_sysv_find("msg", qid, NULL);
                if (!listed && !queue)
                        break;
                CHECK_MSG(tl_now_ms() < deadline, "victim (%s) still %s after 10 s",
                          how_name[how], listed ? "in status" : "has its queue");
                tl_sleep_ms(5);
        }
        tl_log("victim (%s) gone after about %llu ms", how_name[how],
               (unsigned long long)(tl_now_ms() - t0));
        CHECK_EQ(tl_sysv_count("msg"), msgs_before);
        CHECK_EQ(tl_sysv_count("sem"), sems_before);

        /* what it sent before dying is delivered */
        tl_expect(watcher, 0, 9, "last words", 10, "victim");
        CHECK_R(ipcd_send(watcher, "victim", 1, "hello?", 6, IPCD_ACK), -ENOENT);

        /* the name is free */
        again = tl_connect("victim");
        tl_send(watcher, "victim", 2, "welcome back", 12, IPCD_ACK);
        tl_expect(again, 0, 2, "welcome back", 12, "watcher");
        ipcd_close(again);

        if (how == CLOSED) {
                kill(pid, SIGKILL);
                CHECK(waitpid(pid, &status, 0) == pid);
        }
}

/* A forked child inherits the handle but may not use it; its exit must
 * not disconnect the parent. */
static void test_fork(ipcd_client *watcher)
{
        ipcd_client *p = tl_connect("forker");
        pid_t pid;
        int status;

        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_msg m;
                int r;

                r = ipcd_send(p, "watcher", 1, "from child", 10, 0);
                if (r >= 0)
                        _exit(10);
                r = ipcd_recv(p, &m, 0, 0);
                if (r >= 0)
                        _exit(11);
                _exit(0);
        }
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "forked child could use the parent's handle (status %#x)", status);

        /* the parent is still connected: a round trip through ipcd */
        tl_send(p, "watcher", 3, "parent ok", 9, IPCD_ACK);
        tl_expect(watcher, 0, 3, "parent ok", 9, "forker");
        tl_send(watcher, "forker", 4, "ack", 3, IPCD_ACK);
        tl_expect(p, 0, 4, "ack", 3, "watcher");
        tl_expect_empty(watcher); /* nothing from the child */
        ipcd_close(p);
}

/* A REGISTER whose maker died before it opened its reply FIFO. */
static void test_orphan_fifo(void)
{
        static const char fifo[] = "0123456789abcdef0123456789abcdef";
        struct wire_ctl req = { .cmd = WIRE_CTL_REGISTER };
        char path[PATH_MAX], line[WIRE_LINE_MAX + 1];
        uint64_t t0;
        pid_t dead;
        int n, st;

        /* A pid that is gone (reaped; not reused within the test). */
        dead = fork();
        CHECK(dead >= 0);
        if (dead == 0)
                _exit(0);
        CHECK(waitpid(dead, &st, 0) == dead);
        snprintf(path, sizeof(path), "%s/clients/%s", tl_rundir(), fifo);
        CHECK(mkfifo(path, 0600) == 0);
        req.pid = dead;
        memcpy(req.fifo, fifo, sizeof(req.fifo));
        memcpy(req.nonce, "00112233445566778899aabbccddeeff", sizeof(req.nonce));
        n = wire_ctl_format(&req, line, sizeof(line));
        CHECK(n > 0);
        CHECK_OK(tl_control_write(line, (size_t)n));
        t0 = tl_now_ms();
        while (access(path, F_OK) == 0) {
                CHECK_MSG(tl_now_ms() - t0 < 10000, "the orphaned reply FIFO is still there");
                tl_sleep_ms(10);
        }
        tl_log("orphaned reply FIFO removed after %llu ms",
               (unsigned long long)(tl_now_ms() - t0));
        /* Killed before it even wrote its REGISTER: ipcd never hears of
         * it, and removes it when it stops (the harness checks that no
         * FIFO is left). */
        snprintf(path, sizeof(path), "%s/clients/fedcba9876543210fedcba9876543210", tl_rundir());
        CHECK(mkfifo(path, 0600) == 0);
}

int main(int argc, char **argv)
{
        ipcd_client *watcher;

        tl_init(argc, argv);
        watcher = tl_connect("watcher");
        test_one(watcher, KILLED);
        test_one(watcher, EXITED);
        test_one(watcher, CLOSED);
        test_fork(watcher);
        test_orphan_fifo();
        tl_expect_empty(watcher);
        ipcd_close(watcher);
        return 0;
}
