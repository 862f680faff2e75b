/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-flow-budget - flow control at scale: ipcd's memory limits never
 * drop what a sender's window let through, and what one client may have
 * in flight in all is bounded (DESIGN "Flow control").
 *
 * The config (test-flow-budget.sh) makes the windows small and ipcd's
 * budget smaller than their sum: backlog_bytes = 64 KiB (the window),
 * backlog_total_bytes = 256 KiB, max_message_size = 4 KiB; the client
 * budget (flow_client_bytes) is its default, four windows.
 *
 * Asserts:
 *  - many senders: 12 senders fill their windows to one receiver L that
 *    does not read (each until a send times out): together they have more
 *    than backlog_total_bytes in ipcd, and none of it is dropped: L then
 *    reads every accepted message, in order per sender, no notice, its
 *    dropped is 0; its backlog stayed within the senders' windows;
 *  - one sender, many stuck receivers: S fills windows to L1..L8 (none
 *    reads): after four windows (and what their own queues took) its
 *    sends to the next ones wait (its client budget), so ipcd holds at
 *    most four windows and one message of S's; once L1 reads, S's sends to a reading F go again; then every
 *    L reads all that S sent it, in order, none dropped;
 *  - hostile: a raw sender that ignores every credit floods 8 stuck
 *    receivers: ipcd holds at most twice its client budget and one
 *    message of its sends (less than the 8 pair bounds together), the
 *    excess is dropped and counted as "ignored back pressure", and an
 *    honest stream between two others goes on;
 *  - forged credit: a client writes credit records into its own queue
 *    (its library then believes it has window it was never given) and
 *    streams to a stuck receiver: ipcd holds at most twice the window and
 *    one message for that receiver, drops the rest as "ignored back
 *    pressure", and another pair is untouched.
 */
#include <pthread.h>
#include <stdlib.h>

#include "tlib.h"

#define WINDOW (64 * 1024)
#define TOTAL (256 * 1024)
#define CLIENT_BUDGET (4 * WINDOW)
#define LEN 1024
#define NSEND 12
#define NDST 8

struct seqmsg {
        uint32_t from;
        uint32_t seq;
};

static uint64_t cost(size_t len)
{
        return wire_flow_cost(len);
}

/* What status says of name: its backlog, and its dropped. */
static uint64_t backlog_of(const char *name, uint64_t *dropped)
{
        struct tl_status st;
        const struct wire_status_client *c;
        uint64_t b;

        tl_status(&st);
        c = tl_status_client(&st, name);
        CHECK_MSG(c, "%s not in status", name);
        b = c->backlog_bytes;
        if (dropped)
                *dropped = c->dropped;
        tl_status_free(&st);
        return b;
}

/* Send from s (number from) to dst until a send waits past a short
 * timeout; returns how many were accepted (seq0 on). */
static uint32_t fill(ipcd_client *s, uint32_t from, const char *dst, uint32_t seq0)
{
        uint8_t buf[LEN] = {0};
        uint32_t i;
        int r = 0;

        CHECK_OK(ipcd_set_send_timeout(s, 100));
        for (i = seq0; i < seq0 + 100000; i++) {
                struct seqmsg h = {from, i};

                memcpy(buf, &h, sizeof(h));
                r = ipcd_send(s, dst, 1, buf, sizeof(buf), 0);
                if (r == -ETIMEDOUT)
                        break;
                CHECK_R(r, 0);
        }
        CHECK_MSG(r == -ETIMEDOUT, "no back pressure after %u messages", i - seq0);
        CHECK_OK(ipcd_set_send_timeout(s, -1));
        return i - seq0;
}

/* Read n messages from c: per sender in order (next[from] is the next
 * sequence number expected), no notice. */
static void drain(ipcd_client *c, unsigned n, uint32_t *next, unsigned nfrom)
{
        for (unsigned i = 0; i < n; i++) {
                ipcd_msg m;
                struct seqmsg h;

                CHECK_OK(tl_recv(c, &m, 0, 30000));
                CHECK_MSG(!(m.flags & IPCD_MSG_NOTICE), "a notice: %.*s", (int)m.len,
                          (const char *)m.data);
                CHECK_EQ(m.len, LEN);
                memcpy(&h, m.data, sizeof(h));
                CHECK(h.from < nfrom);
                CHECK_MSG(h.seq == next[h.from], "from %u: %u arrived, %u expected", h.from,
                          h.seq, next[h.from]);
                next[h.from]++;
                ipcd_msg_release(c, &m);
        }
        tl_expect_empty(c);
}

