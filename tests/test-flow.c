/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-flow - lossless unicast by default: flow control per
 * sender->destination pair (DESIGN "Flow control"), default config.
 *
 * Asserts:
 *  - stream: a sender streams 200 000 messages (64 B and 4 KiB, with and
 *    without IPCD_MORE) to a receiver that sleeps 1 ms every 1 000: every
 *    send returns 0, all arrive in order, the receiver's dropped stays 0,
 *    and its backlog in ipcd (read from status while the stream runs)
 *    never passes the documented bound (one sender: its window and one
 *    message);
 *  - bulk: 2 000 chunks of 1 MiB (the receiver holding three) and 500 of
 *    4 MiB through the ring with ipcd_send_buf to a receiver that sleeps
 *    now and then:
 *    all arrive in order, payloads intact, nothing dropped; and 500
 *    chunks of 1 MiB published to a reliable subscriber that holds six
 *    (more than its held-bytes limit, half a lane): the same;
 *  - isolation: S sends to a stuck L until a send with a send timeout
 *    gives -ETIMEDOUT; then IPCD_NONBLOCK gives -EAGAIN and accepts
 *    nothing; S's sends to F go on (F gets all 50 000, more than a
 *    window); -ETIMEDOUT again; a blocking
 *    send to L waits until L reads, and then everything S sent L arrives,
 *    in order, none dropped;
 *  - own queue full: a sender whose own queue is full of messages it has
 *    not read streams 100 000 messages: its waits for credit move them to
 *    its pending list, all of them arrive, and it reads its own later, in
 *    order;
 *  - death: a receiver killed while its sender waits: the blocked send
 *    returns -ECONNRESET, a later send to the name gives -ENOENT;
 *  - topic: a reliable subscriber (IPCD_SUB_RELIABLE) that reads slowly
 *    gets all 20 000 publishes in order, none dropped, while a
 *    non-reliable subscriber of the same topic that never reads loses
 *    some, counted with the reason "overflow": what it finally reads plus
 *    its dropped is 20 000; status shows the reliable subscription;
 *  - kill (`test-flow kill`, with an ipcd of its own): ipcd killed with
 *    SIGKILL while a sender waits for credit: the send returns
 *    -ECONNRESET, never hangs;
 *  - hostile: a raw sender ignoring credits floods a stuck receiver:
 *    ipcd keeps that receiver's backlog within the bound of an honest
 *    sender's window (twice the window and one message), drops the excess
 *    and counts it as "ignored back pressure" (dropped_by on the receiver,
 *    dropped_ignored on the sender),
 *    and another sender's stream to another receiver is untouched.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

/* The default config: backlog_bytes 1 MiB is the window. */
#define WINDOW (1024 * 1024)

struct seqmsg {
        uint32_t seq;
        uint32_t len;
};

static uint64_t backlog_of(const char *name, uint64_t *dropped, uint64_t *ignored)
{
        struct tl_status st;
        const struct wire_status_client *c;
        uint64_t b = 0;

        tl_status(&st);
        c = tl_status_client(&st, name);
        CHECK_MSG(c, "%s not in status", name);
        b = c->backlog_bytes;
        if (dropped)
                *dropped = c->dropped;
        /* what was dropped for it as "ignored back pressure" */
        if (ignored)
                *ignored = c->dropped_by[WIRE_DROP_IGNORED];
        tl_status_free(&st);
        return b;
}

/* ------------------------------------------------------------------ */
/* stream.                                                              */

struct rx_args {
        ipcd_client *c;
        unsigned n;
        unsigned sleep_every;
        size_t len;
        bool bulk;
        unsigned hold; /* bulk: messages held before releasing */
        unsigned got;
};

static void check_bulk_payload(const ipcd_msg *m, uint32_t seq)
{
        const uint8_t *p = m->data;

        /* a word every 4 KiB, and both ends in full */
        for (size_t off = 8; off + 4 <= m->len; off += 4096) {
                uint32_t w;

                memcpy(&w, p + off, 4);
                CHECK_MSG(w == (seq ^ (uint32_t)off), "chunk %u damaged at %zu", seq, off);
        }
        for (size_t off = m->len - 64; off < m->len; off++)
                CHECK_MSG(p[off] == (uint8_t)(seq + off), "chunk %u damaged at its end", seq);
}

