/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-bridge.c - the clients of tests/test-bridge.sh, run in either
 * "host" (IPC namespace) of the test:
 *
 *   pub RUNDIR TOPIC N [SIZE]   publish N messages: type 100 + i % 7, payload
 *                               "m<i>" (padded to SIZE bytes)
 *   sub RUNDIR TOPIC N HOST MODE READY IDLE_MS
 *                               subscribe, create READY, then receive until N
 *                               messages came or none came for IDLE_MS; every
 *                               one must be IPCD_MSG_REMOTE with origin host
 *                               HOST and the publisher's type, payload, order
 *                               (no duplicate).  MODE exact: all N must come;
 *                               lossy: print how many were lost; atleast:
 *                               duplicates allowed (counted, printed), all N
 *                               must come, in any order (redeliveries after a
 *                               bridge's crash come late).
 *   raw RUNDIR TOPIC            publish with IPCD_REMOTE without privilege:
 *                               must fail
 *   callee RUNDIR NAME READY    register NAME, create READY, then answer calls:
 *                               type 10 with type 11 "re:" + request; type 20
 *                               never (the caller times out); type 30: exit at
 *                               once (the caller sees the callee die); print
 *                               each plain message "send TYPE DATA"
 *   caller RUNDIR NAME N        N calls of type 10 ("c<i>": the reply must be
 *                               type 11 "re:c<i>"), one of type 20 with a
 *                               500 ms timeout (-ETIMEDOUT), one send type 40
 *                               "hello", one of type 30 (-ECONNRESET), one of
 *                               type 10 again (-ENOENT: nobody holds NAME)
 *                               type 50: ipcd_reply_error(-ENOENT), then the
 *                               reply type 11 "late"
 *   nocall RUNDIR NAME          a call to NAME must give -ENOENT
 *   latecall RUNDIR NAME        a call of type 50 must get the reply "late":
 *                               the error verdict of an unprivileged callee
 *                               is refused by ipcd
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipcd.h>

static int die(const char *what, int r)
{
        fprintf(stderr, "test-bridge: %s: %s\n", what, strerror(-r));
        exit(1);
}

static ipcd_client *conn(const char *rundir)
{
        ipcd_client *c = NULL;
        int r = ipcd_connect_at(rundir, NULL, &c);

        if (r < 0)
                die("connect", r);
        return c;
}

static int do_pub(const char *rundir, const char *topic, long n, size_t size)
{
        ipcd_client *c = conn(rundir);
        char *buf = calloc(1, size + 32);

        for (long i = 0; i < n; i++) {
                int len = snprintf(buf, 32, "m%ld", i);
                int r = ipcd_publish(c, topic, 100 + i % 7, buf, size > (size_t)len ? size : (size_t)len + 1, 0);

                if (r < 0)
                        die("publish", r);
        }
        free(buf);
        ipcd_close(c);
        return 0;
}

/* One received message against what the publisher sent: its index, or -1. */
static long check_one(const ipcd_msg *m, const char *host)
{
        ipcd_origin o;
        long i;
        char *end;

        if (!(m->flags & IPCD_MSG_REMOTE)) {
                fprintf(stderr, "test-bridge: a message without IPCD_MSG_REMOTE\n");
                return -1;
        }
        if (ipcd_msg_origin(m, &o) < 0 || strcmp(o.host, host) != 0 || o.uid != 0 ||
            o.pid <= 0 || o.sender_id == 0 || o.bridge_id == 0) {
                fprintf(stderr, "test-bridge: bad origin (host \"%s\" uid %u pid %d)\n",
                        o.host, o.uid, o.pid);
                return -1;
        }
        if (m->len < 2 || ((const char *)m->data)[0] != 'm' ||
            !memchr(m->data, '\0', m->len))
                return -1;
        i = strtol((const char *)m->data + 1, &end, 10);
        if (*end || i < 0 || m->type != 100 + i % 7) {
                fprintf(stderr, "test-bridge: type %ld for message %ld\n", m->type, i);
                return -1;
        }
        return i;
}

static int do_sub(char **a)
{
        ipcd_client *c = conn(a[0]);
        long n = atol(a[2]), got = 0, last = -1, idle = atol(a[6]), dups = 0, late = 0;
        /* exact: each once, in order; once: each once, order counted (a
         * JetStream stream's leader change may store a resent message
         * after later ones); atleast: duplicates counted */
        bool exact = strcmp(a[4], "exact") == 0, atleast = strcmp(a[4], "atleast") == 0,
             once = strcmp(a[4], "once") == 0;
        char *seen = calloc((size_t)n + 1, 1);
        FILE *f;
        int r;

        if (!seen)
                die("calloc", -ENOMEM);
        r = ipcd_subscribe(c, a[1]);
        if (r < 0)
                die("subscribe", r);
        f = fopen(a[5], "w");
        if (f)
                fclose(f);
        while (got < n) {
                ipcd_msg m;
                long i;

                r = ipcd_recv(c, &m, 0, (int)idle);
                if (r == -ETIMEDOUT)
                        break;
                if (r < 0)
                        die("recv", r);
                if (m.flags & IPCD_MSG_NOTICE) {
                        ipcd_msg_release(c, &m);
                        continue;
                }
                i = check_one(&m, a[3]);
                ipcd_msg_release(c, &m);
                if (i < 0 || i >= n)
                        return 1;
                if (atleast && seen[i]) {
                        dups++; /* a redelivery */
                        continue;
                }
                if (once && seen[i]) {
                        fprintf(stderr, "test-bridge: message %ld twice\n", i);
                        return 1;
                }
                if (once && i < last)
                        late++;
                seen[i] = 1;
                if (i <= last && !atleast && !once) {
                        fprintf(stderr, "test-bridge: message %ld after %ld: order/duplicate\n",
                                i, last);
                        return 1;
                }
                if (i > last)
                        last = i;
                got++;
        }
        if (atleast)
                printf("received %ld lost %ld duplicates %ld\n", got, n - got, dups);
        else if (once)
                printf("received %ld lost %ld duplicates 0 out of order %ld\n", got, n - got,
                       late);
        else
                printf("received %ld lost %ld\n", got, n - got);
        ipcd_close(c);
        free(seen);
        return (exact || atleast || once) && got != n ? 1 : 0;
}

static int do_raw(const char *rundir, const char *topic)
{
        ipcd_client *c = conn(rundir);
        ipcd_origin o = { .magic = IPCD_ORIGIN_MAGIC };
        int r = ipcd_publish(c, topic, 1, &o, sizeof(o), IPCD_REMOTE | IPCD_ACK);

        ipcd_close(c);
        printf("remote publish: %d\n", r);
        return r == -EACCES ? 0 : 1;
}

static int do_callee(const char *rundir, const char *name, const char *ready)
{
        ipcd_client *c = NULL;
        int r = ipcd_connect_at(rundir, name, &c);
        bool dying = false, sent = false;
        FILE *f;

        if (r < 0)
                die("connect callee", r);
        f = fopen(ready, "w");
        if (f)
                fclose(f);
        for (;;) {
                ipcd_msg m;
                char out[600];

                r = ipcd_recv(c, &m, 0, 120 * 1000); /* hang guard */
                if (r < 0)
                        die("callee recv", r);
                if (m.flags & IPCD_MSG_NOTICE) {
                        ipcd_msg_release(c, &m);
                        continue;
                }
                if (!(m.flags & IPCD_MSG_REQUEST)) {
                        printf("send %ld %.*s\n", m.type, (int)m.len, (const char *)m.data);
                        fflush(stdout);
                        sent = true;
                        if (dying)
                                _exit(0);
                } else if (m.type == 10 && m.len < 500) {
                        int n = snprintf(out, sizeof(out), "re:%.*s", (int)m.len,
                                         (const char *)m.data);
                        r = ipcd_reply(c, &m, 11, out, (size_t)n);
                        if (r < 0)
                                die("reply", r);
                } else if (m.type == 30) {
                        /* a call may overtake the send before it through
                         * the bridge: die once both came */
                        if (sent)
                                _exit(0);
                        dying = true;
                }
                else if (m.type == 50) {
                        /* a verdict only a bridge may give: for anyone else
                         * ipcd drops it and the call stays pending */
                        (void)ipcd_reply_error(c, &m, -ENOENT);
                        r = ipcd_reply(c, &m, 11, "late", 4);
                        if (r < 0)
                                die("reply", r);
                }
                ipcd_msg_release(c, &m);
        }
}

static int expect_call(ipcd_client *c, const char *name, long type, int timeout, int want)
{
        ipcd_msg m;
        int r = ipcd_call(c, name, type, "x", 1, &m, timeout);

        if (r == 0)
                ipcd_msg_release(c, &m);
        if (r != want) {
                fprintf(stderr, "test-bridge: call type %ld to %s: %s (expected %s)\n", type,
                        name, strerror(-r), strerror(-want));
                return 1;
        }
        return 0;
}

static int do_caller(const char *rundir, const char *name, long n)
{
        ipcd_client *c = conn(rundir);
        char req[32], want[40];

        for (long i = 0; i < n; i++) {
                ipcd_msg m;
                int len = snprintf(req, sizeof(req), "c%ld", i), r;

                snprintf(want, sizeof(want), "re:c%ld", i);
                r = ipcd_call(c, name, 10, req, (size_t)len, &m, 30000);
                if (r < 0)
                        die("call", r);
                if (m.type != 11 || m.len != strlen(want) || memcmp(m.data, want, m.len) != 0) {
                        fprintf(stderr, "test-bridge: reply %ld: type %ld \"%.*s\"\n", i, m.type,
                                (int)m.len, (const char *)m.data);
                        return 1;
                }
                ipcd_msg_release(c, &m);
        }
        if (expect_call(c, name, 20, 500, -ETIMEDOUT))
                return 1;
        if (ipcd_send(c, name, 40, "hello", 5, 0) < 0)
                return 1;
        if (expect_call(c, name, 30, 30000, -ECONNRESET))
                return 1;
        if (expect_call(c, name, 10, 30000, -ENOENT))
                return 1;
        printf("calls %ld replies ok; timeout, dead callee, no callee as locally\n", n);
        ipcd_close(c);
        return 0;
}

static int do_latecall(const char *rundir, const char *name)
{
        ipcd_client *c = conn(rundir);
        ipcd_msg m;
        int r = ipcd_call(c, name, 50, "x", 1, &m, 30000);

        if (r < 0)
                die("latecall", r);
        r = m.type == 11 && m.len == 4 && memcmp(m.data, "late", 4) == 0 ? 0 : 1;
        ipcd_msg_release(c, &m);
        ipcd_close(c);
        return r;
}

static int do_nocall(const char *rundir, const char *name)
{
        ipcd_client *c = conn(rundir);
        int r = expect_call(c, name, 10, 30000, -ENOENT);

        ipcd_close(c);
        return r;
}

int main(int argc, char **argv)
{
        if (argc >= 5 && strcmp(argv[1], "pub") == 0)
                return do_pub(argv[2], argv[3], atol(argv[4]), argc > 5 ? (size_t)atol(argv[5]) : 0);
        if (argc == 9 && strcmp(argv[1], "sub") == 0)
                return do_sub(argv + 2);
        if (argc == 4 && strcmp(argv[1], "raw") == 0)
                return do_raw(argv[2], argv[3]);
        if (argc == 5 && strcmp(argv[1], "callee") == 0)
                return do_callee(argv[2], argv[3], argv[4]);
        if (argc == 5 && strcmp(argv[1], "caller") == 0)
                return do_caller(argv[2], argv[3], atol(argv[4]));
        if (argc == 4 && strcmp(argv[1], "latecall") == 0)
                return do_latecall(argv[2], argv[3]);
        if (argc == 4 && strcmp(argv[1], "nocall") == 0)
                return do_nocall(argv[2], argv[3]);
        fprintf(stderr, "usage: test-bridge pub|sub|raw|callee|caller|nocall ...\n");
        return 2;
}
