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
 *                               lossy: print how many were lost.
 *   raw RUNDIR TOPIC            publish with IPCD_REMOTE without privilege:
 *                               must fail
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        long n = atol(a[2]), got = 0, last = -1, idle = atol(a[6]);
        bool exact = strcmp(a[4], "exact") == 0;
        FILE *f;
        int r;

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
                if (i < 0)
                        return 1;
                if (i <= last) {
                        fprintf(stderr, "test-bridge: message %ld after %ld: order/duplicate\n",
                                i, last);
                        return 1;
                }
                last = i;
                got++;
        }
        printf("received %ld lost %ld\n", got, n - got);
        ipcd_close(c);
        return exact && got != n ? 1 : 0;
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

int main(int argc, char **argv)
{
        if (argc >= 5 && strcmp(argv[1], "pub") == 0)
                return do_pub(argv[2], argv[3], atol(argv[4]), argc > 5 ? (size_t)atol(argv[5]) : 0);
        if (argc == 9 && strcmp(argv[1], "sub") == 0)
                return do_sub(argv + 2);
        if (argc == 4 && strcmp(argv[1], "raw") == 0)
                return do_raw(argv[2], argv[3]);
        fprintf(stderr, "usage: test-bridge pub|sub|raw ...\n");
        return 2;
}
