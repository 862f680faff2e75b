/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-overflow - a receiver that does not keep up and chose to drop
 * (ipcd_set_overflow drop-new: without that choice unicast is lossless,
 * see test-flow); test-overflow.sh sets queue_bytes = 16384 and
 * backlog_bytes = 4096, so the backlog fills after a few dozen messages.
 *
 * Asserts: the sender is never blocked or failed by a full destination
 * (every ipcd_send returns 0); nothing accepted is lost silently: what the
 * receiver finally reads plus what status counts as dropped for it equals
 * what the sender sent, and the receiver's queued count returns to 0; the
 * messages it reads are in the order sent (drops only leave gaps); the
 * daemon's dropped counter includes these drops.  With IPCD_ACK the sender
 * gets 0 while there is room and -EAGAIN once the backlog limit is hit,
 * every acknowledged message arrives and the refused one does not.
 * With IPCD_NOTIFY_DROPS and a receiver that reads slowly (so ipcd's
 * backlog retries move one message at a time into a queue that is full
 * again at once), the notice still arrives once the backlog is empty: what
 * arrives plus what the notices count is what was sent.
 */
#include <unistd.h>

#include "tlib.h"

#define N 3000
#define PAYLOAD 100

struct payload {
        uint32_t seq;
        uint8_t fill[PAYLOAD - 4];
};

static const struct wire_status_client *client(struct tl_status *st, const char *name)
{
        const struct wire_status_client *c = tl_status_client(st, name);

        CHECK_MSG(c, "%s missing from status", name);
        return c;
}

/* Read exactly n messages (hang guard per message), checking the order. */
static void drain(ipcd_client *sink, unsigned n, uint32_t *last_seq, bool *first)
{
        for (unsigned i = 0; i < n; i++) {
                struct payload p;
                ipcd_msg m;
                int r;

                r = tl_recv(sink, &m, 0, 30000);
                CHECK_MSG(r >= 0, "draining: message %u of %u: %d (%s)", i + 1, n, r,
                          tl_errname(r));
                CHECK_EQ(m.len, sizeof(p));
                CHECK_STREQ(m.sender, "src");
                memcpy(&p, m.data, sizeof(p));
                ipcd_msg_release(sink, &m);
                CHECK_MSG(*first || p.seq > *last_seq, "seq %u after %u: order broken", p.seq,
                          *last_seq);
                *first = false;
                *last_seq = p.seq;
        }
}

/* sink2 notifies drops; read one message at a time with a pause longer
 * than ipcd's backlog retry (10 ms), so that each retry fills the queue
 * again and the backlog empties into a full queue: the notice that
 * follows must wait its turn, not be lost. */
static void notified_slow_reader(ipcd_client *src)
{
        ipcd_client *sink = tl_connect("sink2");
        struct payload p;
        uint64_t got = 0, dropped = 0, notices = 0;
        uint32_t last = 0;
        bool first = true;

        CHECK_EQ(ipcd_set_overflow(sink, IPCD_OVERFLOW_DROP_NEW, 0, IPCD_NOTIFY_DROPS), 0);
        memset(&p, 0xcd, sizeof(p));
        for (uint32_t i = 0; i < N; i++) {
                p.seq = i;
                tl_send(src, "sink2", 1, &p, sizeof(p), 0);
        }
        tl_sync(src);
        while (got + dropped < N) {
                ipcd_msg m;
                int r;

                memset(&m, 0, sizeof(m));
                r = ipcd_recv(sink, &m, 0, 30000);
                CHECK_MSG(r >= 0, "got %llu + dropped %llu of %d, then %d (%s): a notice lost?",
                          (unsigned long long)got, (unsigned long long)dropped, N, r,
                          tl_errname(r));
                if (m.flags & IPCD_MSG_NOTICE) {
                        CHECK_EQ(m.type, IPCD_NOTICE_DROPPED);
                        dropped += m.id;
                        notices++;
                } else {
                        memcpy(&p, m.data, sizeof(p));
                        CHECK_MSG(first || p.seq > last, "seq %u after %u", p.seq, last);
                        first = false;
                        last = p.seq;
                        got++;
                        if (got < 400)
                                usleep(25 * 1000);
                }
                ipcd_msg_release(sink, &m);
        }
        tl_log("phase 3: %llu arrived, %llu dropped in %llu notices",
               (unsigned long long)got, (unsigned long long)dropped, (unsigned long long)notices);
        CHECK(notices >= 1 && dropped > 0);
        CHECK_EQ(got + dropped, N);
        tl_expect_empty(sink);
        ipcd_close(sink);
}

