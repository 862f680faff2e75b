/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-kill9 CASE - the kill -9 matrix: a client (a forked child, the
 * victim) is killed with SIGKILL in the middle of something, and the
 * survivors, ipcd's books and the namespace must come out whole.
 *
 * Cases: idle, recv (blocked in ipcd_recv), more (in the middle of an
 * IPCD_MORE batch), alloc (between ipcd_buf_alloc and ipcd_send_buf),
 * inflight (a producer with chunks in flight to a receiver that has not
 * read them), holding (a subscriber holding published chunks), callee (a
 * call pending on it), paused (a sender held by flow control because its
 * receiver does not read), ipcd (ipcd itself killed with clients of all
 * those kinds connected; this case starts its own ipcd).
 *
 * After each: the victim is gone from status and its queue and semaphore
 * from the namespace; the survivor "s" still sends and receives and gets
 * exactly the messages ipcd accepted for it, intact and in order; the
 * books hold: what ipcd accepted during the case equals what it delivered
 * plus what it dropped, the drops add up by reason, no backlog byte, no
 * ring byte or lane left in use.  The harness then checks that nothing is
 * left when ipcd stops.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define T_DATA 5
#define T_CALL 6
#define NBULK 3

static int ready_fd[2];

/* The victim says how far it got: one byte, then (optionally) a count. */
static void tell(char what, unsigned n)
{
        CHECK(write(ready_fd[1], &what, 1) == 1);
        CHECK(write(ready_fd[1], &n, sizeof(n)) == sizeof(n));
}

/* What victim pid says; fails if it exits first. */
static unsigned hear(pid_t pid, char want)
{
        struct pollfd p = { .fd = ready_fd[0], .events = POLLIN };
        unsigned n;
        char x;
        int status;

        while (poll(&p, 1, 100) == 0)
                CHECK_MSG(waitpid(pid, &status, WNOHANG) != pid,
                          "the victim exited (status %#x) before it was ready", status);
        CHECK(read(ready_fd[0], &x, 1) == 1);
        CHECK_EQ(x, want);
        CHECK(read(ready_fd[0], &n, sizeof(n)) == sizeof(n));
        return n;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
        for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t)(seed * 131 + i * 7);
}

static bool filled(const uint8_t *p, size_t len, unsigned seed)
{
        for (size_t i = 0; i < len; i++)
                if (p[i] != (uint8_t)(seed * 131 + i * 7))
                        return false;
        return true;
}

/* ---- what the victims do (in the child; never return) ---- */

/* The victim's name: "callee" (called by name), or "v-HOW". */
static const char *victim_name(const char *how)
{
        static char name[32];

        if (strcmp(how, "callee") == 0)
                return "callee";
        snprintf(name, sizeof(name), "v-%s", how);
        return name;
}

