/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-threads - one handle used by several threads at once.
 *
 * Asserts (the library is documented thread-safe): four threads sending
 * on one handle lose nothing and each thread's messages arrive in its
 * order; four threads receiving on one handle get every message exactly
 * once between them, and no later message of a sender is handed out while
 * an earlier one still waits inside the handle (5 rounds, blocking and timed
 * receives); an IPCD_ACK send by one thread gets its own outcome
 * while other threads receive on the same handle (ACKs are never handed to
 * the application).  test-threads.sh raises backlog_bytes so that no drop
 * is allowed here.
 */
#include <pthread.h>
#include <unistd.h>

#include "tlib.h"

#define N_THREADS 4
#define N_PER_THREAD 3000
#define DATA_TYPE 1
#define STOP_TYPE 2

struct payload {
        uint32_t thread;
        uint32_t seq;
};

static ipcd_client *shared_sender, *shared_receiver;

static void *send_thread(void *arg)
{
        uint32_t t = (uint32_t)(uintptr_t)arg;

        for (uint32_t seq = 0; seq < N_PER_THREAD; seq++) {
                struct payload p = { t, seq };

                /* every 100th with IPCD_ACK: its own outcome, 0 */
                tl_send(shared_sender, "thr-recv", DATA_TYPE, &p, sizeof(p),
                        seq % 100 == 99 ? IPCD_ACK : 0);
        }
        return NULL;
}

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t seen[N_THREADS][N_PER_THREAD];

struct recv_arg {
        unsigned count;
        int timeout_ms; /* -1: plain blocking msgrcv; > 0: timed wait */
};

static void *recv_thread(void *arg)
{
        struct recv_arg *a = arg;
        unsigned *count = &a->count;

        for (;;) {
                struct payload p;
                ipcd_msg m;
                int r = tl_recv(shared_receiver, &m, 0, a->timeout_ms);

                CHECK_MSG(r >= 0, "receiver thread: %d (%s)", r, tl_errname(r));
                if (m.type == STOP_TYPE) {
                        ipcd_msg_release(shared_receiver, &m);
                        return NULL;
                }
                CHECK_EQ(m.type, DATA_TYPE);
                CHECK_EQ(m.len, sizeof(p));
                memcpy(&p, m.data, sizeof(p));
                ipcd_msg_release(shared_receiver, &m);
                CHECK(p.thread < N_THREADS && p.seq < N_PER_THREAD);
                pthread_mutex_lock(&seen_lock);
                CHECK_MSG(!seen[p.thread][p.seq], "message %u/%u received twice", p.thread,
                          p.seq);
                seen[p.thread][p.seq] = 1;
                pthread_mutex_unlock(&seen_lock);
                (*count)++;
        }
}

/* Many senders on one handle, one plain receiver checking per-thread order. */
static void test_many_senders(void)
{
        pthread_t th[N_THREADS];
        uint32_t next[N_THREADS] = { 0 };
        ipcd_client *r;

        shared_sender = tl_connect("thr-send");
        r = tl_connect("thr-recv");
        for (uintptr_t i = 0; i < N_THREADS; i++)
                CHECK(pthread_create(&th[i], NULL, send_thread, (void *)i) == 0);

        for (unsigned n = 0; n < N_THREADS * N_PER_THREAD; n++) {
                struct payload p;
                ipcd_msg m;

                CHECK_OK(tl_recv(r, &m, 0, 60000));
                CHECK_EQ(m.type, DATA_TYPE);
                CHECK_STREQ(m.sender, "thr-send");
                CHECK_EQ(m.len, sizeof(p));
                memcpy(&p, m.data, sizeof(p));
                ipcd_msg_release(r, &m);
                CHECK(p.thread < N_THREADS);
                CHECK_MSG(p.seq == next[p.thread], "thread %u: seq %u, expected %u", p.thread,
                          p.seq, next[p.thread]);
                next[p.thread]++;
        }
        for (int i = 0; i < N_THREADS; i++)
                CHECK(pthread_join(th[i], NULL) == 0);
        tl_expect_empty(r);
        tl_expect_empty(shared_sender); /* no ACK leaked to the application */
        ipcd_close(shared_sender);
        ipcd_close(r);
}

/* One sender, many receiver threads on one handle: each message once. */
static void many_receivers_round(ipcd_client *s, int round)
{
        pthread_t th[N_THREADS];
        struct recv_arg args[N_THREADS];
        unsigned total = 0;

        /* even rounds: blocking receives (-1), odd rounds: timed ones */
        memset(seen, 0, sizeof(seen));
        for (int i = 0; i < N_THREADS; i++) {
                args[i] = (struct recv_arg){ .count = 0, .timeout_ms = round % 2 ? 60000 : -1 };
                CHECK(pthread_create(&th[i], NULL, recv_thread, &args[i]) == 0);
        }
        for (uint32_t t = 0; t < N_THREADS; t++)
                for (uint32_t seq = 0; seq < N_PER_THREAD; seq++) {
                        struct payload p = { t, seq };

                        tl_send(s, "thr-recv2", DATA_TYPE, &p, sizeof(p), 0);
                }
        /* one stop per receiver thread, after all data (same pair: ordered) */
        for (int i = 0; i < N_THREADS; i++)
                tl_send(s, "thr-recv2", STOP_TYPE, NULL, 0, 0);
        for (int i = 0; i < N_THREADS; i++) {
                CHECK(pthread_join(th[i], NULL) == 0);
                total += args[i].count;
        }
        if (total != N_THREADS * N_PER_THREAD) {
                /* Say whether ipcd dropped them or the library still holds
                 * them: then a later message (a STOP) was handed out before
                 * earlier ones of the same sender, i.e. order was broken. */
                struct tl_status st;
                unsigned left = 0;
                struct payload first = { 0 };

                tl_status(&st);
                tl_status_print(&st, stderr);
                tl_status_free(&st);
                for (;;) {
                        struct payload p;
                        ipcd_msg m;

                        if (tl_recv(shared_receiver, &m, 0, 0) < 0)
                                break;
                        memcpy(&p, m.data, sizeof(p));
                        if (left++ == 0)
                                first = p;
                        ipcd_msg_release(shared_receiver, &m);
                }
                CHECK_MSG(left == 0,
                          "round %d: %u of %u messages were received, and %u more (from %u/%u "
                          "on) were still in the handle after all %d later STOP messages had "
                          "been handed out: per-pair order broken with several receiving "
                          "threads (timeout %d)",
                          round, total, N_THREADS * N_PER_THREAD, left, first.thread, first.seq,
                          N_THREADS, args[0].timeout_ms);
        }
        CHECK_EQ(total, N_THREADS * N_PER_THREAD);
        for (int t = 0; t < N_THREADS; t++)
                for (int seq = 0; seq < N_PER_THREAD; seq++)
                        CHECK_MSG(seen[t][seq], "message %d/%d never received", t, seq);
        tl_expect_empty(shared_receiver);
}

/* A few rounds: the interleavings that matter are up to the scheduler. */
static void test_many_receivers(void)
{
        ipcd_client *s;

        shared_receiver = tl_connect("thr-recv2");
        s = tl_connect("thr-send2");
        for (int round = 0; round < 5; round++)
                many_receivers_round(s, round);
        ipcd_close(s);
        ipcd_close(shared_receiver);
}

int main(int argc, char **argv)
{
        tl_init(argc, argv);
        test_many_senders();
        test_many_receivers();
        return 0;
}
