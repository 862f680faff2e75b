/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-ctl-client - a client that test-ipcdctl.sh drives, to give
 * `ipcdctl topics` and `ipcdctl monitor` something to show (not a test
 * itself).  Connects to $IPCD_RUNTIME_DIR.
 *
 *   test-ctl-client sub NAME TOPIC...
 *        connect as NAME ("-": anonymously), subscribe to every TOPIC
 *        (patterns allowed), print "ready", then print each message as
 *        "TOPIC TYPE DATA" until SIGTERM/SIGINT (exit 0)
 *   test-ctl-client pub TOPIC TYPE COUNT [PERIOD_MS]
 *        publish "msg 1" ... "msg COUNT" on TOPIC with IPCD_ACK, PERIOD_MS
 *        apart (default 0); COUNT 0: until SIGTERM/SIGINT (exit 0)
 *        (a call, IPCD_MSG_REQUEST, is answered with its own data)
 *   test-ctl-client call NAME COUNT
 *        call NAME COUNT times ("call 1" ...), each reply awaited
 *   test-ctl-client history TOPIC DEPTH
 *        set TOPIC's history depth, print "ready", then stay connected
 *        until SIGTERM/SIGINT (exit 0): a client's depth goes with it
 *   test-ctl-client send NAME DST TYPE TEXT
 *        connect as NAME ("-": anonymously) and send TEXT to DST with
 *        IPCD_ACK; exit 0 when it was delivered, 1 with the error
 *   test-ctl-client lanes COUNT
 *        connect up to COUNT anonymous clients, each taking a lane of a
 *        ring (ipcd_buf_alloc of 64 bytes, IPCD_NONBLOCK, kept) until one
 *        is refused; print "lanes N ERR" (N taken, ERR the refusal's
 *        errno name or "-"), then stay until SIGTERM/SIGINT (exit 0)
 *
 * Exit status: 0, 1 on any failure (with a message on stderr), 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ipcd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        stop = sig;
}

static void catch_signals(void)
{
        struct sigaction sa = { .sa_handler = on_signal };

        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

static int fail(const char *what, int r)
{
        fprintf(stderr, "test-ctl-client: %s: %s\n", what, strerror(-r));
        return 1;
}

static int connect_as(const char *name, ipcd_client **c)
{
        int r = ipcd_connect(strcmp(name, "-") == 0 ? NULL : name, c);

        return r < 0 ? fail("connect", r) : 0;
}

static int do_sub(int argc, char **argv)
{
        ipcd_client *c;
        int r;

        if (connect_as(argv[0], &c))
                return 1;
        for (int i = 1; i < argc; i++) {
                r = ipcd_subscribe(c, argv[i]);
                if (r < 0) {
                        ipcd_close(c);
                        return fail(argv[i], r);
                }
        }
        printf("ready\n");
        fflush(stdout);
        while (!stop) {
                ipcd_msg m;

                r = ipcd_recv(c, &m, 0, 200);
                if (r == -ETIMEDOUT || r == -EINTR || r == -EAGAIN)
                        continue;
                if (r < 0) {
                        ipcd_close(c);
                        return fail("receive", r);
                }
                printf("%.*s %ld %.*s\n", IPCD_NAME_MAX, m.topic[0] ? m.topic : "-", m.type,
                       (int)m.len, m.data ? (const char *)m.data : "");
                fflush(stdout);
                if (m.flags & IPCD_MSG_REQUEST) {
                        r = ipcd_reply(c, &m, m.type, m.data, m.len);
                        if (r < 0) {
                                ipcd_msg_release(c, &m);
                                ipcd_close(c);
                                return fail("reply", r);
                        }
                }
                ipcd_msg_release(c, &m);
        }
        ipcd_close(c);
        return 0;
}

static int parse_num(const char *s, long *v)
{
        char *end;

        errno = 0;
        *v = strtol(s, &end, 10);
        return errno || !*s || *end || *v < 0 ? -EINVAL : 0;
}

static int do_pub(int argc, char **argv)
{
        long type, count, period = 0;
        ipcd_client *c;
        int r = 0;

        if (parse_num(argv[1], &type) < 0 || parse_num(argv[2], &count) < 0 ||
            (argc > 3 && parse_num(argv[3], &period) < 0))
                return 2;
        if (connect_as("-", &c))
                return 1;
        for (long i = 1; !stop && (count == 0 || i <= count); i++) {
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "msg %ld", i);

                r = ipcd_publish(c, argv[0], type, buf, (size_t)n, IPCD_ACK);
                if (r < 0)
                        break;
                if (period > 0) {
                        struct timespec ts = { period / 1000, period % 1000 * 1000000L };

                        nanosleep(&ts, NULL);
                }
        }
        ipcd_close(c);
        return r < 0 ? fail("publish", r) : 0;
}