static void test_many_senders(void)
{
        ipcd_client *s[NSEND], *l = tl_connect("fb-l");
        uint32_t got[NSEND], next[NSEND] = {0};
        uint64_t sum = 0, backlog, dropped;
        unsigned n = 0;

        for (unsigned i = 0; i < NSEND; i++) {
                char name[32];

                snprintf(name, sizeof(name), "fb-s%u", i);
                s[i] = tl_connect(name);
                got[i] = fill(s[i], i, "fb-l", 0);
                n += got[i];
                sum += got[i] * cost(LEN);
        }
        backlog = backlog_of("fb-l", &dropped);
        CHECK_MSG(sum > TOTAL, "the senders' windows (%llu) do not pass the budget",
                  (unsigned long long)sum);
        CHECK_EQ(dropped, 0);
        /* Each sender: its window and one message. */
        CHECK_MSG(backlog <= NSEND * (WINDOW + cost(LEN)), "backlog %llu",
                  (unsigned long long)backlog);
        drain(l, n, next, NSEND);
        for (unsigned i = 0; i < NSEND; i++) {
                CHECK_EQ(next[i], got[i]);
                ipcd_close(s[i]);
        }
        CHECK_EQ(backlog_of("fb-l", &dropped), 0);
        CHECK_EQ(dropped, 0);
        tl_log("many senders: %u messages (%llu bytes in flight, budget %u) to a stuck "
               "receiver: none dropped, all in order", n, (unsigned long long)sum, TOTAL);
        ipcd_close(l);
}

static void test_client_budget(void)
{
        ipcd_client *s = tl_connect("fb-s"), *l[NDST], *f = tl_connect("fb-f");
        uint32_t got[NDST], next[1];
        uint64_t held = 0, sum = 0, dropped;
        unsigned filled = 0;
        uint8_t buf[LEN] = {0};

        for (unsigned i = 0; i < NDST; i++) {
                char name[32];

                snprintf(name, sizeof(name), "fb-l%u", i);
                l[i] = tl_connect(name);
                got[i] = fill(s, 0, name, 0);
                sum += got[i] * cost(LEN);
                filled += got[i] > 0;
                held += backlog_of(name, &dropped);
                CHECK_EQ(dropped, 0);
        }
        /* Four windows, each of whole messages (what went into a
         * receiver's own queue left ipcd: it came back as credit). */
        CHECK_MSG(filled >= 3 && filled < NDST, "%u receivers got something", filled);
        CHECK_MSG(held <= CLIENT_BUDGET + cost(LEN), "ipcd holds %llu of S's",
                  (unsigned long long)held);
        /* Its budget is spent: a send to a reading receiver waits too. */
        CHECK_OK(ipcd_set_send_timeout(s, 100));
        CHECK_R(ipcd_send(s, "fb-f", 1, buf, sizeof(buf), 0), -ETIMEDOUT);
        CHECK_OK(ipcd_set_send_timeout(s, -1));
        /* L0 reads: S's budget comes back. */
        next[0] = 0;
        drain(l[0], got[0], next, 1);
        CHECK_OK(ipcd_set_send_timeout(s, 5000));
        CHECK_R(ipcd_send(s, "fb-f", 1, buf, sizeof(buf), 0), 0);
        {
                ipcd_msg m;

                CHECK_OK(tl_recv(f, &m, 0, 5000));
                ipcd_msg_release(f, &m);
        }
        for (unsigned i = 1; i < NDST; i++) {
                char name[32];

                snprintf(name, sizeof(name), "fb-l%u", i);
                next[0] = 0;
                drain(l[i], got[i], next, 1);
                CHECK_EQ(backlog_of(name, &dropped), 0);
                CHECK_EQ(dropped, 0);
        }
        tl_log("client budget: S filled %u of %u stuck receivers (%llu bytes, ipcd held "
               "%llu): then it waited, also for a reading one; all arrived", filled, NDST,
               (unsigned long long)sum, (unsigned long long)held);
        for (unsigned i = 0; i < NDST; i++)
                ipcd_close(l[i]);
        ipcd_close(s);
        ipcd_close(f);
}

