/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-calls - request/reply: ipcd_call() and ipcd_reply().
 *
 * A server process "srv" answers requests by type: 1 echo (reply type
 * 101, the same payload), 2 after 300 ms, 3 never, 5 first sends three
 * plain messages to the caller, then replies; type 9 (a plain message)
 * stops it.  A "victim" process takes one request and kills itself.
 *
 * Asserts: the reply carries the callee's type, payload and authenticated
 * identity, and no IPCD_MSG_REQUEST; the callee sees IPCD_MSG_REQUEST, the
 * caller's id as sender_id and a non-zero id; -ENOENT at once for a
 * missing callee; -ETIMEDOUT for a slow or silent callee, and the late
 * reply never reaches the application (the next call gets its own);
 * -ECONNRESET when the callee dies mid-call, long before the timeout
 * (result, not timing: the timeout is a minute); a call neither consumes
 * nor reorders the caller's other messages; 8 threads x 150 calls on one
 * handle, with a ninth thread blocked in ipcd_recv(filter 0) on the same
 * handle, each get their own replies, and the receiving thread sees none
 * of them; argument errors (-EINVAL, -EMSGSIZE).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

struct req {
        uint64_t caller_id;
        uint32_t thread, seq;
};

static void server(int ready_fd)
{
        ipcd_client *c = tl_connect("srv");

        CHECK(write(ready_fd, "r", 1) == 1);
        for (;;) {
                struct req q;
                ipcd_msg m;
                int r = ipcd_recv(c, &m, 0, -1);

                CHECK_MSG(r == 0, "server: %d (%s)", r, tl_errname(r));
                if (!(m.flags & IPCD_MSG_REQUEST)) {
                        bool stop = m.type == 9;

                        /* not a request: replying is refused */
                        CHECK_R(ipcd_reply(c, &m, 1, "x", 1), -EINVAL);
                        ipcd_msg_release(c, &m);
                        if (stop)
                                break;
                        continue;
                }
                CHECK_EQ(m.len, sizeof(q));
                memcpy(&q, m.data, sizeof(q));
                CHECK_MSG(m.sender_id == q.caller_id, "request sender_id %llu, caller says %llu",
                          (unsigned long long)m.sender_id, (unsigned long long)q.caller_id);
                CHECK_MSG(m.id != 0, "request without id");
                CHECK_EQ(m.sender_pid, getppid());
                switch (m.type) {
                case 1:
                        CHECK_R(ipcd_reply(c, &m, 101, m.data, m.len), 0);
                        break;
                case 2:
                        tl_sleep_ms(300);
                        CHECK_R(ipcd_reply(c, &m, 102, m.data, m.len), 0);
                        break;
                case 3:
                        break; /* never answered */
                case 5:
                        for (int i = 0; i < 3; i++)
                                tl_send(c, m.sender, 8, &i, sizeof(i), 0);
                        CHECK_R(ipcd_reply(c, &m, 105, m.data, m.len), 0);
                        break;
                default:
                        tl_fail(__FILE__, __LINE__, "request type %ld", m.type);
                }
                ipcd_msg_release(c, &m);
        }
        ipcd_close(c);
        _exit(0);
}

static void victim(int ready_fd)
{
        ipcd_client *c = tl_connect("victim");
        ipcd_msg m;

        CHECK(write(ready_fd, "r", 1) == 1);
        CHECK_OK(ipcd_recv(c, &m, 0, -1));
        CHECK(m.flags & IPCD_MSG_REQUEST);
        raise(SIGKILL); /* mid-call, without a word */
        _exit(1);
}

static pid_t spawn(void (*fn)(int))
{
        int fds[2];
        pid_t pid;
        char x;

        CHECK(pipe(fds) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                fn(fds[1]);
        }
        close(fds[1]);
        CHECK(read(fds[0], &x, 1) == 1);
        close(fds[0]);
        return pid;
}

static int call(ipcd_client *c, long type, uint32_t thread, uint32_t seq, ipcd_msg *reply,
                int timeout_ms)
{
        struct req q = {.caller_id = ipcd_id(c), .thread = thread, .seq = seq};

        return ipcd_call(c, "srv", type, &q, sizeof(q), reply, timeout_ms);
}