static int do_call(int argc, char **argv)
{
        ipcd_client *c;
        long count;
        int r = 0;

        if (parse_num(argv[1], &count) < 0)
                return 2;
        if (connect_as("-", &c))
                return 1;
        for (long i = 1; !stop && i <= count; i++) {
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "call %ld", i);
                ipcd_msg reply;

                r = ipcd_call(c, argv[0], 1, buf, (size_t)n, &reply, 10000);
                if (r < 0)
                        break;
                ipcd_msg_release(c, &reply);
        }
        ipcd_close(c);
        return r < 0 ? fail("call", r) : 0;
}

static int do_history(int argc, char **argv)
{
        ipcd_client *c;
        long depth;
        int r;

        if (parse_num(argv[1], &depth) < 0)
                return 2;
        if (connect_as("-", &c))
                return 1;
        r = ipcd_set_history(c, argv[0], (unsigned)depth);
        if (r < 0) {
                ipcd_close(c);
                return fail("set history", r);
        }
        printf("ready\n");
        fflush(stdout);
        while (!stop) {
                struct timespec ts = { 0, 50 * 1000000L };

                nanosleep(&ts, NULL);
        }
        ipcd_close(c);
        return 0;
}

static int do_send(int argc, char **argv)
{
        ipcd_client *c;
        long type;
        int r;

        (void)argc;
        if (parse_num(argv[2], &type) < 0)
                return 2;
        if (connect_as(argv[0], &c))
                return 1;
        r = ipcd_send(c, argv[1], type, argv[3], strlen(argv[3]), IPCD_ACK);
        ipcd_close(c);
        return r < 0 ? fail("send", r) : 0;
}

#define LANES_MAX 64

static int do_lanes(int argc, char **argv)
{
        ipcd_client *cs[LANES_MAX];
        const char *why = "-";
        long count;
        int n = 0, r;

        (void)argc;
        if (parse_num(argv[0], &count) < 0 || count > LANES_MAX)
                return 2;
        while (n < count) {
                void *p;

                if (connect_as("-", &cs[n])) {
                        why = "connect";
                        break;
                }
                r = ipcd_buf_alloc(cs[n], 64, IPCD_NONBLOCK, &p);
                if (r < 0) {
                        ipcd_close(cs[n]);
                        why = r == -EDQUOT ? "EDQUOT" : r == -EAGAIN ? "EAGAIN" : strerror(-r);
                        break;
                }
                memset(p, 'l', 64); /* held, never sent */
                n++;
        }
        printf("lanes %d %s\n", n, why);
        fflush(stdout);
        while (!stop) {
                struct timespec ts = { 0, 50 * 1000000L };

                nanosleep(&ts, NULL);
        }
        for (int i = 0; i < n; i++)
                ipcd_close(cs[i]); /* frees the buffers */
        return 0;
}

int main(int argc, char **argv)
{
        catch_signals();
        if (argc >= 4 && strcmp(argv[1], "sub") == 0)
                return do_sub(argc - 2, argv + 2);
        if ((argc == 5 || argc == 6) && strcmp(argv[1], "pub") == 0)
                return do_pub(argc - 2, argv + 2);
        if (argc == 4 && strcmp(argv[1], "call") == 0)
                return do_call(argc - 2, argv + 2);
        if (argc == 4 && strcmp(argv[1], "history") == 0)
                return do_history(argc - 2, argv + 2);
        if (argc == 6 && strcmp(argv[1], "send") == 0)
                return do_send(argc - 2, argv + 2);
        if (argc == 3 && strcmp(argv[1], "lanes") == 0)
                return do_lanes(argc - 2, argv + 2);
        fprintf(stderr, "usage: test-ctl-client sub NAME TOPIC... | pub TOPIC TYPE COUNT "
                        "[PERIOD_MS] | call NAME COUNT | history TOPIC DEPTH | send NAME DST TYPE "
                        "TEXT | lanes COUNT\n");
        return 2;
}