static void *rx_thread(void *arg)
{
        struct rx_args *a = arg;
        ipcd_msg held[8];
        unsigned nheld = 0;

        for (unsigned i = 0; i < a->n; i++) {
                ipcd_msg m;
                struct seqmsg h;

                CHECK_OK(tl_recv(a->c, &m, 0, 60000));
                CHECK_MSG(!(m.flags & IPCD_MSG_NOTICE), "a notice in a lossless stream: %.*s",
                          (int)m.len, (const char *)m.data);
                CHECK_EQ(m.len, a->len);
                memcpy(&h, m.data, sizeof(h));
                CHECK_MSG(h.seq == i, "message %u arrived as number %u", h.seq, i);
                if (a->bulk) {
                        CHECK(m.flags & IPCD_MSG_BULK);
                        check_bulk_payload(&m, h.seq);
                        if (a->hold == 0) {
                                ipcd_msg_release(a->c, &m);
                                goto next;
                        }
                        if (nheld == a->hold) {
                                ipcd_msg_release(a->c, &held[0]);
                                memmove(held, held + 1, (nheld - 1) * sizeof(held[0]));
                                nheld--;
                        }
                        held[nheld++] = m;
                } else
                        ipcd_msg_release(a->c, &m);
        next:
                a->got++;
                if (a->sleep_every && (i + 1) % a->sleep_every == 0)
                        tl_sleep_ms(1);
        }
        while (nheld)
                ipcd_msg_release(a->c, &held[--nheld]);
        return NULL;
}

struct watch_args {
        const char *name;
        volatile int stop;
        uint64_t max_backlog;
        unsigned samples;
};

static void *watch_thread(void *arg)
{
        struct watch_args *w = arg;

        while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
                uint64_t b = backlog_of(w->name, NULL, NULL);

                if (b > w->max_backlog)
                        w->max_backlog = b;
                w->samples++;
                /* STATUS costs a token of the uid's request bucket */
                tl_sleep_ms(40);
        }
        return NULL;
}

static void test_stream(size_t len, bool more)
{
        ipcd_client *s = tl_connect("fl-s"), *r = tl_connect("fl-r");
        struct rx_args ra = {.c = r, .n = 200000, .sleep_every = 1000, .len = len};
        struct watch_args wa = {.name = "fl-r"};
        pthread_t rt, wt;
        uint8_t *buf = calloc(1, len);
        uint64_t dropped, bound;

        CHECK(buf);
        CHECK(pthread_create(&rt, NULL, rx_thread, &ra) == 0);
        CHECK(pthread_create(&wt, NULL, watch_thread, &wa) == 0);
        for (uint32_t i = 0; i < ra.n; i++) {
                struct seqmsg h = {i, (uint32_t)len};
                /* IPCD_MORE: batches of 16 */
                int fl = more && (i % 16) != 15 && i + 1 < ra.n ? IPCD_MORE : 0;

                memcpy(buf, &h, sizeof(h));
                CHECK_R(ipcd_send(s, "fl-r", 1, buf, len, fl), 0);
        }
        CHECK(pthread_join(rt, NULL) == 0);
        __atomic_store_n(&wa.stop, 1, __ATOMIC_RELEASE);
        CHECK(pthread_join(wt, NULL) == 0);
        CHECK_EQ(ra.got, ra.n);
        CHECK_EQ(backlog_of("fl-r", &dropped, NULL), 0);
        CHECK_EQ(dropped, 0);
        /* One sender: its window and one message (the cost of a record
         * bounds its bytes in ipcd). */
        bound = WINDOW + len + 64;
        CHECK_MSG(wa.max_backlog <= bound, "backlog reached %llu > %llu",
                  (unsigned long long)wa.max_backlog, (unsigned long long)bound);
        tl_expect_empty(r);
        tl_log("stream: 200000 x %zu B%s: all in order, none dropped, backlog at most %llu "
               "(%u samples)", len, more ? " (IPCD_MORE)" : "",
               (unsigned long long)wa.max_backlog, wa.samples);
        free(buf);
        ipcd_close(s);
        ipcd_close(r);
}

/* The receiver holds up to hold chunks before it releases the oldest: no
 * more than a sender's bulk window (half a lane, 4 MiB) takes, or the
 * sender waits for a release that never comes. */