static void victim(const char *how)
{
        ipcd_client *c = tl_connect(victim_name(how));
        ipcd_msg m;
        void *buf;

        if (strcmp(how, "idle") == 0) {
                tell('r', 0);
        } else if (strcmp(how, "recv") == 0) {
                tell('r', 0);
                (void)ipcd_recv(c, &m, 0, -1);
        } else if (strcmp(how, "more") == 0) {
                char text[16];

                for (unsigned i = 0; i < 10; i++) {
                        int n = snprintf(text, sizeof(text), "more %u", i);

                        tl_send(c, "s", T_DATA, text, (size_t)n, IPCD_MORE);
                }
                tell('r', 10);
        } else if (strcmp(how, "alloc") == 0) {
                CHECK_OK(ipcd_buf_alloc(c, 100000, 0, &buf));
                fill(buf, 100000, 1);
                tell('r', 0);
        } else if (strcmp(how, "inflight") == 0) {
                for (unsigned i = 0; i < NBULK; i++) {
                        CHECK_OK(ipcd_buf_alloc(c, 200000, 0, &buf));
                        fill(buf, 200000, i);
                        CHECK_OK(ipcd_send_buf(c, "s", T_DATA, buf, 200000, IPCD_ACK));
                }
                tell('r', NBULK);
        } else if (strcmp(how, "holding") == 0) {
                CHECK_OK(ipcd_subscribe(c, "k9.topic"));
                tell('s', 0);
                for (unsigned i = 0; i < NBULK; i++) {
                        CHECK_OK(tl_recv(c, &m, T_DATA, -1));
                        CHECK(m.flags & IPCD_MSG_BULK);
                        /* never released */
                }
                tell('r', NBULK);
        } else if (strcmp(how, "callee") == 0) {
                tell('s', 0); /* registered: the call may come */
                CHECK_OK(tl_recv(c, &m, T_CALL, -1));
                CHECK(m.flags & IPCD_MSG_REQUEST);
                tell('r', 0); /* and never reply */
        } else if (strcmp(how, "paused") == 0) {
                unsigned n = 0;
                char text[16];
                int r;

                for (;;) {
                        int k = snprintf(text, sizeof(text), "paused %u", n);

                        r = ipcd_send(c, "s", T_DATA, text, (size_t)k, IPCD_NONBLOCK);
                        if (r == -EAGAIN)
                                break;
                        CHECK_OK(r);
                        n++;
                }
                tell('r', n);
                /* Blocked: the window is full and s does not read. */
                (void)ipcd_send(c, "s", T_DATA, "blocked", 7, 0);
        }
        pause();
        _exit(1);
}

static pid_t spawn(const char *how)
{
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (pid == 0) {
                close(ready_fd[0]);
                victim(how);
        }
        return pid;
}

