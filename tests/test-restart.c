/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-restart - the daemon goes away and comes back (this test starts
 * and stops ipcd itself; test-restart.sh does not start one).
 *
 * Asserts:
 *  - SIGTERM: ipcd exits 0 and removes every object; a client blocked in
 *    ipcd_recv(-1) gets -ECONNRESET; with no daemon a call returns
 *    -ECONNRESET or -ECONNREFUSED at once (never hangs, never succeeds) and
 *    ipcd_connect() gives -ECONNREFUSED; after ipcd is back, a client's
 *    calls work again (-ECONNRESET at most once on the way), its name is
 *    registered again, messages flow both ways.
 *  - SIGKILL (a crash): an IPCD_ACK send returns an error instead of
 *    hanging; connecting to the stale control FIFO gives -ECONNREFUSED; the
 *    next ipcd removes every object the crashed one left (from its state
 *    file), which also wakes a client blocked in ipcd_recv(-1) with
 *    -ECONNRESET; clients reconnect.
 *  - SIGINT: a clean exit 0 like SIGTERM.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

/* A child blocked in ipcd_recv(-1) as `name`; exits 0 on -ECONNRESET. */
static pid_t blocked_receiver(const char *name)
{
        int pipefd[2];
        pid_t pid;
        char x;

        CHECK(pipe(pipefd) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *c;
                ipcd_msg m;
                int r;

                close(pipefd[0]);
                c = tl_connect(name);
                CHECK(write(pipefd[1], "r", 1) == 1);
                r = ipcd_recv(c, &m, 0, -1);
                if (r != -ECONNRESET) {
                        tl_log("blocked receiver: ipcd_recv returned %d (%s)", r, tl_errname(r));
                        _exit(1);
                }
                ipcd_close(c);
                _exit(0);
        }
        close(pipefd[1]);
        CHECK(read(pipefd[0], &x, 1) == 1);
        close(pipefd[0]);
        return pid;
}

static void wait_child_ok(pid_t pid, const char *what)
{
        int status;

        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %#x)", what,
                  status);
}