static void check_reply(ipcd_msg *m, long type, uint32_t thread, uint32_t seq, pid_t srv)
{
        struct req q;

        CHECK_EQ(m->type, type);
        CHECK_EQ(m->len, sizeof(q));
        memcpy(&q, m->data, sizeof(q));
        CHECK_MSG(q.thread == thread && q.seq == seq, "reply for %u/%u, expected %u/%u",
                  q.thread, q.seq, thread, seq);
        CHECK_STREQ(m->sender, "srv");
        CHECK_EQ(m->sender_pid, srv);
        CHECK_EQ(m->sender_uid, getuid());
        CHECK_EQ(m->flags & (IPCD_MSG_REQUEST | IPCD_MSG_NOTICE | IPCD_MSG_MONITOR), 0);
}

/* ------------------------------------------------------------------ */

#define THREADS 8
#define CALLS 150

struct worker {
        ipcd_client *c;
        uint32_t id;
        pid_t srv;
};

static void *caller_thread(void *arg)
{
        struct worker *w = arg;

        for (uint32_t i = 0; i < CALLS; i++) {
                ipcd_msg m;
                int r = call(w->c, 1, w->id, i, &m, 60000);

                CHECK_MSG(r == 0, "thread %u call %u: %d (%s)", w->id, i, r, tl_errname(r));
                check_reply(&m, 101, w->id, i, w->srv);
                ipcd_msg_release(w->c, &m);
        }
        return NULL;
}

struct bystander {
        ipcd_client *c;
        long type;
        uint32_t flags;
};

/* Blocked in ipcd_recv(filter 0) while the calls go on: it must not get
 * their replies, only the one message meant for it. */
static void *bystander_thread(void *arg)
{
        struct bystander *b = arg;
        ipcd_msg m;

        CHECK_OK(ipcd_recv(b->c, &m, 0, -1));
        b->type = m.type;
        b->flags = m.flags;
        ipcd_msg_release(b->c, &m);
        return NULL;
}

static void test_threads(ipcd_client *c, pid_t srv)
{
        struct worker w[THREADS];
        pthread_t t[THREADS], bt;
        struct bystander b = {.c = c};

        CHECK(pthread_create(&bt, NULL, bystander_thread, &b) == 0);
        for (uint32_t i = 0; i < THREADS; i++) {
                w[i] = (struct worker){.c = c, .id = i + 1, .srv = srv};
                CHECK(pthread_create(&t[i], NULL, caller_thread, &w[i]) == 0);
        }
        for (uint32_t i = 0; i < THREADS; i++)
                CHECK(pthread_join(t[i], NULL) == 0);
        /* wake the bystander with a message of its own */
        tl_send(c, ipcd_name(c), 77, "bye", 3, IPCD_ACK);
        CHECK(pthread_join(bt, NULL) == 0);
        CHECK_EQ(b.type, 77);
        CHECK_EQ(b.flags, 0);
        tl_log("%d threads x %d calls on one handle, a receiver beside them: ok", THREADS, CALLS);
}