static void test_bulk(size_t len, unsigned n, unsigned hold, const char *topic)
{
        ipcd_client *s = tl_connect("fl-bs"), *r = tl_connect("fl-br");
        struct rx_args ra = {.c = r, .n = n, .sleep_every = 100, .len = len, .bulk = true,
                             .hold = hold};
        pthread_t rt;
        uint64_t dropped;

        if (topic)
                CHECK_OK(ipcd_subscribe_flags(r, topic, IPCD_SUB_RELIABLE));
        CHECK(pthread_create(&rt, NULL, rx_thread, &ra) == 0);
        for (uint32_t i = 0; i < n; i++) {
                struct seqmsg h = {i, (uint32_t)len};
                uint8_t *p;
                void *buf;

                CHECK_R(ipcd_buf_alloc(s, len, 0, &buf), 0);
                p = buf;
                memcpy(p, &h, sizeof(h));
                for (size_t off = 8; off + 4 <= len; off += 4096) {
                        uint32_t w = i ^ (uint32_t)off;

                        memcpy(p + off, &w, 4);
                }
                for (size_t off = len - 64; off < len; off++)
                        p[off] = (uint8_t)(i + off);
                if (topic)
                        CHECK_R(ipcd_publish_buf(s, topic, 1, buf, len, 0), 0);
                else
                        CHECK_R(ipcd_send_buf(s, "fl-br", 1, buf, len, 0), 0);
        }
        CHECK(pthread_join(rt, NULL) == 0);
        CHECK_EQ(ra.got, n);
        (void)backlog_of("fl-br", &dropped, NULL);
        CHECK_EQ(dropped, 0);
        tl_log("bulk%s%s: %u x %zu MiB, the receiver holding %u: all in order, intact, none "
               "dropped", topic ? ", published to a reliable subscriber of " : "",
               topic ? topic : "", n, len >> 20, hold);
        ipcd_close(s);
        ipcd_close(r);
}

/* ------------------------------------------------------------------ */
/* isolation.                                                           */

struct blocked {
        ipcd_client *c;
        const char *dst;
        uint32_t seq;
        volatile int done;
        int r;
};

