/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-select - selective receive and per-pair order.
 *
 * Asserts: ipcd_recv's type filter works as msgrcv(2)'s: an exact type
 * takes the first message of that type and nothing else (-EAGAIN when there
 * is none, even if others wait), a negative filter takes the lowest type up
 * to |filter| first, 0 takes the oldest; within one type the order is the
 * sending order.  Then three sender processes send 4000 messages each of
 * mixed types to one receiver, faster than it reads (so ipcd's backlog and
 * the PULL path carry part of them) but within a credit window so that
 * nothing may be dropped: every message arrives, exactly once, and from
 * each sender in the order sent; status shows none dropped or queued.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

struct payload {
        uint32_t sender;
        uint32_t seq;
        int64_t type;
};

static void send_seq(ipcd_client *c, const char *dst, long type, uint32_t sender, uint32_t seq,
                     int flags)
{
        struct payload p = { .sender = sender, .seq = seq, .type = type };

        tl_send(c, dst, type, &p, sizeof(p), flags);
}

static struct payload recv_seq(ipcd_client *c, long filter, int timeout_ms, int *ret)
{
        struct payload p = { 0 };
        ipcd_msg m;
        int r;

        r = tl_recv(c, &m, filter, timeout_ms);
        *ret = r;
        if (r < 0)
                return p;
        CHECK_EQ(m.len, sizeof(p));
        memcpy(&p, m.data, sizeof(p));
        CHECK_EQ(p.type, m.type);
        ipcd_msg_release(c, &m);
        return p;
}

static void test_selective(void)
{
        static const long types[] = { 5, 3, 9, 1, 7, 3, 2, 8, 1, 5 };
        ipcd_client *s = tl_connect("sel-sender"), *r = tl_connect("sel-receiver");
        struct payload p;
        int ret;

        /* the last one with IPCD_ACK: when it returns, all are delivered */
        for (uint32_t i = 0; i < ELEMENTSOF(types); i++)
                send_seq(s, "sel-receiver", types[i], 0, i,
                         i + 1 == ELEMENTSOF(types) ? IPCD_ACK : 0);

        /* exact type: first 3, then the second 3, then none */
        p = recv_seq(r, 3, 0, &ret);
        CHECK_OK(ret);
        CHECK_EQ(p.seq, 1);
        p = recv_seq(r, 3, 0, &ret);
        CHECK_OK(ret);
        CHECK_EQ(p.seq, 5);
        recv_seq(r, 3, 0, &ret);
        CHECK_R(ret, -EAGAIN);
        /* a type nobody sent: none, though 8 messages wait */
        recv_seq(r, 4, 0, &ret);
        CHECK_R(ret, -EAGAIN);
        recv_seq(r, 6, 100, &ret);
        CHECK_R(ret, -ETIMEDOUT);

        /* lowest type up to 4: 1 (seq 3), 1 (seq 8), 2 (seq 6), then none */
        p = recv_seq(r, -4, 0, &ret);
        CHECK_OK(ret);
        CHECK_EQ(p.type, 1);
        CHECK_EQ(p.seq, 3);
        p = recv_seq(r, -4, 0, &ret);
        CHECK_OK(ret);
        CHECK_EQ(p.type, 1);
        CHECK_EQ(p.seq, 8);
        p = recv_seq(r, -4, 0, &ret);
        CHECK_OK(ret);
        CHECK_EQ(p.type, 2);
        CHECK_EQ(p.seq, 6);
        recv_seq(r, -4, 0, &ret);
        CHECK_R(ret, -EAGAIN);

        /* lowest of all up to the maximum: 5 (seq 0) */
        p = recv_seq(r, -IPCD_TYPE_MAX, 0, &ret);
        CHECK_OK(ret);
        CHECK_EQ(p.seq, 0);

        /* any: the rest, oldest first: 9, 7, 8, 5 */
        {
                static const uint32_t want[] = { 2, 4, 7, 9 };

                for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                        p = recv_seq(r, 0, 0, &ret);
                        CHECK_OK(ret);
                        CHECK_MSG(p.seq == want[i], "filter 0: got seq %u (type %lld), want %u",
                                  p.seq, (long long)p.type, want[i]);
                }
        }
        tl_expect_empty(r);

        /* within one type the order holds: 100 messages of 5 types, read
         * type by type (a batch of mixed types must be split right) */
        for (uint32_t i = 0; i < 100; i++)
                send_seq(s, "sel-receiver", 1 + i % 5, 0, i, i == 99 ? IPCD_ACK : 0);
        for (long t = 5; t >= 1; t--) {
                uint32_t n = 0, last = 0;

                for (;;) {
                        p = recv_seq(r, t, 0, &ret);
                        if (ret == -EAGAIN)
                                break;
                        CHECK_OK(ret);
                        CHECK_EQ(p.type, t);
                        CHECK_MSG(n == 0 || p.seq > last, "type %ld: seq %u after %u", t, p.seq,
                                  last);
                        last = p.seq;
                        n++;
                }
                CHECK_EQ(n, 20);
        }

        /* negative filter over the same mix: all 1s, then 2s, then 3s in
         * order; then filter 0 gives 4s and 5s interleaved as sent */
        for (uint32_t i = 0; i < 100; i++)
                send_seq(s, "sel-receiver", 1 + i % 5, 0, i, i == 99 ? IPCD_ACK : 0);
        {
                long last_type = 0;
                uint32_t last_seq = 0, n = 0;

                for (;;) {
                        p = recv_seq(r, -3, 0, &ret);
                        if (ret == -EAGAIN)
                                break;
                        CHECK_OK(ret);
                        CHECK(p.type <= 3);
                        CHECK_MSG(p.type > last_type || (p.type == last_type && p.seq > last_seq),
                                  "filter -3: type %lld seq %u after type %ld seq %u",
                                  (long long)p.type, p.seq, last_type, last_seq);
                        last_type = p.type;
                        last_seq = p.seq;
                        n++;
                }
                CHECK_EQ(n, 60);
                n = 0;
                for (;;) {
                        p = recv_seq(r, 0, 0, &ret);
                        if (ret == -EAGAIN)
                                break;
                        CHECK_OK(ret);
                        CHECK(p.type >= 4);
                        CHECK_MSG(n == 0 || p.seq > last_seq, "filter 0: seq %u after %u", p.seq,
                                  last_seq);
                        last_seq = p.seq;
                        n++;
                }
                CHECK_EQ(n, 40);
        }
        ipcd_close(s);
        ipcd_close(r);
}