int main(int argc, char **argv)
{
        ipcd_client *c, *other;
        pid_t srv, vic;
        ipcd_msg m;
        uint64_t t0;
        int status;

        tl_init(argc, argv);
        srv = spawn(server);
        c = tl_connect("caller");
        other = tl_connect("other");

        /* a plain call */
        CHECK_R(call(c, 1, 0, 1, &m, 30000), 0);
        check_reply(&m, 101, 0, 1, srv);
        ipcd_msg_release(c, &m);
        ipcd_msg_release(c, &m); /* twice: harmless */

        /* anonymous callers work too */
        {
                ipcd_client *anon = tl_connect(NULL);

                CHECK_R(call(anon, 1, 0, 2, &m, -1), 0);
                check_reply(&m, 101, 0, 2, srv);
                ipcd_msg_release(anon, &m);
                ipcd_close(anon);
        }

        /* no such callee: at once */
        CHECK_R(ipcd_call(c, "nosuch", 1, "x", 1, &m, 60000), -ENOENT);
        CHECK(m.data == NULL && m.len == 0);
        ipcd_msg_release(c, &m); /* a failed call releases as a no-op */

        /* a slow callee: timeout; its late reply is dropped, the next call
         * gets its own */
        CHECK_R(call(c, 2, 0, 3, &m, 50), -ETIMEDOUT);
        CHECK_R(call(c, 1, 0, 4, &m, 30000), 0);
        check_reply(&m, 101, 0, 4, srv);
        ipcd_msg_release(c, &m);
        tl_sleep_ms(400); /* the late reply has come by now (not asserted) */
        CHECK_R(call(c, 3, 0, 5, &m, 200), -ETIMEDOUT); /* never answered */
        tl_sync(c);
        tl_expect_empty(c); /* no reply leaked to the application */

        /* a call neither consumes nor reorders other messages */
        for (int i = 0; i < 5; i++)
                tl_send(other, "caller", 7, &i, sizeof(i), IPCD_ACK);
        CHECK_R(call(c, 5, 0, 6, &m, 30000), 0);
        check_reply(&m, 105, 0, 6, srv);
        ipcd_msg_release(c, &m);
        for (int i = 0; i < 5; i++)
                tl_expect(c, 0, 7, &i, sizeof(i), "other");
        for (int i = 0; i < 3; i++)
                tl_expect(c, 0, 8, &i, sizeof(i), "srv");
        tl_sync(c);
        tl_expect_empty(c);

        /* the callee dies mid-call: -ECONNRESET, not the minute's timeout */
        vic = spawn(victim);
        t0 = tl_now_ms();
        {
                struct req q = {.caller_id = ipcd_id(c)};

                CHECK_R(ipcd_call(c, "victim", 1, &q, sizeof(q), &m, 60000), -ECONNRESET);
        }
        tl_log("callee killed mid-call: -ECONNRESET after %llu ms",
               (unsigned long long)(tl_now_ms() - t0));
        CHECK(waitpid(vic, &status, 0) == vic);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* the handle is fine afterwards */
        CHECK_R(call(c, 1, 0, 7, &m, 30000), 0);
        check_reply(&m, 101, 0, 7, srv);
        ipcd_msg_release(c, &m);

        test_threads(c, srv);

        /* argument errors */
        {
                size_t big = ipcd_max_inline(c) + 1;
                char *buf = calloc(1, big);

                CHECK(buf);
                CHECK_R(ipcd_call(c, "srv", 1, "x", 1, &m, 0), -EINVAL);
                CHECK_R(ipcd_call(c, "srv", 1, "x", 1, NULL, 1000), -EINVAL);
                CHECK_R(ipcd_call(c, "bad name", 1, "x", 1, &m, 1000), -EINVAL);
                CHECK_R(ipcd_call(c, "srv", 0, "x", 1, &m, 1000), -EINVAL);
                CHECK_R(ipcd_call(c, "srv", 1, NULL, 1, &m, 1000), -EINVAL);
                CHECK_R(ipcd_call(NULL, "srv", 1, "x", 1, &m, 1000), -EINVAL);
                CHECK_R(ipcd_call(c, "srv", 1, buf, big, &m, 1000), -EMSGSIZE);
                CHECK_R(ipcd_reply(c, NULL, 1, "x", 1), -EINVAL);
                memset(&m, 0, sizeof(m));
                CHECK_R(ipcd_reply(c, &m, 1, "x", 1), -EINVAL);
                free(buf);
        }

        /* ipcd rejected nothing we sent (no reply without a call, ...) */
        {
                struct tl_status st;

                tl_status(&st);
                CHECK_EQ(st.daemon.bad_inbound, 0);
                tl_status_free(&st);
        }

        tl_send(c, "srv", 9, "stop", 4, IPCD_ACK);
        CHECK(waitpid(srv, &status, 0) == srv);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server failed (%#x)", status);
        ipcd_close(other);
        ipcd_close(c);
        return 0;
}