static void *blocked_send(void *arg)
{
        struct blocked *b = arg;
        struct seqmsg h = {b->seq, 64};
        uint8_t buf[64] = {0};

        memcpy(buf, &h, sizeof(h));
        b->r = ipcd_send(b->c, b->dst, 1, buf, sizeof(buf), 0);
        __atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

/* Send to dst until its window is full (a send waits longer than a
 * short send timeout: IPCD_NONBLOCK alone cannot tell a full window from
 * a full inbound queue); returns how many went. */
static uint32_t fill_window(ipcd_client *s, const char *dst, uint32_t seq0)
{
        uint8_t buf[64] = {0};
        uint32_t i;
        int r = 0;

        CHECK_OK(ipcd_set_send_timeout(s, 100));
        for (i = seq0; i < seq0 + 10 * 1000 * 1000; i++) {
                struct seqmsg h = {i, 64};

                memcpy(buf, &h, sizeof(h));
                r = ipcd_send(s, dst, 1, buf, sizeof(buf), 0);
                if (r == -ETIMEDOUT)
                        break;
                CHECK_R(r, 0);
        }
        CHECK_MSG(r == -ETIMEDOUT, "no back pressure after %u messages", i - seq0);
        CHECK_OK(ipcd_set_send_timeout(s, -1));
        /* nothing of the timed-out one was accepted: no gap follows */
        return i - seq0;
}

struct drain_args {
        ipcd_client *c;
        unsigned n;
        unsigned got;
};

static void *drain_thread(void *arg)
{
        struct drain_args *d = arg;

        for (unsigned i = 0; i < d->n; i++) {
                ipcd_msg m;
                struct seqmsg h;

                CHECK_OK(tl_recv(d->c, &m, 0, 30000));
                memcpy(&h, m.data, sizeof(h));
                CHECK_EQ(h.seq, i);
                ipcd_msg_release(d->c, &m);
                d->got++;
        }
        return NULL;
}

static void test_isolation(void)
{
        ipcd_client *s = tl_connect("fl-is"), *l = tl_connect("fl-il"), *f = tl_connect("fl-if");
        struct blocked b = {.c = s, .dst = "fl-il"};
        uint8_t buf[64] = {0};
        pthread_t t;
        uint32_t n, total;
        uint64_t dropped;

        struct drain_args da = {.c = f, .n = 50000};
        pthread_t ft;

        n = fill_window(s, "fl-il", 0);
        /* IPCD_NONBLOCK: -EAGAIN at once, nothing accepted (no gap below) */
        CHECK_R(ipcd_send(s, "fl-il", 1, buf, sizeof(buf), IPCD_NONBLOCK), -EAGAIN);
        /* S's sends to F go on: more than a window, F reading */
        CHECK(pthread_create(&ft, NULL, drain_thread, &da) == 0);
        for (uint32_t i = 0; i < da.n; i++) {
                struct seqmsg h = {i, 64};

                memcpy(buf, &h, sizeof(h));
                CHECK_R(ipcd_send(s, "fl-if", 2, buf, sizeof(buf), 0), 0);
        }
        CHECK(pthread_join(ft, NULL) == 0);
        CHECK_EQ(da.got, da.n);
        tl_expect_empty(f);
        /* a send timeout bounds the wait */
        CHECK_OK(ipcd_set_send_timeout(s, 200));
        CHECK_R(ipcd_send(s, "fl-il", 1, buf, sizeof(buf), 0), -ETIMEDOUT);
        CHECK_R(ipcd_set_send_timeout(s, -2), -EINVAL);
        CHECK_OK(ipcd_set_send_timeout(s, -1));
        CHECK_MSG(backlog_of("fl-il", &dropped, NULL) <= WINDOW + 128, "L's backlog over its bound");
        CHECK_EQ(dropped, 0);

        /* a blocking send waits ... */
        b.seq = n;
        CHECK(pthread_create(&t, NULL, blocked_send, &b) == 0);
        tl_sleep_ms(300);
        CHECK_MSG(!__atomic_load_n(&b.done, __ATOMIC_ACQUIRE),
                  "a send to a full window returned %d without waiting", b.r);
        /* ... until L reads: then everything arrives, in order */
        total = n + 1;
        for (uint32_t i = 0; i < total; i++) {
                ipcd_msg m;
                struct seqmsg h;

                CHECK_OK(tl_recv(l, &m, 0, 30000));
                memcpy(&h, m.data, sizeof(h));
                CHECK_MSG(h.seq == i, "L got %u as number %u", h.seq, i);
                ipcd_msg_release(l, &m);
        }
        CHECK(pthread_join(t, NULL) == 0);
        CHECK_R(b.r, 0);
        tl_expect_empty(l);
        (void)backlog_of("fl-il", &dropped, NULL);
        CHECK_EQ(dropped, 0);
        tl_log("isolation: %u to a stuck receiver then -EAGAIN; the other destination "
               "unhindered; -ETIMEDOUT; a blocked send resumes; all in order", n);
        ipcd_close(s);
        ipcd_close(l);
        ipcd_close(f);
}

/* Another uid's sender T to F is not held back by S being stuck on L:
 * while S waits for credit towards L, every one of T's sends to F is
 * accepted within a send timeout (never -ETIMEDOUT) and F gets them all,
 * in order, stamped with T's uid. */
static void other_uid_sender(unsigned n)
{
        ipcd_client *t;
        uint8_t buf[64] = {0};

        tl_become(TL_NOBODY, NULL, 0);
        t = tl_connect("fl-ot");
        CHECK_OK(ipcd_set_send_timeout(t, 20000));
        for (uint32_t i = 0; i < n; i++) {
                struct seqmsg h = {i, 64};

                memcpy(buf, &h, sizeof(h));
                CHECK_R(ipcd_send(t, "fl-of", 3, buf, sizeof(buf), 0), 0);
        }
        ipcd_close(t);
        _exit(0);
}

static void test_other_uid(void)
{
        ipcd_client *s = tl_connect("fl-os"), *l = tl_connect("fl-ol"), *f = tl_connect("fl-of");
        struct blocked b = {.c = s, .dst = "fl-ol"};
        const unsigned n = 20000;
        uint64_t t0, ms;
        pthread_t bt;
        uint32_t sent;
        int status;
        pid_t pid;

        if (geteuid() != 0) {
                tl_log("other uid: not root, skipped");
                goto out;
        }
        sent = fill_window(s, "fl-ol", 0);
        b.seq = sent;
        CHECK(pthread_create(&bt, NULL, blocked_send, &b) == 0);
        t0 = tl_now_ms();
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
                other_uid_sender(n);
        for (uint32_t i = 0; i < n; i++) {
                ipcd_msg m;
                struct seqmsg h;

                CHECK_OK(tl_recv(f, &m, 0, 30000));
                memcpy(&h, m.data, sizeof(h));
                CHECK_MSG(h.seq == i, "F got %u from T as number %u", h.seq, i);
                CHECK_EQ(m.sender_uid, (uid_t)TL_NOBODY);
                CHECK_STREQ(m.sender, "fl-ot");
                ipcd_msg_release(f, &m);
        }
        ms = tl_now_ms() - t0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "T failed: %#x", status);
        tl_expect_empty(f);
        CHECK_MSG(!__atomic_load_n(&b.done, __ATOMIC_ACQUIRE),
                  "S's send to the stuck L returned %d while L read nothing", b.r);
        /* L reads: S's held send goes through, everything in order */
        for (uint32_t i = 0; i <= sent; i++) {
                ipcd_msg m;
                struct seqmsg h;

                CHECK_OK(tl_recv(l, &m, 0, 30000));
                memcpy(&h, m.data, sizeof(h));
                CHECK_MSG(h.seq == i, "L got %u as number %u", h.seq, i);
                ipcd_msg_release(l, &m);
        }
        CHECK(pthread_join(bt, NULL) == 0);
        CHECK_R(b.r, 0);
        tl_log("other uid: T (uid %d) sent %u to F in %llu ms while S waited on the stuck L",
               TL_NOBODY, n, (unsigned long long)ms);
out:
        ipcd_close(s);
        ipcd_close(l);
        ipcd_close(f);
}