#define N_SENDERS 3
#define N_MSGS 4000
#define WINDOW 500 /* messages a sender may have in flight */
#define CREDIT_TYPE 100

static void sender_process(uint32_t idx)
{
        char name[32];
        ipcd_client *c;

        snprintf(name, sizeof(name), "order-s%u", idx);
        c = tl_connect(name);
        /* tell the receiver we exist */
        send_seq(c, "order-r", CREDIT_TYPE, idx, 0, IPCD_ACK);
        for (uint32_t seq = 0; seq < N_MSGS; seq++) {
                if (seq > 0 && seq % WINDOW == 0) {
                        /* wait for the receiver's credit for the last window */
                        ipcd_msg m;

                        CHECK_OK(tl_recv(c, &m, CREDIT_TYPE, 60000));
                        ipcd_msg_release(c, &m);
                }
                /* mixed types, 1..7 */
                send_seq(c, "order-r", 1 + (seq * 7919 + idx) % 7, idx, seq, 0);
        }
        ipcd_close(c);
        _exit(0);
}

static void test_order(void)
{
        ipcd_client *r = tl_connect("order-r");
        pid_t pids[N_SENDERS];
        uint32_t next[N_SENDERS] = { 0 };
        unsigned total = 0, hello = 0;
        struct tl_status st;
        const struct wire_status_client *sc;
        int ret;

        for (uint32_t i = 0; i < N_SENDERS; i++) {
                pids[i] = fork();
                CHECK(pids[i] >= 0);
                if (pids[i] == 0)
                        sender_process(i);
        }

        while (total < N_SENDERS * N_MSGS) {
                struct payload p = recv_seq(r, 0, 60000, &ret);

                CHECK_MSG(ret >= 0, "after %u messages: ipcd_recv: %d (%s)", total, ret,
                          tl_errname(ret));
                CHECK(p.sender < N_SENDERS);
                if (p.type == CREDIT_TYPE) {
                        hello++;
                        continue;
                }
                CHECK_MSG(p.seq == next[p.sender],
                          "sender %u: got seq %u, expected %u (order broken or message lost)",
                          p.sender, p.seq, next[p.sender]);
                CHECK_EQ(p.type, 1 + (p.seq * 7919 + p.sender) % 7);
                next[p.sender]++;
                total++;
                if (next[p.sender] % WINDOW == 0 && next[p.sender] < N_MSGS) {
                        char name[32];

                        snprintf(name, sizeof(name), "order-s%u", p.sender);
                        send_seq(r, name, CREDIT_TYPE, 0, next[p.sender], 0);
                }
        }
        CHECK_EQ(hello, N_SENDERS);
        for (int i = 0; i < N_SENDERS; i++) {
                int status;

                CHECK(waitpid(pids[i], &status, 0) == pids[i]);
                CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "sender %d failed (status %#x)", i, status);
        }
        tl_expect_empty(r);

        tl_status(&st);
        sc = tl_status_client(&st, "order-r");
        CHECK(sc);
        CHECK_EQ(sc->dropped, 0);
        CHECK_EQ(sc->queued, 0);
        CHECK_EQ(sc->received, N_SENDERS * (N_MSGS + 1));
        tl_status_free(&st);
        ipcd_close(r);
}

int main(int argc, char **argv)
{
        tl_init(argc, argv);
        test_selective();
        test_order();
        return 0;
}