static void test_hostile(void)
{
        ipcd_client *l[NDST], *a = tl_connect("fb-ha"), *b = tl_connect("fb-hb");
        struct tl_raw raw;
        uint8_t mtext[8192], payload[LEN] = {0};
        uint64_t held = 0, ignored = 0;

        CHECK_OK(tl_raw_register(&raw, "fb-raw", 0, 5000));
        for (unsigned i = 0; i < NDST; i++) {
                char name[32];

                snprintf(name, sizeof(name), "fb-hl%u", i);
                l[i] = tl_connect(name);
        }
        /* Three windows to each, ignoring every credit: past the pairs'
         * bounds (two windows each) and past twice the client budget. */
        for (unsigned k = 0; k < 3 * WINDOW / (7 * cost(LEN)) + 1; k++)
                for (unsigned i = 0; i < NDST; i++) {
                        char name[32];
                        size_t off = 0;
                        int r;

                        snprintf(name, sizeof(name), "fb-hl%u", i);
                        for (unsigned j = 0; j < 7; j++) {
                                struct wire_in h;

                                tl_raw_header(&raw, &h, WIRE_OP_SEND, name);
                                h.type = 1;
                                h.len = LEN;
                                CHECK(wire_in_put(mtext, sizeof(mtext), &off, &h, name,
                                                  payload) == 0);
                        }
                        do
                                r = tl_msgsnd(raw.reg.inbound_qid, WIRE_MTYPE_IN, mtext, off);
                        while (r == -EAGAIN);
                        CHECK_R(r, 0);
                }
        /* another pair's stream goes on */
        for (unsigned i = 0; i < 1000; i++) {
                ipcd_msg m;

                CHECK_R(ipcd_send(a, "fb-hb", 1, payload, sizeof(payload), 0), 0);
                CHECK_OK(tl_recv(b, &m, 0, 30000));
                ipcd_msg_release(b, &m);
        }
        tl_sync(a);
        {
                struct tl_status st;
                const struct wire_status_client *rc;

                tl_status(&st);
                for (unsigned i = 0; i < NDST; i++) {
                        char name[32];

                        snprintf(name, sizeof(name), "fb-hl%u", i);
                        rc = tl_status_client(&st, name);
                        CHECK(rc);
                        held += rc->backlog_bytes;
                        ignored += rc->dropped_by[WIRE_DROP_IGNORED];
                        CHECK_EQ(rc->dropped, rc->dropped_by[WIRE_DROP_IGNORED]);
                }
                rc = tl_status_client(&st, "fb-raw");
                CHECK(rc);
                CHECK_EQ(rc->dropped_ignored, ignored);
                tl_status_free(&st);
        }
        CHECK_MSG(held <= 2 * CLIENT_BUDGET + 4096 + 64, "ipcd holds %llu of the raw sender's",
                  (unsigned long long)held);
        CHECK_MSG(ignored > 0, "no drop counted as ignored back pressure");
        tl_log("hostile: a raw sender ignoring credits to %u receivers: ipcd holds %llu of it, "
               "%llu dropped as ignored back pressure; others unaffected", NDST,
               (unsigned long long)held, (unsigned long long)ignored);
        tl_raw_close(&raw);
        for (unsigned i = 0; i < NDST; i++)
                ipcd_close(l[i]);
        ipcd_close(a);
        ipcd_close(b);
}

static void test_forged_credit(void)
{
        ipcd_client *h = tl_connect("fb-fh"), *l = tl_connect("fb-fl");
        ipcd_client *a = tl_connect("fb-fa"), *b = tl_connect("fb-fb");
        uint8_t buf[LEN] = {0}, mtext[256];
        struct tl_status st;
        const struct wire_status_client *hc, *lc;
        unsigned forged = 0, accepted = 0;
        int qid;

        tl_status(&st);
        hc = tl_status_client(&st, "fb-fh");
        CHECK(hc);
        qid = hc->qid;
        tl_status_free(&st);
        /* A forged credit "giving back" a whole window every 30 sends:
         * its library finds one whenever it would wait. */
        CHECK_OK(ipcd_set_send_timeout(h, 100));
        for (unsigned i = 0; i < 20 * WINDOW / LEN; i++) {
                int r;

                if (i % 30 == 0) {
                        struct wire_out o = {.kind = WIRE_OUT_CREDIT, .name_len = 5,
                                             .cookie = WINDOW};
                        size_t off = 0;

                        CHECK(wire_out_put(mtext, sizeof(mtext), &off, &o, "fb-fl", NULL,
                                           NULL) == 0);
                        CHECK_R(tl_msgsnd(qid, WIRE_TYPE_CREDIT, mtext, off), 0);
                        forged++;
                }
                r = ipcd_send(h, "fb-fl", 1, buf, sizeof(buf), 0);
                if (r == -ETIMEDOUT)
                        break;
                CHECK_R(r, 0);
                accepted++;
        }
        for (unsigned i = 0; i < 1000; i++) {
                ipcd_msg m;

                CHECK_R(ipcd_send(a, "fb-fb", 1, buf, sizeof(buf), 0), 0);
                CHECK_OK(tl_recv(b, &m, 0, 30000));
                ipcd_msg_release(b, &m);
        }
        tl_sync(h);
        tl_status(&st);
        lc = tl_status_client(&st, "fb-fl");
        hc = tl_status_client(&st, "fb-fh");
        CHECK(lc && hc);
        CHECK_MSG(lc->backlog_bytes <= 2 * WINDOW + 4096 + 64, "backlog %llu",
                  (unsigned long long)lc->backlog_bytes);
        CHECK_MSG(lc->dropped_by[WIRE_DROP_IGNORED] > 0, "%u accepted, none dropped", accepted);
        CHECK_EQ(lc->dropped, lc->dropped_by[WIRE_DROP_IGNORED]);
        CHECK_EQ(hc->dropped_ignored, lc->dropped_by[WIRE_DROP_IGNORED]);
        tl_log("forged credit: %u forged records, %u sends accepted by its library, ipcd held "
               "%llu, dropped %llu as ignored back pressure; others unaffected", forged,
               accepted, (unsigned long long)lc->backlog_bytes,
               (unsigned long long)lc->dropped_by[WIRE_DROP_IGNORED]);
        tl_status_free(&st);
        ipcd_close(h);
        ipcd_close(l);
        ipcd_close(a);
        ipcd_close(b);
}

int main(int argc, char **argv)
{
        tl_init(argc, argv);
        test_many_senders();
        test_client_budget();
        test_hostile();
        test_forged_credit();
        return 0;
}