/* A sender whose own queue is full of messages it does not read (yet)
 * still gets its credit: its waits move them to its pending list. */
static void test_own_queue_full(void)
{
        ipcd_client *a = tl_connect("fl-qa"), *b = tl_connect("fl-qb"), *cc = tl_connect("fl-qc");
        struct rx_args ra = {.c = b, .n = 100000, .len = 64};
        /* 200 payload bytes: a delivered record of 256 bytes (its header
         * and cc's name), one a queue message (IPCD_ACK), so that they
         * fill a's queue to the last byte */
        uint8_t big[200] = {0}, buf[64] = {0};
        struct tl_status st;
        uint32_t nfill;
        pthread_t rt;

        tl_status(&st);
        nfill = st.daemon.queue_bytes / 256 + 50;
        tl_status_free(&st);
        CHECK(wire_out_size(5, 0, sizeof(big)) == 256);
        CHECK(nfill * wire_flow_cost(sizeof(big)) < WINDOW / 2);
        /* cc fills a's queue and part of its backlog (within its window) */
        for (uint32_t i = 0; i < nfill; i++) {
                struct seqmsg h = {i, sizeof(big)};

                memcpy(big, &h, sizeof(h));
                CHECK_R(ipcd_send(cc, "fl-qa", 7, big, sizeof(big), IPCD_ACK), 0);
        }
        /* a streams to b, reading nothing meanwhile */
        CHECK(pthread_create(&rt, NULL, rx_thread, &ra) == 0);
        for (uint32_t i = 0; i < ra.n; i++) {
                struct seqmsg h = {i, 64};

                memcpy(buf, &h, sizeof(h));
                CHECK_R(ipcd_send(a, "fl-qb", 1, buf, sizeof(buf), 0), 0);
        }
        CHECK(pthread_join(rt, NULL) == 0);
        CHECK_EQ(ra.got, ra.n);
        /* and what cc sent a is all there, in order */
        for (uint32_t i = 0; i < nfill; i++) {
                ipcd_msg m;
                struct seqmsg h;

                CHECK_OK(tl_recv(a, &m, 0, 30000));
                CHECK_EQ(m.type, 7);
                memcpy(&h, m.data, sizeof(h));
                CHECK_EQ(h.seq, i);
                ipcd_msg_release(a, &m);
        }
        tl_expect_empty(a);
        tl_log("own queue full: a sender that does not read still gets its credit");
        ipcd_close(a);
        ipcd_close(b);
        ipcd_close(cc);
}