int main(int argc, char **argv)
{
        ipcd_client *src, *sink;
        struct tl_status st;
        const struct wire_status_client *ss, *sk;
        struct payload p;
        uint64_t dropped, received, queued, daemon_dropped_before;
        uint32_t last_seq = 0;
        bool first = true;
        unsigned acked = 0;
        int r;

        tl_init(argc, argv);
        src = tl_connect("src");
        sink = tl_connect("sink");
        /* Dropping is its choice, not the default. */
        CHECK_EQ(ipcd_set_overflow(sink, IPCD_OVERFLOW_DROP_NEW, 0, 0), 0);
        memset(&p, 0xab, sizeof(p));

        tl_status(&st);
        daemon_dropped_before = st.daemon.dropped;
        tl_status_free(&st);

        /* phase 1: N messages without flags; the sink does not read */
        for (uint32_t i = 0; i < N; i++) {
                p.seq = i;
                tl_send(src, "sink", 1, &p, sizeof(p), 0);
        }
        tl_sync(src); /* ipcd has routed (or dropped) all N */

        tl_status(&st);
        tl_status_print(&st, stderr);
        ss = client(&st, "src");
        sk = client(&st, "sink");
        CHECK_EQ(ss->sent, N + 1); /* + the sync message to itself */
        CHECK_EQ(ss->dropped, 0);
        dropped = sk->dropped;
        received = sk->received;
        queued = sk->queued;
        CHECK_MSG(dropped > 0, "no drop with %d x %d bytes into a 16 KiB queue + 4 KiB backlog",
                  N, PAYLOAD);
        CHECK_MSG(dropped < N, "everything dropped");
        CHECK_MSG(queued > 0, "sink has nothing queued");
        CHECK_MSG(received + dropped <= N, "received %llu + dropped %llu > sent %d",
                  (unsigned long long)received, (unsigned long long)dropped, N);
        /* what is neither delivered nor dropped waits in ipcd, and queued
         * counts at least that */
        CHECK_MSG(queued >= N - dropped - received,
                  "queued %llu < %llu messages neither delivered nor dropped",
                  (unsigned long long)queued, (unsigned long long)(N - dropped - received));
        if (queued != N - dropped)
                tl_log("note: status says queued=%llu while %llu messages wait for the sink "
                       "(in ipcd or in its queue)",
                       (unsigned long long)queued, (unsigned long long)(N - dropped));
        CHECK(st.daemon.dropped >= daemon_dropped_before + dropped);
        tl_status_free(&st);

        /* the sink reads all that was not dropped: exactly N - dropped */
        drain(sink, (unsigned)(N - dropped), &last_seq, &first);
        tl_expect_empty(sink);

        tl_status(&st);
        sk = client(&st, "sink");
        CHECK_EQ(sk->dropped, dropped);
        CHECK_EQ(sk->queued, 0);
        CHECK_EQ(sk->received + sk->dropped, N);
        CHECK_EQ(sk->backlog_bytes, 0);
        tl_status_free(&st);

        /* phase 2: with IPCD_ACK, 0 until the limit, then -EAGAIN */
        for (uint32_t i = 0;; i++) {
                CHECK_MSG(i < 100000, "never refused after %u acknowledged messages", i);
                p.seq = N + i;
                r = ipcd_send(src, "sink", 1, &p, sizeof(p), IPCD_ACK);
                if (r == -EAGAIN)
                        break;
                CHECK_MSG(r == 0, "ACK send %u: %d (%s)", i, r, tl_errname(r));
                acked++;
        }
        tl_log("phase 2: %u messages acknowledged before -EAGAIN", acked);
        CHECK(acked > 0);
        /* the refused one was dropped and counted, and nothing else */
        tl_status(&st);
        sk = client(&st, "sink");
        CHECK_EQ(sk->dropped, dropped + 1);
        tl_status_free(&st);
        /* every acknowledged one arrives, in order, and no more */
        drain(sink, acked, &last_seq, &first);
        CHECK_EQ(last_seq, N + acked - 1);
        tl_expect_empty(sink);

        tl_status(&st);
        sk = client(&st, "sink");
        CHECK_EQ(sk->queued, 0);
        CHECK_EQ(sk->received + sk->dropped, N + acked + 1);
        tl_status_free(&st);

        /* phase 3: notices, read slowly (a lost notice hangs the loop) */
        notified_slow_reader(src);

        /* the sink still works normally */
        tl_send(src, "sink", 2, "after", 5, IPCD_ACK);
        tl_expect(sink, 0, 2, "after", 5, "src");
        ipcd_close(src);
        ipcd_close(sink);
        return 0;
}