static void kill9(pid_t pid)
{
        int status;

        CHECK(kill(pid, SIGKILL) == 0);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* ---- the books ---- */

struct books {
        uint64_t accepted, routed, dropped, published;
        unsigned msgs, sems;
};

static void books_take(struct books *b)
{
        struct tl_status st;

        tl_status(&st);
        b->accepted = st.daemon.accepted;
        b->routed = st.daemon.routed;
        b->dropped = st.daemon.dropped;
        b->published = st.daemon.published;
        tl_status_free(&st);
        b->msgs = tl_sysv_count("msg");
        b->sems = tl_sysv_count("sem");
}

/* After the case: accepted = delivered + dropped (fanout: a publish is
 * accepted once and delivered to each of its subscribers, so the caller
 * says how many deliveries the publishes made), the drops add up by
 * reason, nothing waits in ipcd, the ring is free, the victim's objects
 * are gone. */
static void books_check(const struct books *b0, uint64_t extra_deliveries)
{
        struct tl_status st;
        struct books b1;
        uint64_t by = 0, lanes = 0, ring_lanes = 0;

        books_take(&b1);
        tl_status(&st);
        for (unsigned i = 0; i < WIRE_DROP_REASONS; i++)
                by += st.daemon.dropped_by[i];
        CHECK_EQ(by, st.daemon.dropped);
        CHECK_EQ(st.daemon.backlog_bytes, 0);
        /* The lanes in use are the survivors' own (a producer keeps its
         * lane), none of the victim's. */
        for (size_t i = 0; i < st.n_clients; i++)
                lanes += st.clients[i].lanes;
        for (size_t i = 0; i < st.n_rings; i++) {
                CHECK_EQ(st.rings[i].used, 0);
                ring_lanes += st.rings[i].lanes_used;
        }
        CHECK_EQ(ring_lanes, lanes);
        tl_status_free(&st);
        CHECK_EQ((b1.accepted - b0->accepted) - (b1.published - b0->published) + extra_deliveries,
                 (b1.routed - b0->routed) + (b1.dropped - b0->dropped));
        CHECK_EQ(b1.msgs, b0->msgs);
        CHECK_EQ(b1.sems, b0->sems);
}

/* Receive what s got from the victim, in order; returns how many.  The
 * first `expect` may still be on their way from ipcd's backlog (each
 * waited for up to 10 s, a hang guard); then whatever is there. */
static unsigned drain_text(ipcd_client *s, const char *prefix, unsigned expect)
{
        unsigned n = 0;
        ipcd_msg m;
        char want[32];

        while (tl_recv(s, &m, T_DATA, n < expect ? 10000 : 0) >= 0) {
                int k = snprintf(want, sizeof(want), "%s %u", prefix, n);

                /* The paused victim's last send goes through when credit
                 * came for what ipcd put into s's queue meanwhile: it is
                 * last, and accepted. */
                if (m.len == 7 && memcmp(m.data, "blocked", 7) == 0) {
                        ipcd_msg_release(s, &m);
                        CHECK_EQ(tl_recv(s, &m, T_DATA, 0), -EAGAIN);
                        break;
                }

                CHECK_MSG(m.len == (size_t)k && memcmp(m.data, want, (size_t)k) == 0,
                          "message %u from the victim is not \"%s\"", n, want);
                ipcd_msg_release(s, &m);
                n++;
        }
        return n;
}

struct call_arg {
        ipcd_client *c;
        int r;
};

static void *caller(void *arg)
{
        struct call_arg *a = arg;
        ipcd_msg reply;

        /* The hang guard is the alarm: the call must end when the callee dies. */
        a->r = ipcd_call(a->c, "callee", T_CALL, "question", 8, &reply, -1);
        if (a->r >= 0)
                ipcd_msg_release(a->c, &reply);
        return NULL;
}

/* One client case against the harness's ipcd. */
static void client_case(const char *how)
{
        ipcd_client *s = tl_connect("s");
        struct books b0;
        uint64_t fanout = 0;
        struct call_arg ca = { .c = s };
        pthread_t th;
        unsigned n;
        pid_t pid;

        tl_wait_clients(1);
        books_take(&b0);
        pid = spawn(how);
        if (strcmp(how, "holding") == 0) {
                hear(pid, 's');
                for (unsigned i = 0; i < NBULK; i++) {
                        void *buf;

                        CHECK_OK(ipcd_buf_alloc(s, 300000, 0, &buf));
                        fill(buf, 300000, i);
                        CHECK_OK(ipcd_publish_buf(s, "k9.topic", T_DATA, buf, 300000, IPCD_ACK));
                }
                fanout = NBULK; /* one subscriber: one delivery each */
        }
        if (strcmp(how, "callee") == 0) {
                hear(pid, 's');
                CHECK(pthread_create(&th, NULL, caller, &ca) == 0);
        }
        n = hear(pid, 'r');
        kill9(pid);
        tl_wait_clients(1);

        if (strcmp(how, "more") == 0) {
                /* What the batch held in the dead process is lost whole or
                 * in a prefix; what arrived is intact and in order. */
                unsigned got = drain_text(s, "more", 0);

                CHECK(got <= n);
        } else if (strcmp(how, "paused") == 0) {
                unsigned got = drain_text(s, "paused", n);

                /* Everything accepted before the pause arrives. */
                CHECK_MSG(got >= n, "%u of %u accepted messages arrived", got, n);
        } else if (strcmp(how, "inflight") == 0) {
                for (unsigned i = 0; i < NBULK; i++) {
                        ipcd_msg m;

                        CHECK_OK(tl_recv(s, &m, T_DATA, 10000));
                        CHECK(m.flags & IPCD_MSG_BULK);
                        CHECK_EQ(m.len, 200000);
                        CHECK_MSG(filled(m.data, m.len, i), "chunk %u is damaged", i);
                        ipcd_msg_release(s, &m);
                }
        } else if (strcmp(how, "callee") == 0) {
                CHECK(pthread_join(th, NULL) == 0);
                CHECK_MSG(ca.r < 0, "a call to a dead callee succeeded");
                tl_log("the pending call ended with %s", tl_errname(ca.r));
        }
        /* The survivor goes on, and the victim's name is free again. */
        tl_expect_empty(s);
        tl_sync(s);
        {
                ipcd_client *again = tl_connect(victim_name(how));

                tl_send(s, ipcd_name(again), T_DATA, "after", 5, IPCD_ACK);
                tl_expect(again, T_DATA, T_DATA, "after", 5, "s");
                ipcd_close(again);
                tl_wait_clients(1);
        }
        tl_sync(s);
        books_check(&b0, fanout);
        ipcd_close(s);
        tl_wait_clients(0);
}

/* ipcd itself, with a client of each kind connected.  This case starts
 * its own ipcd (test-kill9.sh does not, for it). */
static void ipcd_case(void)
{
        static const char *const kinds[] = { "idle", "recv", "holding", "callee", "paused" };
        pid_t victims[5], ipcd = tl_ipcd_start();
        struct call_arg ca;
        struct tl_status st;
        ipcd_client *s = tl_connect("s");
        pthread_t th;
        size_t rings;

        ca.c = s;
        for (unsigned i = 0; i < 5; i++) {
                victims[i] = spawn(kinds[i]);
                if (strcmp(kinds[i], "holding") == 0) {
                        hear(victims[i], 's');
                        for (unsigned k = 0; k < NBULK; k++) {
                                void *buf;

                                CHECK_OK(ipcd_buf_alloc(s, 300000, 0, &buf));
                                fill(buf, 300000, k);
                                CHECK_OK(ipcd_publish_buf(s, "k9.topic", T_DATA, buf, 300000,
                                                          IPCD_ACK));
                        }
                }
                if (strcmp(kinds[i], "callee") == 0) {
                        hear(victims[i], 's');
                        CHECK(pthread_create(&th, NULL, caller, &ca) == 0);
                }
                hear(victims[i], 'r');
        }
        tl_wait_clients(6);

        /* The crash.  Its sentinel removes every object at once. */
        CHECK(kill(ipcd, SIGKILL) == 0);
        CHECK(waitpid(ipcd, NULL, 0) == ipcd);
        CHECK(pthread_join(th, NULL) == 0);
        CHECK_MSG(ca.r < 0, "a call survived the crash of ipcd");
        tl_log("the pending call ended with %s", tl_errname(ca.r));

        ipcd = tl_ipcd_start();
        /* The survivor reconnects by itself and goes on. */
        for (int i = 0;; i++) {
                int r = ipcd_send(s, "s", T_DATA, "again", 5, IPCD_ACK);

                if (r == 0)
                        break;
                CHECK_MSG(r == -ECONNRESET && i < 3, "send after the restart: %s", tl_errname(r));
        }
        tl_expect(s, T_DATA, T_DATA, "again", 5, "s");
        tl_sync(s);
        for (unsigned i = 0; i < 5; i++)
                kill9(victims[i]);

        /* Nothing of the first ipcd is left: the only objects are the new
         * one's rings and the survivor's queue, uid queue and semaphore. */
        tl_status(&st);
        rings = st.n_rings;
        CHECK_EQ(st.n_clients, 1);
        CHECK_EQ(st.daemon.backlog_bytes, 0);
        tl_status_free(&st);
        CHECK_EQ(tl_sysv_count("shm"), rings);
        ipcd_close(s);
        tl_wait_clients(0);
        CHECK_EQ(tl_sysv_count("msg"), 0);
        CHECK_EQ(tl_sysv_count("sem"), 0);
        CHECK_EQ(tl_ipcd_stop(ipcd, SIGTERM), 0);
}

int main(int argc, char **argv)
{
        tl_init(argc, argv);
        CHECK_MSG(argc == 2, "usage: test-kill9 CASE");
        CHECK(pipe(ready_fd) == 0);
        if (strcmp(argv[1], "ipcd") == 0)
                ipcd_case();
        else
                client_case(argv[1]);
        tl_log("%s: ok", argv[1]);
        return 0;
}