/* ------------------------------------------------------------------ */
/* death.                                                               */

static void test_death(void)
{
        ipcd_client *s = tl_connect("fl-ds");
        struct blocked b = {.c = s, .dst = "fl-dk"};
        uint8_t buf[64] = {0};
        int pfd[2], st;
        pthread_t t;
        pid_t pid;
        char x;

        CHECK(pipe(pfd) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(pfd[0]);
                (void)tl_connect("fl-dk");
                CHECK(write(pfd[1], "r", 1) == 1);
                pause();
                _exit(0);
        }
        close(pfd[1]);
        CHECK(read(pfd[0], &x, 1) == 1 && x == 'r');
        close(pfd[0]);
        (void)fill_window(s, "fl-dk", 0);
        CHECK_R(ipcd_send(s, "fl-dk", 1, buf, sizeof(buf), IPCD_NONBLOCK), -EAGAIN);
        CHECK(pthread_create(&t, NULL, blocked_send, &b) == 0);
        tl_sleep_ms(200);
        CHECK_MSG(!__atomic_load_n(&b.done, __ATOMIC_ACQUIRE), "did not block: %d", b.r);
        CHECK(kill(pid, SIGKILL) == 0);
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK_R(b.r, -ECONNRESET);
        CHECK_R(ipcd_send(s, "fl-dk", 1, buf, sizeof(buf), 0), -ENOENT);
        CHECK_R(ipcd_send(s, "fl-dk", 1, buf, sizeof(buf), 0), -ENOENT);
        /* the name taken again: sends go there once more */
        {
                ipcd_client *k2 = tl_connect("fl-dk");
                ipcd_msg m;

                CHECK_R(ipcd_send(s, "fl-dk", 1, buf, sizeof(buf), 0), 0);
                CHECK_OK(tl_recv(k2, &m, 1, 30000));
                ipcd_msg_release(k2, &m);
                ipcd_close(k2);
        }
        tl_log("death: a blocked send gives -ECONNRESET when its receiver dies, then -ENOENT");
        ipcd_close(s);
}

/* ------------------------------------------------------------------ */
/* hostile.                                                             */

static void test_hostile(void)
{
        ipcd_client *l = tl_connect("fl-hl"), *s = tl_connect("fl-hs"), *f = tl_connect("fl-hf");
        struct tl_raw raw;
        uint8_t mtext[8192];
        uint64_t dropped, ignored, b, max_b = 0;
        const size_t len = 1000;
        unsigned sent = 0;

        CHECK_OK(tl_raw_register(&raw, "fl-raw", 0, 5000));
        /* ~8 windows' worth, ignoring every credit */
        for (unsigned k = 0; k < 1200; k++) {
                size_t off = 0;
                int r;

                for (unsigned j = 0; j < 7; j++) {
                        struct wire_in h;
                        uint8_t payload[1000] = {0};

                        tl_raw_header(&raw, &h, WIRE_OP_SEND, "fl-hl");
                        h.type = 1;
                        h.len = (uint32_t)len;
                        CHECK(wire_in_put(mtext, sizeof(mtext), &off, &h, "fl-hl", payload) == 0);
                }
                do
                        r = tl_msgsnd(raw.reg.inbound_qid, WIRE_MTYPE_IN, mtext, off);
                while (r == -EAGAIN);
                CHECK_R(r, 0);
                sent += 7;
                /* another sender's stream to another receiver goes on */
                if (k % 100 == 0) {
                        ipcd_msg m;

                        CHECK_R(ipcd_send(s, "fl-hf", 1, "x", 1, 0), 0);
                        CHECK_OK(tl_recv(f, &m, 0, 30000));
                        ipcd_msg_release(f, &m);
                        b = backlog_of("fl-hl", NULL, NULL);
                        if (b > max_b)
                                max_b = b;
                }
        }
        tl_sync(s);
        b = backlog_of("fl-hl", &dropped, &ignored);
        if (b > max_b)
                max_b = b;
        CHECK_MSG(max_b <= 2 * WINDOW + 8192 + 64, "backlog %llu over the bound",
                  (unsigned long long)max_b);
        CHECK_MSG(ignored > 0, "no drop counted as ignored back pressure");
        CHECK_EQ(dropped, ignored);
        {
                struct tl_status st;
                const struct wire_status_client *rc;

                tl_status(&st);
                rc = tl_status_client(&st, "fl-raw");
                CHECK(rc);
                CHECK_EQ(rc->dropped_ignored, ignored);
                tl_status_free(&st);
        }
        tl_log("hostile: %u raw sends ignoring credits: backlog at most %llu, %llu dropped as "
               "ignored back pressure; others unaffected", sent, (unsigned long long)max_b,
               (unsigned long long)ignored);
        tl_raw_close(&raw);
        ipcd_close(l);
        ipcd_close(s);
        ipcd_close(f);
}