static void check_exit0(int status, const char *sig)
{
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "ipcd after %s: status %#x (exited %d, signal %d), expected exit 0", sig,
                  status, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Retry a call on c until it works: -ECONNRESET at most once, and
 * -ECONNREFUSED only while the library backs off. */
static void until_works(ipcd_client *c, const char *dst, long type, const char *text)
{
        uint64_t t0 = tl_now_ms(), deadline = t0 + 20000;
        int resets = 0, r;

        for (;;) {
                r = ipcd_send(c, dst, type, text, strlen(text), IPCD_ACK);
                if (r == 0) {
                        tl_log("sender reconnected after %llu ms",
                               (unsigned long long)(tl_now_ms() - t0));
                        return;
                }
                if (r == -ECONNRESET)
                        resets++;
                CHECK_MSG(r == -ECONNRESET || r == -ECONNREFUSED,
                          "send after restart: %d (%s)", r, tl_errname(r));
                CHECK_MSG(resets <= 1, "-ECONNRESET reported %d times", resets);
                CHECK_MSG(tl_now_ms() < deadline, "not reconnected 20 s after the restart");
                tl_sleep_ms(20);
        }
}

/* Receive until the library has reconnected (-EAGAIN: connected, empty). */
static void recv_until_connected(ipcd_client *c)
{
        uint64_t t0 = tl_now_ms();
        uint64_t deadline = tl_now_ms() + 20000;
        int resets = 0;
        ipcd_msg m;

        for (;;) {
                int r = ipcd_recv(c, &m, 0, 0);

                if (r == -EAGAIN) {
                        tl_log("receiver reconnected after %llu ms",
                               (unsigned long long)(tl_now_ms() - t0));
                        return;
                }
                CHECK_MSG(r < 0, "a message out of nowhere after the restart (type %ld)", m.type);
                if (r == -ECONNRESET)
                        resets++;
                CHECK_MSG(r == -ECONNRESET || r == -ECONNREFUSED, "recv after restart: %d (%s)",
                          r, tl_errname(r));
                CHECK_MSG(resets <= 1, "-ECONNRESET reported %d times", resets);
                CHECK_MSG(tl_now_ms() < deadline, "not reconnected 20 s after the restart");
                tl_sleep_ms(20);
        }
}

static void exchange(ipcd_client *a, ipcd_client *b, const char *tag)
{
        tl_send(a, "b", 1, tag, strlen(tag), IPCD_ACK);
        tl_expect(b, 0, 1, tag, strlen(tag), "a");
        tl_send(b, "a", 2, tag, strlen(tag), IPCD_ACK);
        tl_expect(a, 0, 2, tag, strlen(tag), "b");
}

static unsigned objects(void)
{
        return tl_sysv_count("msg") + tl_sysv_count("sem") + tl_sysv_count("shm");
}

int main(int argc, char **argv)
{
        ipcd_client *a, *b, *x = NULL;
        pid_t ipcd, blocked;
        uint64_t id_before;
        int old[3][64];
        unsigned n_old[3];
        int r;

        tl_init(argc, argv);
        CHECK_MSG(objects() == 0, "the namespace is not empty at the start");

        /* ---- SIGTERM ---- */
        ipcd = tl_ipcd_start();
        a = tl_connect("a");
        b = tl_connect("b");
        exchange(a, b, "first life");
        blocked = blocked_receiver("blocked");
        id_before = ipcd_id(a);

        check_exit0(tl_ipcd_stop(ipcd, SIGTERM), "SIGTERM");
        CHECK_MSG(objects() == 0, "%u IPC objects left after SIGTERM", objects());
        wait_child_ok(blocked, "receiver blocked across SIGTERM");

        tl_log("ipcd stopped (SIGTERM)");
        /* no daemon: errors, at once */
        r = ipcd_send(a, "b", 1, "void", 4, 0);
        tl_log("send with no daemon: %d (%s)", r, tl_errname(r));
        CHECK_MSG(r == -ECONNRESET || r == -ECONNREFUSED, "send with no daemon: %d (%s)", r,
                  tl_errname(r));
        r = ipcd_send(a, "b", 1, "void", 4, IPCD_ACK);
        tl_log("ACK send with no daemon: %d (%s)", r, tl_errname(r));
        CHECK_MSG(r == -ECONNRESET || r == -ECONNREFUSED, "ACK send with no daemon: %d (%s)", r,
                  tl_errname(r));
        {
                ipcd_msg m;

                r = ipcd_recv(b, &m, 0, 200);
                tl_log("recv (200 ms) with no daemon: %d (%s)", r, tl_errname(r));
                CHECK_MSG(r == -ECONNRESET || r == -ECONNREFUSED,
                          "recv with no daemon: %d (%s)", r, tl_errname(r));
        }
        CHECK_R(ipcd_connect("x", &x), -ECONNREFUSED);
        tl_log("connect with no daemon: ECONNREFUSED");

        /* back again: both reconnect under their names */
        ipcd = tl_ipcd_start();
        tl_log("ipcd restarted");
        recv_until_connected(b);
        until_works(a, "b", 3, "second life");
        tl_expect(b, 0, 3, "second life", 11, "a");
        exchange(a, b, "second life");
        tl_log("a's id: %llu before the restart, %llu after", (unsigned long long)id_before,
               (unsigned long long)ipcd_id(a));

        /* A send IPCD_MORE held in the handle when ipcd restarts was never
         * sent: it goes out in the new session, before what follows. */
        CHECK_R(ipcd_send(a, "b", 4, "held over", 9, IPCD_MORE), 0);
        check_exit0(tl_ipcd_stop(ipcd, SIGTERM), "SIGTERM (held send)");
        ipcd = tl_ipcd_start();
        recv_until_connected(b);
        until_works(a, "b", 5, "after it");
        tl_expect(b, 0, 4, "held over", 9, "a");
        tl_expect(b, 0, 5, "after it", 8, "a");
        tl_log("a send held by IPCD_MORE survived the restart, in order");

        /* ---- SIGKILL: a crash leaves the objects behind ---- */
        blocked = blocked_receiver("blocked2");
        /* ipcd's sentinel would remove them at once (test-attack-death):
         * it dies too, so that the restart's own clean-up is tested. */
        tl_ipcd_kill_sentinel(ipcd);
        CHECK(kill(ipcd, SIGKILL) == 0);
        {
                int status;

                CHECK(waitpid(ipcd, &status, 0) == ipcd);
        }
        CHECK_MSG(objects() > 0, "nothing left after SIGKILL? (test assumption)");
        {
                static const char *const kinds[] = { "msg", "sem", "shm" };

                for (int k = 0; k < 3; k++)
                        n_old[k] = tl_sysv_ids(kinds[k], old[k], ELEMENTSOF(old[k]));
        }
        tl_log("ipcd killed (SIGKILL)");
        /* an acknowledged send must not hang on a dead daemon */
        r = ipcd_send(a, "b", 1, "into the void", 13, IPCD_ACK);
        tl_log("ACK send to the dead ipcd returned %d (%s)", r, tl_errname(r));
        CHECK_MSG(r == -ECONNRESET || r == -ECONNREFUSED, "ACK send to a crashed ipcd: %d (%s)",
                  r, tl_errname(r));
        /* the stale control FIFO has no reader */
        CHECK_R(ipcd_connect("x", &x), -ECONNREFUSED);

        ipcd = tl_ipcd_start();
        tl_log("ipcd restarted after the crash");
        /* every object of the crashed instance is gone */
        {
                static const char *const kinds[] = { "msg", "sem", "shm" };

                for (int k = 0; k < 3; k++)
                        for (unsigned i = 0; i < n_old[k]; i++)
                                CHECK_MSG(!tl_sysv_find(kinds[k], old[k][i], NULL),
                                          "%s %d of the crashed ipcd still exists", kinds[k],
                                          old[k][i]);
        }
        wait_child_ok(blocked, "receiver blocked across the crash");
        tl_log("blocked receiver woke up");
        recv_until_connected(b);
        until_works(a, "b", 4, "third life");
        tl_expect(b, 0, 4, "third life", 10, "a");
        exchange(a, b, "third life");
        tl_log("clients reconnected after the crash");

        ipcd_close(a);
        ipcd_close(b);

        /* ---- SIGINT ---- */
        check_exit0(tl_ipcd_stop(ipcd, SIGINT), "SIGINT");
        CHECK_MSG(objects() == 0, "%u IPC objects left after SIGINT", objects());
        return 0;
}