/* ------------------------------------------------------------------ */
/* topics.                                                              */

static void test_topic(void)
{
        ipcd_client *p = tl_connect("fl-tp"), *rel = tl_connect("fl-trel"),
                    *drop = tl_connect("fl-tdrop");
        struct rx_args ra = {.c = rel, .n = 20000, .sleep_every = 500, .len = 1024};
        uint8_t buf[1024] = {0};
        uint64_t dropped, got = 0;
        pthread_t rt;
        ipcd_msg m;
        int r;

        CHECK_R(ipcd_subscribe_flags(rel, "fl/t", 3), -EINVAL);
        CHECK_OK(ipcd_subscribe_flags(rel, "fl/t", IPCD_SUB_RELIABLE));
        CHECK_OK(ipcd_subscribe(drop, "fl/*"));
        CHECK(pthread_create(&rt, NULL, rx_thread, &ra) == 0);
        for (uint32_t i = 0; i < ra.n; i++) {
                struct seqmsg h = {i, sizeof(buf)};

                memcpy(buf, &h, sizeof(h));
                CHECK_R(ipcd_publish(p, "fl/t", 1, buf, sizeof(buf), 0), 0);
        }
        tl_sync(p);
        CHECK(pthread_join(rt, NULL) == 0);
        CHECK_EQ(ra.got, ra.n);
        (void)backlog_of("fl-trel", &dropped, NULL);
        CHECK_EQ(dropped, 0);
        /* the stuck one was not waited for: it lost some, counted with
         * their reason */
        {
                struct tl_status st;
                const struct wire_status_client *dc;

                tl_status(&st);
                dc = tl_status_client(&st, "fl-tdrop");
                CHECK(dc);
                dropped = dc->dropped;
                CHECK_MSG(dropped > 0, "nothing dropped for a subscriber that never read 20 MB");
                CHECK_EQ(dc->dropped_by[WIRE_DROP_OVERFLOW], dropped);
                CHECK_EQ(st.daemon.dropped_by[WIRE_DROP_OVERFLOW] >= dropped, true);
                dc = tl_status_client(&st, "fl-trel");
                CHECK(dc);
                CHECK_EQ(dc->reliable_subs, 1);
                tl_status_free(&st);
        }
        /* ipcdctl topics says which topic's subscriptions are reliable */
        {
                const char *ctl = getenv("IPCDCTL");
                char cmd[512], *json, *t;
                int status;

                CHECK_MSG(ctl && *ctl, "$IPCDCTL is not set");
                snprintf(cmd, sizeof(cmd), "'%s' topics --interval 0 --json", ctl);
                json = tl_capture(cmd, &status);
                CHECK_MSG(json && WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed",
                          cmd);
                t = strstr(json, "\"name\":\"fl/t\"");
                CHECK_MSG(t, "fl/t not in: %s", json);
                CHECK_MSG(strncmp(strstr(t, "\"reliable_subscribers\":"),
                                  "\"reliable_subscribers\":1", 24) == 0,
                          "fl/t: %s", t);
                t = strstr(json, "\"name\":\"fl\"");
                CHECK_MSG(t, "fl (the fl/* subscription) not in: %s", json);
                CHECK_MSG(strncmp(strstr(t, "\"reliable_subscribers\":"),
                                  "\"reliable_subscribers\":0", 24) == 0,
                          "fl: %s", t);
                free(json);
        }
        /* what ipcd still holds for it comes as it reads */
        while (got + dropped < ra.n) {
                r = tl_recv(drop, &m, 0, 30000);
                CHECK_MSG(r >= 0, "after %llu of %u (%llu dropped): %s", (unsigned long long)got,
                          ra.n, (unsigned long long)dropped, tl_errname(r));
                if (!(m.flags & IPCD_MSG_NOTICE))
                        got++;
                ipcd_msg_release(drop, &m);
        }
        tl_expect_empty(drop);
        (void)backlog_of("fl-tdrop", &dropped, NULL);
        CHECK_EQ(got + dropped, ra.n);
        tl_log("topic: the reliable subscriber got all %u in order; the other lost %llu, counted",
               ra.n, (unsigned long long)dropped);

        /* A reliable subscriber that stops reading holds the publisher
         * back (-ETIMEDOUT with a send timeout, -EAGAIN with
         * IPCD_NONBLOCK); once it unsubscribes, publishing goes on. */
        {
                ipcd_client *stuck = tl_connect("fl-tstuck");
                int e = 0;
                uint32_t i;

                CHECK_OK(ipcd_subscribe_flags(stuck, "fl/u", IPCD_SUB_RELIABLE));
                CHECK_OK(ipcd_set_send_timeout(p, 100));
                for (i = 0; i < 1000000; i++) {
                        e = ipcd_publish(p, "fl/u", 1, buf, sizeof(buf), 0);
                        if (e < 0)
                                break;
                }
                CHECK_R(e, -ETIMEDOUT);
                CHECK_R(ipcd_publish(p, "fl/u", 1, buf, sizeof(buf), IPCD_NONBLOCK), -EAGAIN);
                /* the dropping subscriber of fl/ * does not hold it back:
                 * only the reliable one does */
                CHECK_OK(ipcd_unsubscribe(stuck, "fl/u"));
                CHECK_R(ipcd_publish(p, "fl/u", 1, buf, sizeof(buf), 0), 0);
                CHECK_OK(ipcd_set_send_timeout(p, -1));
                (void)backlog_of("fl-tstuck", &dropped, NULL);
                CHECK_EQ(dropped, 0);
                tl_log("topic: %u publishes to a stuck reliable subscriber, then -ETIMEDOUT; "
                       "free again once it unsubscribed", i);
                ipcd_close(stuck);
        }
        ipcd_close(p);
        ipcd_close(rel);
        ipcd_close(drop);
}

/* ------------------------------------------------------------------ */
/* ipcd killed (run on its own: test-flow kill; starts its own ipcd).   */

static void test_kill(void)
{
        ipcd_client *s, *l;
        struct blocked b = {.dst = "fl-kl"};
        pthread_t t;
        pid_t pid;
        int st;

        pid = tl_ipcd_start();
        s = tl_connect("fl-ks");
        l = tl_connect("fl-kl");
        b.c = s;
        (void)fill_window(s, "fl-kl", 0);
        CHECK(pthread_create(&t, NULL, blocked_send, &b) == 0);
        tl_sleep_ms(200);
        CHECK_MSG(!__atomic_load_n(&b.done, __ATOMIC_ACQUIRE), "did not block: %d", b.r);
        st = tl_ipcd_stop(pid, SIGKILL);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        /* the wait notices that ipcd is gone, and never hangs */
        CHECK(pthread_join(t, NULL) == 0);
        CHECK_R(b.r, -ECONNRESET);
        ipcd_close(s);
        ipcd_close(l);
        /* a new ipcd removes what the dead one left */
        pid = tl_ipcd_start();
        CHECK_EQ(tl_ipcd_stop(pid, SIGTERM), 0);
        tl_log("kill: a send waiting for credit gives -ECONNRESET when ipcd is killed");
}

int main(int argc, char **argv)
{
        tl_init(argc, argv);
        if (argc > 1 && strcmp(argv[1], "kill") == 0) {
                test_kill();
                return 0;
        }
        test_isolation();
        test_other_uid();
        test_death();
        test_own_queue_full();
        test_hostile();
        test_topic();
        test_stream(64, false);
        test_stream(64, true);
        test_stream(4096, false);
        test_stream(4096, true);
        test_bulk(1 << 20, 2000, 3, NULL);
        test_bulk(4 << 20, 500, 0, NULL);
        /* more than its held-bytes limit (half a lane): the lane holds the
         * publisher back */
        test_bulk(1 << 20, 500, 6, "fl/bulk");
        return 0;
}
