/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-bulk - payloads through the shared-memory ring (issue 4).
 *
 * Runs against an ipcd with one ring of 1 MiB in lanes of 256 KiB and
 * lanes_per_uid = 2 (test-bulk.sh), so that a full lane is cheap.
 *
 * Asserts:
 *  - intact: payloads from 0 bytes to the lane size, across the inline
 *    limit, sent by another process with ipcd_send() and with
 *    ipcd_buf_alloc()/ipcd_send_buf(), mixed with small messages, arrive
 *    intact (checksums), in the order sent, IPCD_MSG_BULK exactly for the
 *    ones above the inline limit, read in place;
 *  - zero-copy: a round trip of ipcd_buf_alloc()/ipcd_send_buf() both
 *    ways; argument errors; a buffer whose send failed (IPCD_ACK: -ENOENT)
 *    is still the caller's and can be sent again; ipcd_buf_free();
 *    ipcd_publish_buf();
 *  - backpressure: a receiver holding chunks fills the lane; a send (with
 *    IPCD_NONBLOCK too) moves to a spare lane; with no spare lane left
 *    (lanes_per_uid) IPCD_NONBLOCK gives -EAGAIN, a blocking send waits,
 *    and proceeds once the receiver
 *    releases; beyond its held limit a receiver that chose drop-new has
 *    its chunks dropped (IPCD_ACK: -EAGAIN) and counted; a wait for room
 *    gives up after 10 s;
 *  - kill: SIGKILL of a receiver holding chunks, and of a producer in the
 *    middle of a stream, leaves the lanes reusable (ring status: nothing in
 *    flight, lanes back) and no segment beyond the ring;
 *  - hostile: descriptors written by hand on the inbound queue (out of
 *    bounds, across the lane end, huge, empty, someone else's lane, an
 *    unknown ring, overlapping, replayed, a hold going back, a malformed
 *    payload, bulk on another operation, releases of chunks not held) are
 *    refused and counted, and a bulk stream between two other clients
 *    goes on intact;
 *  - threads: four threads allocate and send on one handle at once
 *    (waiting for room, resending what the receiver's held limit
 *    refused): every payload arrives once, intact, in per-thread order;
 *  - uid: a client of another uid without the ring's group gets -EACCES
 *    for bulk (sending, allocating, and as an IPCD_ACK receiver) and keeps
 *    working for small messages (skipped when not root);
 *  - restart (`test-bulk restart`, with an ipcd of its own): after ipcd
 *    restarts, an unsent buffer gives -ECONNRESET, a message still held
 *    stays readable, a new lane works, no release of the old session
 *    reaches the new ipcd, and the old ring is detached.
 */
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/ringfmt.h"
#include "tlib.h"

#define LANE_SIZE 262144UL
#define HELD_MAX (LANE_SIZE / 2)
#define NOBODY 65534

enum {
        T_SEQ = 1,    /* small: a sequence number */
        T_DATA = 2,   /* the payload under test */
        T_CREDIT = 3, /* receiver -> producer: bytes released */
        T_DONE = 4,
};

/* ------------------------------------------------------------------ */
/* Helpers.                                                             */

/* Bytes of a payload derived from seed: a cheap generator, so that a
 * misplaced or stale chunk shows. */
static void fill(uint8_t *p, size_t len, uint64_t seed)
{
        uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

        for (size_t i = 0; i < len; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p[i] = (uint8_t)x;
        }
}

static bool same(const uint8_t *p, size_t len, uint64_t seed)
{
        uint8_t *want = malloc(len ? len : 1);
        bool ok;

        CHECK(want);
        fill(want, len, seed);
        ok = len == 0 || memcmp(p, want, len) == 0;
        free(want);
        return ok;
}

static void ring_state(uint64_t *used, uint32_t *lanes_used, int *shmid)
{
        struct tl_status st;

        tl_status(&st);
        CHECK_MSG(st.n_rings == 1, "%zu rings, expected 1", st.n_rings);
        if (used)
                *used = st.rings[0].used;
        if (lanes_used)
                *lanes_used = st.rings[0].lanes_used;
        if (shmid)
                *shmid = st.rings[0].shmid;
        tl_status_free(&st);
}

/* Wait (hang guard 10 s) until nothing is in flight and `lanes` lanes are
 * in use. */
static void wait_ring(uint32_t lanes, const char *what)
{
        uint64_t deadline = tl_now_ms() + 10000, used = 0;
        uint32_t lu = 0;

        for (;;) {
                ring_state(&used, &lu, NULL);
                if (used == 0 && lu == lanes)
                        return;
                CHECK_MSG(tl_now_ms() < deadline,
                          "%s: ring has %llu bytes in flight and %u lanes in use, expected 0 "
                          "and %u",
                          what, (unsigned long long)used, lu, lanes);
                tl_sleep_ms(20);
        }
}

static uint64_t client_stat(const char *name, int field)
{
        struct tl_status st;
        const struct wire_status_client *c;
        uint64_t v = 0;

        tl_status(&st);
        c = tl_status_client(&st, name);
        CHECK_MSG(c, "client %s not in status", name);
        switch (field) {
        case 0:
                v = c->dropped;
                break;
        case 1:
                v = c->lanes;
                break;
        case 2:
                v = c->bulk_held;
                break;
        case 3:
                v = c->bulk_sent;
                break;
        case 4:
                v = c->bulk_received;
                break;
        }
        tl_status_free(&st);
        return v;
}

static uint64_t bad_inbound(void)
{
        struct tl_status st;
        uint64_t v;

        tl_status(&st);
        v = st.daemon.bad_inbound;
        tl_status_free(&st);
        return v;
}

/* Receive one user message of type `type` (skipping nothing else: the
 * tests know what comes). */
static void recv_type(ipcd_client *c, ipcd_msg *m, long type)
{
        int r = tl_recv(c, m, 0, 30000);

        CHECK_MSG(r >= 0, "ipcd_recv: %d (%s)", r, tl_errname(r));
        CHECK_MSG(m->type == type, "received type %ld (%zu bytes), expected %ld", m->type, m->len,
                  type);
}

/* Send len bytes derived from seed with ipcd_send() or zero-copy. */
static int send_data(ipcd_client *c, const char *dst, long type, size_t len, uint64_t seed,
                     bool zero_copy, int flags)
{
        void *buf;
        int r;

        if (zero_copy && len > 0) {
                r = ipcd_buf_alloc(c, len, flags & IPCD_NONBLOCK, &buf);
                if (r < 0)
                        return r;
                fill(buf, len, seed);
                r = ipcd_send_buf(c, dst, type, buf, len, flags);
                if (r < 0)
                        ipcd_buf_free(c, buf);
                return r;
        }
        {
                uint8_t *p = malloc(len ? len : 1);

                CHECK(p);
                fill(p, len, seed);
                r = ipcd_send(c, dst, type, p, len, flags);
                free(p);
                return r;
        }
}

/* ------------------------------------------------------------------ */
/* intact: sizes across the inline limit up to the lane size.          */

static size_t sizes[32];
static size_t nsizes;

static void sizes_init(size_t mi)
{
        size_t s[] = {0,
                      1,
                      mi - 1,
                      mi,
                      mi + 1,
                      mi + 2,
                      12345,
                      65536,
                      65537,
                      LANE_SIZE / 4 + 3,
                      HELD_MAX - 8,
                      HELD_MAX,
                      HELD_MAX + 1,
                      LANE_SIZE - 4096 - 1,
                      LANE_SIZE - 1,
                      LANE_SIZE,
                      7,
                      mi + 3};

        nsizes = ELEMENTSOF(s);
        memcpy(sizes, s, sizeof(s));
}

#define ROUNDS 3

static void intact_producer(size_t mi)
{
        ipcd_client *p = tl_connect("bk-p");
        uint64_t outstanding = 0, seq = 0;
        ipcd_msg m;

        for (unsigned round = 0; round < ROUNDS; round++)
                for (size_t i = 0; i < nsizes; i++, seq++) {
                        size_t len = sizes[i];
                        bool bulk = len > mi || (seq % 2 && len > 0);

                        /* At most the receiver's held limit in flight (a
                         * single chunk may be larger). */
                        while (bulk && outstanding > 0 && outstanding + len > HELD_MAX) {
                                uint64_t got;

                                recv_type(p, &m, T_CREDIT);
                                CHECK_EQ(m.len, sizeof(got));
                                memcpy(&got, m.data, sizeof(got));
                                ipcd_msg_release(p, &m);
                                CHECK(got <= outstanding);
                                outstanding -= got;
                        }
                        tl_send(p, "bk-r", T_SEQ, &seq, sizeof(seq), 0);
                        CHECK_OK(send_data(p, "bk-r", T_DATA, len, seq, seq % 2, 0));
                        if (bulk)
                                outstanding += len;
                }
        tl_send(p, "bk-r", T_DONE, NULL, 0, 0);
        CHECK_OK(tl_recv(p, &m, T_DONE, 30000)); /* credits still on their way: left */
        ipcd_msg_release(p, &m);
        ipcd_close(p);
}

static void test_intact(void)
{
        ipcd_client *r = tl_connect("bk-r");
        size_t mi = ipcd_max_inline(r);
        uint64_t seq = 0, bulk_bytes = 0;
        unsigned nbulk = 0;
        pid_t pid;
        int st;

        CHECK(mi > 64 && mi < LANE_SIZE / 4);
        sizes_init(mi);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                intact_producer(mi);
                _exit(0);
        }

        for (unsigned round = 0; round < ROUNDS; round++)
                for (size_t i = 0; i < nsizes; i++, seq++) {
                        size_t len = sizes[i];
                        ipcd_msg m;
                        uint64_t got;
                        bool bulk;

                        recv_type(r, &m, T_SEQ);
                        CHECK_EQ(m.len, sizeof(got));
                        memcpy(&got, m.data, sizeof(got));
                        CHECK_MSG(got == seq, "small message %llu arrived, expected %llu",
                                  (unsigned long long)got, (unsigned long long)seq);
                        CHECK((m.flags & IPCD_MSG_BULK) == 0);
                        ipcd_msg_release(r, &m);

                        recv_type(r, &m, T_DATA);
                        CHECK_MSG(m.len == len, "payload %llu: %zu bytes, expected %zu",
                                  (unsigned long long)seq, m.len, len);
                        CHECK_STREQ(m.sender, "bk-p");
                        /* odd ones zero-copy: always in the ring */
                        bulk = len > mi || (seq % 2 && len > 0);
                        CHECK_MSG(!!(m.flags & IPCD_MSG_BULK) == bulk,
                                  "payload %llu of %zu bytes: flags %#x (inline limit %zu)",
                                  (unsigned long long)seq, len, m.flags, mi);
                        CHECK_MSG(same(m.data, len, seq), "payload %llu (%zu bytes) differs",
                                  (unsigned long long)seq, len);
                        ipcd_msg_release(r, &m);
                        /* released twice: harmless */
                        ipcd_msg_release(r, &m);
                        if (bulk) {
                                got = len;
                                nbulk++;
                                bulk_bytes += len;
                                tl_send(r, "bk-p", T_CREDIT, &got, sizeof(got), 0);
                        }
                }
        {
                ipcd_msg m;

                recv_type(r, &m, T_DONE);
                ipcd_msg_release(r, &m);
        }
        CHECK_EQ(client_stat("bk-r", 4), bulk_bytes);
        CHECK_EQ(client_stat("bk-r", 0), 0);
        tl_send(r, "bk-p", T_DONE, NULL, 0, 0);
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer failed: status %#x", st);
        tl_log("intact: %u bulk payloads (%llu bytes) of %zu sizes, in order", nbulk,
               (unsigned long long)bulk_bytes, nsizes);
        ipcd_close(r);
        wait_ring(0, "intact");
}

/* ------------------------------------------------------------------ */
/* zero-copy and the API's edges.                                       */

static void test_zero_copy(void)
{
        ipcd_client *a = tl_connect("bk-a"), *b = tl_connect("bk-b");
        const size_t len = 100000;
        uint8_t *copy;
        void *buf, *buf2;
        ipcd_msg m;

        /* a -> b, zero-copy */
        CHECK_OK(ipcd_buf_alloc(a, len, 0, &buf));
        CHECK(buf);
        CHECK_MSG((uintptr_t)buf % 64 == 0, "buffer %p is not aligned to 64 bytes", buf);
        fill(buf, len, 1);
        CHECK_R(ipcd_send_buf(a, "bk-b", 7, buf, len, IPCD_ACK), 0);
        /* it is ipcd's now */
        CHECK_R(ipcd_send_buf(a, "bk-b", 7, buf, len, 0), -EINVAL);
        ipcd_buf_free(a, buf); /* not ours: ignored */
        recv_type(b, &m, 7);
        CHECK(m.flags & IPCD_MSG_BULK);
        CHECK_EQ(m.len, len);
        CHECK((uintptr_t)m.data % 64 == 0);
        CHECK(same(m.data, len, 1));

        /* b -> a: b writes its answer straight into its own lane */
        CHECK_OK(ipcd_buf_alloc(b, len, 0, &buf2));
        CHECK((uintptr_t)buf2 % 64 == 0);
        CHECK(buf2 != m.data);
        for (size_t i = 0; i < len; i++)
                ((uint8_t *)buf2)[i] = (uint8_t)~((const uint8_t *)m.data)[len - 1 - i];
        ipcd_msg_release(b, &m);
        CHECK_R(ipcd_send_buf(b, "bk-a", 8, buf2, len, 0), 0);
        recv_type(a, &m, 8);
        CHECK(m.flags & IPCD_MSG_BULK);
        CHECK_EQ(m.len, len);
        copy = malloc(len);
        CHECK(copy);
        fill(copy, len, 1);
        for (size_t i = 0; i < len; i++) {
                unsigned got = ((const uint8_t *)m.data)[i], want = copy[len - 1 - i] ^ 0xffu;

                CHECK_MSG(got == want, "byte %zu of the answer", i);
        }
        /* a byte copy of the struct releases as well */
        {
                ipcd_msg m2;

                memcpy(&m2, &m, sizeof(m));
                ipcd_msg_release(a, &m2);
        }

        /* argument errors */
        CHECK_R(ipcd_buf_alloc(a, 0, 0, &buf), -EINVAL);
        CHECK_R(ipcd_buf_alloc(a, 10, 0, NULL), -EINVAL);
        CHECK_R(ipcd_buf_alloc(a, 10, 1 << 20, &buf), -EINVAL);
        CHECK_R(ipcd_buf_alloc(a, LANE_SIZE + 1, 0, &buf), -EMSGSIZE);
        CHECK(buf == NULL);
        {
                uint8_t *big = calloc(1, LANE_SIZE + 1);

                CHECK(big);
                CHECK_R(ipcd_send(a, "bk-b", 9, big, LANE_SIZE + 1, 0), -EMSGSIZE);
                free(big);
        }
        CHECK_R(ipcd_send_buf(a, "bk-b", 9, copy, 10, 0), -EINVAL); /* not in the ring */
        CHECK_OK(ipcd_buf_alloc(a, 1000, 0, &buf));
        CHECK_R(ipcd_send_buf(a, "bk-b", 9, buf, 0, 0), -EINVAL);
        CHECK_R(ipcd_send_buf(a, "bk-b", 9, buf, 1001, 0), -EINVAL);
        CHECK_R(ipcd_send_buf(a, "bk-b", 0, buf, 10, 0), -EINVAL);
        CHECK_R(ipcd_send_buf(a, "bad name", 9, buf, 10, 0), -EINVAL);
        CHECK_R(ipcd_send_buf(NULL, "bk-b", 9, buf, 10, 0), -EINVAL);
        CHECK_R(ipcd_send_buf(b, "bk-b", 9, buf, 10, 0), -EINVAL); /* another handle's */

        /* a failed send leaves the buffer with the caller: send it again */
        fill(buf, 1000, 2);
        CHECK_R(ipcd_send_buf(a, "bk-nobody-here", 9, buf, 1000, IPCD_ACK), -ENOENT);
        CHECK_R(ipcd_send_buf(a, "bk-b", 9, buf, 999, IPCD_ACK), 0);
        recv_type(b, &m, 9);
        CHECK(m.flags & IPCD_MSG_BULK);
        CHECK_EQ(m.len, 999);
        {
                uint8_t want[1000];

                fill(want, 1000, 2);
                CHECK(memcmp(m.data, want, 999) == 0);
        }
        ipcd_msg_release(b, &m);
        CHECK_R(ipcd_send_buf(a, "bk-b", 9, buf, 10, 0), -EINVAL); /* sent */
        /* b's releases reach ipcd when it next looks for a message */
        CHECK_R(tl_recv(b, &m, 0, 0), -EAGAIN);

        /* ipcd_buf_free: the room comes back (many times a lane) */
        for (unsigned i = 0; i < 64; i++) {
                CHECK_OK(ipcd_buf_alloc(a, LANE_SIZE / 2, IPCD_NONBLOCK, &buf));
                ipcd_buf_free(a, buf);
        }
        /* a whole lane in one buffer */
        CHECK_OK(ipcd_buf_alloc(a, LANE_SIZE, 0, &buf));
        ipcd_buf_free(a, buf);
        ipcd_buf_free(a, NULL);

        /* publish: nobody subscribed, the outcome is a count of 0 */
        CHECK_OK(ipcd_buf_alloc(a, 5000, 0, &buf));
        fill(buf, 5000, 3);
        CHECK_R(ipcd_publish_buf(a, "bk/topic", 9, buf, 5000, IPCD_ACK), 0);
        CHECK_R(ipcd_publish_buf(a, "bk/topic", 9, buf, 5000, 0), -EINVAL);

        /* a small message held by IPCD_MORE goes out before a bulk one */
        tl_send(a, "bk-b", 11, "first", 5, IPCD_MORE);
        CHECK_OK(ipcd_buf_alloc(a, 20000, 0, &buf));
        fill(buf, 20000, 4);
        CHECK_R(ipcd_send_buf(a, "bk-b", 12, buf, 20000, 0), 0);
        tl_send(a, "bk-b", 11, "third", 5, IPCD_MORE);
        CHECK_R(send_data(a, "bk-b", 12, ipcd_max_inline(a) + 1, 5, false, IPCD_MORE), 0);
        tl_expect(b, 0, 11, "first", 5, "bk-a");
        recv_type(b, &m, 12);
        CHECK_EQ(m.len, 20000);
        CHECK(same(m.data, 20000, 4));
        ipcd_msg_release(b, &m);
        tl_expect(b, 0, 11, "third", 5, "bk-a");
        recv_type(b, &m, 12);
        CHECK(m.flags & IPCD_MSG_BULK);
        CHECK(same(m.data, ipcd_max_inline(a) + 1, 5));
        ipcd_msg_release(b, &m);

        /* sizes at the inline limit: ipcd_send chooses by itself */
        {
                size_t mi = ipcd_max_inline(a);

                CHECK_R(ipcd_send(a, "bk-b", 10, copy, mi, IPCD_ACK), 0);
                CHECK_R(ipcd_send(a, "bk-b", 10, copy, mi + 1, IPCD_ACK), 0);
                recv_type(b, &m, 10);
                CHECK_EQ(m.len, mi);
                CHECK((m.flags & IPCD_MSG_BULK) == 0);
                CHECK(memcmp(m.data, copy, mi) == 0);
                ipcd_msg_release(b, &m);
                recv_type(b, &m, 10);
                CHECK_EQ(m.len, mi + 1);
                CHECK(m.flags & IPCD_MSG_BULK);
                CHECK(memcmp(m.data, copy, mi + 1) == 0);
                ipcd_msg_release(b, &m);
        }
        free(copy);
        tl_expect_empty(a);
        tl_expect_empty(b);
        ipcd_close(a);
        ipcd_close(b);
        wait_ring(0, "zero-copy");
        tl_log("zero-copy: round trip, edges, resend after failure, publish");
}

/* ------------------------------------------------------------------ */
/* backpressure.                                                        */

#define CHUNK (LANE_SIZE / 8)

struct blocked_send {
        ipcd_client *p;
        const char *dst;
        volatile int done;
        int r;
        uint64_t ms;
};

static void *blocked_send_thread(void *arg)
{
        struct blocked_send *x = arg;
        uint64_t t0 = tl_now_ms();

        x->r = send_data(x->p, x->dst, T_DATA, CHUNK, 77, true, IPCD_ACK);
        x->ms = tl_now_ms() - t0;
        __atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

static void test_backpressure(void)
{
        ipcd_client *p = tl_connect("bk-bp"), *r1 = tl_connect("bk-r1"),
                    *r2 = tl_connect("bk-r2"), *r3 = tl_connect("bk-r3");
        ipcd_msg held1[4], held2[4], m;
        struct blocked_send x = {.dst = "bk-r3"};
        pthread_t t;
        uint64_t drops;
        uint32_t lanes;
        void *buf;

        /* These receivers choose to drop past their held limit (without
         * that choice it holds their producers back: test-flow). */
        CHECK_OK(ipcd_set_overflow(r1, IPCD_OVERFLOW_DROP_NEW, 0, 0));
        CHECK_OK(ipcd_set_overflow(r2, IPCD_OVERFLOW_DROP_NEW, 0, 0));
        CHECK_OK(ipcd_set_overflow(r3, IPCD_OVERFLOW_DROP_NEW, 0, 0));

        /* r1 holds half a lane: its held limit */
        for (unsigned i = 0; i < 4; i++)
                CHECK_R(send_data(p, "bk-r1", T_DATA, CHUNK, 100 + i, i % 2, IPCD_ACK), 0);
        for (unsigned i = 0; i < 4; i++) {
                recv_type(r1, &held1[i], T_DATA);
                CHECK(same(held1[i].data, CHUNK, 100 + i));
        }
        CHECK_EQ(client_stat("bk-r1", 2), HELD_MAX);
        /* beyond it, chunks for r1 are dropped and counted; with IPCD_ACK
         * the sender learns it (and its buffer's room is used again) */
        drops = client_stat("bk-r1", 0);
        for (unsigned i = 0; i < 4; i++)
                CHECK_R(send_data(p, "bk-r1", T_DATA, CHUNK, 200 + i, i % 2, IPCD_ACK), -EAGAIN);
        CHECK_EQ(client_stat("bk-r1", 0), drops + 4);
        CHECK_OK(ipcd_buf_alloc(p, CHUNK, IPCD_NONBLOCK, &buf));
        ipcd_buf_free(p, buf);
        for (unsigned i = 0; i < 4; i++)
                CHECK_R(send_data(p, "bk-r1", T_DATA, CHUNK, 200 + i, i % 2, 0), 0);
        tl_sync(p);
        CHECK_EQ(client_stat("bk-r1", 0), drops + 8);
        tl_expect_empty(r1);

        /* the lane has wrapped round to r1's oldest chunk: full; with a
         * spare lane free it moves to it at once, even with IPCD_NONBLOCK */
        CHECK_EQ(client_stat("bk-bp", 1), 1);
        CHECK_R(send_data(p, "bk-r2", T_DATA, CHUNK, 300, false, IPCD_NONBLOCK | IPCD_ACK), 0);
        ring_state(NULL, &lanes, NULL);
        CHECK_EQ(lanes, 2);
        CHECK_EQ(client_stat("bk-bp", 1), 1); /* the old one was given back */
        recv_type(r2, &held2[0], T_DATA);
        CHECK(same(held2[0].data, CHUNK, 300));
        for (unsigned i = 1; i < 4; i++) {
                CHECK_R(send_data(p, "bk-r2", T_DATA, CHUNK, 300 + i, true, IPCD_ACK), 0);
                recv_type(r2, &held2[i], T_DATA);
                CHECK(same(held2[i].data, CHUNK, 300 + i));
        }
        for (unsigned i = 0; i < 4; i++)
                CHECK_R(send_data(p, "bk-r2", T_DATA, CHUNK, 400 + i, false, 0), 0);
        CHECK_R(ipcd_buf_alloc(p, CHUNK, IPCD_NONBLOCK, &buf), -EAGAIN);

        /* no spare lane now (lanes_per_uid = 2): a blocking send waits ... */
        x.p = p;
        CHECK(pthread_create(&t, NULL, blocked_send_thread, &x) == 0);
        tl_sleep_ms(500);
        CHECK_MSG(!__atomic_load_n(&x.done, __ATOMIC_ACQUIRE),
                  "a send into a full lane returned %d (%s) without waiting", x.r,
                  tl_errname(x.r));
        tl_expect_empty(r3);
        /* ... until r2 lets go */
        for (unsigned i = 0; i < 4; i++)
                ipcd_msg_release(r2, &held2[i]);
        /* r2 sits idle in ipcd_recv: its releases still go out */
        CHECK_R(tl_recv(r2, &m, 0, 300), -ETIMEDOUT);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK_R(x.r, 0);
        CHECK_MSG(x.ms >= 400, "the blocked send returned after %llu ms",
                  (unsigned long long)x.ms);
        recv_type(r3, &m, T_DATA);
        CHECK(same(m.data, CHUNK, 77));
        ipcd_msg_release(r3, &m);
        CHECK_R(tl_recv(r3, &m, 0, 0), -EAGAIN); /* finding nothing sends the release */

        /* r1 lets go too: its lane drains and is free again */
        for (unsigned i = 0; i < 4; i++)
                ipcd_msg_release(r1, &held1[i]);
        CHECK_R(tl_recv(r1, &m, 0, 0), -EAGAIN); /* a library call flushes (10 ms) */
        tl_sleep_ms(20);
        CHECK_R(tl_recv(r1, &m, 0, 0), -EAGAIN);
        wait_ring(1, "backpressure, r1 released");
        CHECK_EQ(client_stat("bk-r1", 2), 0);

        /* a wait for room gives up after 10 s.  The uid's spare lane is
         * taken first, by another producer of this uid, so that p cannot
         * move (a lane p gave back counts until it drains, so the order
         * matters on a loaded machine). */
        {
                ipcd_client *q = tl_connect("bk-bq");
                void *fill[16];
                unsigned nfill = 0;
                uint64_t t0;
                int r;

                CHECK_R(send_data(q, "bk-r3", T_DATA, CHUNK, 700, true, IPCD_ACK), 0);
                recv_type(r3, &m, T_DATA);
                for (unsigned i = 0; i < 4; i++)
                        CHECK_R(send_data(p, "bk-r2", T_DATA, CHUNK, 500 + i, true, IPCD_ACK), 0);
                for (unsigned i = 0; i < 4; i++)
                        recv_type(r2, &held2[i], T_DATA);
                /* r2 holds the lane's oldest chunk: fill the rest of it */
                while ((r = ipcd_buf_alloc(p, CHUNK, IPCD_NONBLOCK, &fill[nfill])) == 0)
                        CHECK_MSG(++nfill < ELEMENTSOF(fill), "the lane never fills");
                CHECK_R(r, -EAGAIN);
                CHECK(nfill > 0);
                t0 = tl_now_ms();
                CHECK_R(ipcd_buf_alloc(p, CHUNK, 0, &buf), -ETIMEDOUT);
                CHECK_MSG(tl_now_ms() - t0 >= 9000, "gave up after %llu ms",
                          (unsigned long long)(tl_now_ms() - t0));
                for (unsigned i = 0; i < nfill; i++)
                        ipcd_buf_free(p, fill[i]);
                ipcd_msg_release(r3, &m);
                ipcd_close(q);
        }
        for (unsigned i = 0; i < 4; i++)
                ipcd_msg_release(r2, &held2[i]);
        CHECK_R(tl_recv(r2, &m, 0, 0), -EAGAIN);
        CHECK_OK(ipcd_buf_alloc(p, CHUNK, 0, &buf));
        ipcd_buf_free(p, buf);

        ipcd_close(p);
        ipcd_close(r1);
        ipcd_close(r2);
        ipcd_close(r3);
        wait_ring(0, "backpressure");
        tl_log("backpressure: -EAGAIN, spare lane, wait and proceed, drops counted, 10 s limit");
}

/* ------------------------------------------------------------------ */
/* kill.                                                                */

static void test_kill(void)
{
        ipcd_client *p = tl_connect("bk-kp"), *r;
        int pfd[2], st, shmid;
        void *buf;
        pid_t pid;
        char x;

        ring_state(NULL, NULL, &shmid);

        /* A receiver holding half a lane is killed. */
        CHECK(pipe(pfd) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *k;
                ipcd_msg m[4];

                close(pfd[0]);
                k = tl_connect("bk-k");
                /* it drops past its held limit, by choice */
                CHECK_OK(ipcd_set_overflow(k, IPCD_OVERFLOW_DROP_NEW, 0, 0));
                CHECK(write(pfd[1], "r", 1) == 1);
                for (unsigned i = 0; i < 4; i++) {
                        recv_type(k, &m[i], T_DATA);
                        CHECK(same(m[i].data, CHUNK, 800 + i));
                }
                CHECK(write(pfd[1], "h", 1) == 1);
                pause();
                _exit(0);
        }
        close(pfd[1]);
        CHECK(read(pfd[0], &x, 1) == 1 && x == 'r');
        for (unsigned i = 0; i < 4; i++)
                CHECK_R(send_data(p, "bk-k", T_DATA, CHUNK, 800 + i, i % 2, IPCD_ACK), 0);
        CHECK(read(pfd[0], &x, 1) == 1 && x == 'h');
        close(pfd[0]);
        /* fill the rest of the lane: dropped for k, freed at once */
        for (unsigned i = 0; i < 4; i++)
                CHECK_R(send_data(p, "bk-k", T_DATA, CHUNK, 900 + i, true, 0), 0);
        /* the lane is full: even IPCD_NONBLOCK moves to the spare lane */
        CHECK_OK(ipcd_buf_alloc(p, CHUNK, IPCD_NONBLOCK, &buf));
        ipcd_buf_free(p, buf);
        CHECK(kill(pid, SIGKILL) == 0);
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFSIGNALED(st));
        /* its references go with it: the lane is ours again */
        wait_ring(1, "receiver killed");
        CHECK_OK(ipcd_buf_alloc(p, LANE_SIZE, IPCD_NONBLOCK, &buf));
        ipcd_buf_free(p, buf);

        /* A producer killed in the middle of a stream. */
        r = tl_connect("bk-kr");
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *q = tl_connect("bk-kq");

                for (uint64_t i = 0;; i++) {
                        int e = send_data(q, "bk-kr", T_DATA, 20000 + i % 3000, i, i % 2, 0);

                        CHECK_MSG(e == 0 || e == -EAGAIN, "producer: %d", e);
                }
        }
        {
                ipcd_msg held[3], m;
                unsigned n = 0;
                int e;

                /* receive, always holding the last three */
                for (uint64_t i = 0; i < 40; i++) {
                        recv_type(r, &m, T_DATA);
                        CHECK_STREQ(m.sender, "bk-kq");
                        CHECK(m.flags & IPCD_MSG_BULK);
                        if (n == 3)
                                ipcd_msg_release(r, &held[i % 3]);
                        else
                                n++;
                        held[i % 3] = m;
                }
                CHECK(kill(pid, SIGKILL) == 0);
                CHECK(waitpid(pid, &st, 0) == pid);
                CHECK(WIFSIGNALED(st));
                /* what it sent before it died is still readable, intact */
                while ((e = tl_recv(r, &m, 0, 0)) >= 0) {
                        CHECK(m.len >= 20000 && m.len < 23000);
                        ipcd_msg_release(r, &m);
                }
                CHECK_R(e, -EAGAIN);
                for (unsigned i = 0; i < n; i++) {
                        CHECK(held[i].len >= 20000);
                        ipcd_msg_release(r, &held[i]);
                }
                CHECK_R(tl_recv(r, &m, 0, 100), -ETIMEDOUT);
        }
        /* its lane drained and is free: only ours is in use */
        wait_ring(1, "producer killed");
        /* and a lane can be had again */
        CHECK_OK(send_data(r, "bk-kp", T_DATA, 50000, 1, true, IPCD_ACK));
        {
                ipcd_msg m;

                recv_type(p, &m, T_DATA);
                CHECK(same(m.data, 50000, 1));
                ipcd_msg_release(p, &m);
        }
        /* no segment but the ring (the killed ones' attachments went) */
        CHECK_EQ(tl_sysv_count("shm"), 1);
        {
                struct tl_sysv sv;

                CHECK(tl_sysv_find("shm", shmid, &sv) == 1);
        }
        ipcd_close(p);
        ipcd_close(r);
        wait_ring(0, "kill");
        tl_log("kill: receiver and producer killed, lanes reusable, no segment leaked");
}

/* ------------------------------------------------------------------ */
/* hostile descriptors.                                                 */

static uint64_t raw_cookie = 1000;

/* Send one record by hand; wait for its answer when want_answer.
 * Returns the status (answer payload copied into answer). */
static int raw_op(struct tl_raw *x, uint16_t op, uint16_t flags, const char *dst, long type,
                  uint64_t arg, const void *payload, uint32_t len, bool want_answer,
                  void *answer, size_t answer_size)
{
        uint8_t buf[1024] __attribute__((aligned(8)));
        struct wire_in h;
        size_t off = 0;
        uint64_t cookie = ++raw_cookie, deadline;

        tl_raw_header(x, &h, op, dst);
        h.flags = flags;
        h.type = type;
        h.cookie = cookie;
        h.arg = arg;
        h.len = len;
        CHECK_OK(wire_in_put(buf, sizeof(buf), &off, &h, dst, payload));
        CHECK_OK(tl_msgsnd(x->reg.inbound_qid, WIRE_MTYPE_IN, buf, off));
        if (!want_answer)
                return 0;
        deadline = tl_now_ms() + 10000;
        for (;;) {
                struct {
                        long mtype;
                        uint8_t mtext[4096];
                } m __attribute__((aligned(8)));
                struct wire_out o;
                const char *name, *topic;
                const void *pl;
                ssize_t n = msgrcv(x->reg.queue_qid, &m, sizeof(m.mtext), wire_reply_type(cookie),
                                   IPC_NOWAIT);
                size_t roff = 0;

                if (n < 0) {
                        CHECK_MSG(errno == ENOMSG, "msgrcv: %s", strerror(errno));
                        CHECK_MSG(tl_now_ms() < deadline, "no answer to op %u", op);
                        tl_sleep_ms(2);
                        continue;
                }
                if (n == 0)
                        return 0; /* a zero-byte success */
                CHECK(wire_out_next(m.mtext, (size_t)n, &roff, &o, &name, &topic, &pl) == 1);
                CHECK_EQ(o.kind, WIRE_OUT_ACK);
                CHECK_EQ(o.cookie, cookie);
                if (answer) {
                        memset(answer, 0, answer_size);
                        memcpy(answer, pl, MIN((size_t)o.len, answer_size));
                }
                return o.status;
        }
}

static int raw_bulk(struct tl_raw *x, const char *dst, const struct wire_bulk *d)
{
        return raw_op(x, WIRE_OP_SEND, WIRE_IN_BULK | WIRE_IN_ACK, dst, 5, 0, d, sizeof(*d), true,
                      NULL, 0);
}

/* A bulk stream between two library clients: intact. */
static void victim_exchange(ipcd_client *v, ipcd_client *w, uint64_t seed)
{
        for (unsigned i = 0; i < 6; i++) {
                ipcd_msg m;

                CHECK_R(send_data(v, "bk-w", T_DATA, 30000 + i, seed + i, i % 2, IPCD_ACK), 0);
                recv_type(w, &m, T_DATA);
                CHECK(m.flags & IPCD_MSG_BULK);
                CHECK(same(m.data, 30000 + i, seed + i));
                ipcd_msg_release(w, &m);
        }
}

static void test_hostile(void)
{
        ipcd_client *v = tl_connect("bk-v"), *w = tl_connect("bk-w"), *hr = tl_connect("bk-hr");
        struct wire_lane_grant gx, gy;
        struct tl_raw x, y;
        struct wire_bulk d;
        uint64_t bad0, f, used;
        unsigned nbad = 0;
        ipcd_msg held, m;

        victim_exchange(v, w, 1000);
        CHECK_R(tl_raw_register(&x, "bk-x", 0, 10000), 0);
        CHECK_R(tl_raw_register(&y, "bk-y", 0, 10000), 0);
        /* v holds one lane; x takes the other one root may have */
        CHECK_R(raw_op(&x, WIRE_OP_LANE, 0, NULL, 0, 0, NULL, 0, true, &gx, sizeof(gx)), 0);
        CHECK_EQ(gx.lane_size, LANE_SIZE);
        CHECK(gx.lane < gx.nlanes);
        /* lanes_per_uid: y cannot have a third */
        CHECK_R(raw_op(&y, WIRE_OP_LANE, 0, NULL, 0, 0, NULL, 0, true, &gy, sizeof(gy)), -EDQUOT);
        bad0 = bad_inbound();
        f = gx.free_pos;

#define BAD(expect, ...)                                                                           \
        do {                                                                                       \
                d = (struct wire_bulk){__VA_ARGS__};                                               \
                CHECK_R(raw_bulk(&x, "bk-hr", &d), expect);                                        \
                nbad++;                                                                            \
        } while (0)

        /* out of the window, across the lane end, huge, empty, overflowing */
        BAD(-EINVAL, .lane = gx.lane, .pos = f + LANE_SIZE, .len = 100, .hold = f);
        BAD(-EINVAL, .lane = gx.lane, .pos = f + LANE_SIZE - 50, .len = 100, .hold = f);
        BAD(-EINVAL, .lane = gx.lane, .pos = f, .len = LANE_SIZE + 1, .hold = f);
        BAD(-EINVAL, .lane = gx.lane, .pos = f, .len = 1ULL << 62, .hold = f);
        BAD(-EINVAL, .lane = gx.lane, .pos = UINT64_MAX - 10, .len = 100, .hold = f);
        BAD(-EINVAL, .lane = gx.lane, .pos = f, .len = 0, .hold = f);
        BAD(-EINVAL, .lane = gx.lane, .pos = f, .len = 100, .hold = f + 2 * LANE_SIZE);
        /* a lane that is not x's: v's, or a free one, or none */
        for (uint32_t l = 0; l < gx.nlanes; l++)
                if (l != gx.lane)
                        BAD(-EINVAL, .lane = l, .pos = 0, .len = 100, .hold = 0);
        BAD(-EINVAL, .lane = gx.nlanes, .pos = 0, .len = 100, .hold = 0);
        BAD(-EINVAL, .lane = UINT32_MAX, .pos = 0, .len = 100, .hold = 0);
        /* a ring that does not exist */
        BAD(-EACCES, .ring = 1, .lane = gx.lane, .pos = f, .len = 100, .hold = f);

        /* a valid chunk, held by hr */
        d = (struct wire_bulk){.lane = gx.lane, .pos = f, .len = 1000, .hold = f + 1000};
        CHECK_R(raw_bulk(&x, "bk-hr", &d), 0);
        recv_type(hr, &held, 5);
        CHECK(held.flags & IPCD_MSG_BULK);
        CHECK_EQ(held.len, 1000);
        CHECK_STREQ(held.sender, "bk-x");
        ring_state(&used, NULL, NULL);
        CHECK_EQ(used, 1000);
        /* overlapping it, or the same again while in flight */
        BAD(-EINVAL, .lane = gx.lane, .pos = f + 500, .len = 1000, .hold = f + 1500);
        BAD(-EINVAL, .lane = gx.lane, .pos = f, .len = 1000, .hold = f + 1000);
        BAD(-EINVAL, .lane = gx.lane, .pos = f - 10, .len = 20, .hold = f + 1000);
        /* a hold going back */
        BAD(-EINVAL, .lane = gx.lane, .pos = f + 2000, .len = 10, .hold = f + 10);
        /* y releases hr's chunk, hr's release of a chunk it never had:
         * counted, nothing freed */
        {
                struct wire_release rel = {.ring = 0, .lane = gx.lane, .pos = f};

                raw_op(&y, WIRE_OP_RELEASE, 0, NULL, 0, 0, &rel, sizeof(rel), false, NULL, 0);
                nbad++;
                rel.pos = f + 12345;
                raw_op(&x, WIRE_OP_RELEASE, 0, NULL, 0, 0, &rel, sizeof(rel), false, NULL, 0);
                nbad++;
                /* malformed: not a whole number of descriptors */
                raw_op(&x, WIRE_OP_RELEASE, 0, NULL, 0, 0, &rel, 8, false, NULL, 0);
                nbad++;
        }
        /* a descriptor of the wrong size; bulk on an operation without payload */
        {
                uint64_t junk = 0;

                CHECK_R(raw_op(&x, WIRE_OP_SEND, WIRE_IN_BULK | WIRE_IN_ACK, "bk-hr", 5, 0, &junk,
                               sizeof(junk), true, NULL, 0),
                        -EINVAL);
                nbad++;
                CHECK_R(raw_op(&x, WIRE_OP_PING, WIRE_IN_BULK | WIRE_IN_ACK, NULL, 0, 0, NULL, 0,
                               true, NULL, 0),
                        -EINVAL);
                nbad++;
        }
        (void)raw_op(&x, WIRE_OP_PING, 0, NULL, 0, 0, NULL, 0, true, NULL, 0); /* all processed */
        ring_state(&used, NULL, NULL);
        CHECK_EQ(used, 1000);
        CHECK_MSG(bad_inbound() >= bad0 + nbad, "bad_inbound %llu, expected at least %llu",
                  (unsigned long long)bad_inbound(), (unsigned long long)(bad0 + nbad));

        /* released: the position is free; the same descriptor again is a replay */
        ipcd_msg_release(hr, &held);
        CHECK_R(tl_recv(hr, &m, 0, 50), -ETIMEDOUT);
        wait_ring(2, "hostile, chunk released");
        BAD(-EINVAL, .lane = gx.lane, .pos = f, .len = 1000, .hold = f + 1000);
        /* a new chunk after it is fine; to nobody: -ENOENT, freed */
        d = (struct wire_bulk){.lane = gx.lane, .pos = f + 1000, .len = 1000, .hold = f + 2000};
        CHECK_R(raw_bulk(&x, "bk-nobody-here", &d), -ENOENT);
        BAD(-EINVAL, .lane = gx.lane, .pos = f + 1000, .len = 1000, .hold = f + 2000);
#undef BAD

        /* nobody else noticed */
        victim_exchange(v, w, 2000);
        CHECK_EQ(client_stat("bk-w", 0), 0);
        CHECK_EQ(client_stat("bk-hr", 0), 0);
        tl_expect_empty(hr);
        tl_expect_empty(w);

        /* x leaves without giving its lane back: ipcd takes it */
        tl_raw_close(&x);
        tl_raw_close(&y);
        ipcd_close(v);
        ipcd_close(w);
        ipcd_close(hr);
        wait_ring(0, "hostile");
        tl_log("hostile: %u bad descriptors and releases refused and counted", nbad);
}

/* ------------------------------------------------------------------ */
/* another uid, without the ring's group.                               */

static void test_uid(void)
{
        ipcd_client *root;
        struct tl_status st;
        gid_t ring_gid;
        int pfd[2], st2;
        uint8_t *big;
        size_t len;
        pid_t pid;
        ipcd_msg m;
        char x;

        if (geteuid() != 0) {
                tl_log("uid: SKIP (not root)");
                return;
        }
        tl_status(&st);
        ring_gid = st.rings[0].gid;
        tl_status_free(&st);
        if (ring_gid == NOBODY) {
                tl_log("uid: SKIP (the ring's group is nobody's)");
                return;
        }
        root = tl_connect("bk-root");
        len = ipcd_max_inline(root) + 1000;
        big = calloc(1, len);
        CHECK(big);
        CHECK(pipe(pfd) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *c;
                void *buf;
                int r;

                close(pfd[0]);
                if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0) {
                        /* a user namespace that does not map nobody */
                        CHECK(write(pfd[1], "s", 1) == 1);
                        _exit(0);
                }
                c = tl_connect("bk-nobody");
                r = ipcd_send(c, "bk-root", 1, big, len, IPCD_ACK);
                CHECK_MSG(r == -EACCES, "bulk send without the ring's group: %d (%s)", r,
                          tl_errname(r));
                CHECK_R(ipcd_buf_alloc(c, 100, 0, &buf), -EACCES);
                CHECK_R(ipcd_buf_alloc(c, 100, IPCD_NONBLOCK, &buf), -EACCES);
                /* small messages: fine */
                tl_send(c, "bk-root", 2, "small", 5, IPCD_ACK);
                CHECK(write(pfd[1], "d", 1) == 1);
                /* root's bulk message is dropped for us; its small ones come */
                recv_type(c, &m, 3);
                CHECK_EQ(m.len, 5);
                CHECK(memcmp(m.data, "small", 5) == 0);
                ipcd_msg_release(c, &m);
                recv_type(c, &m, 4);
                CHECK_EQ(m.len, 3);
                ipcd_msg_release(c, &m);
                tl_expect_empty(c);
                ipcd_close(c);
                _exit(0);
        }
        close(pfd[1]);
        CHECK(read(pfd[0], &x, 1) == 1);
        if (x == 's') {
                CHECK(waitpid(pid, &st2, 0) == pid);
                tl_log("uid: SKIP (cannot become nobody)");
                close(pfd[0]);
                free(big);
                ipcd_close(root);
                return;
        }
        CHECK_EQ(x, 'd');
        close(pfd[0]);
        recv_type(root, &m, 2);
        CHECK_EQ(m.sender_uid, NOBODY);
        ipcd_msg_release(root, &m);
        tl_expect_empty(root);
        /* root sends bulk to nobody: it cannot map the ring */
        {
                uint64_t drops = client_stat("bk-nobody", 0);

                CHECK_R(ipcd_send(root, "bk-nobody", 3, big, len, IPCD_ACK), -EACCES);
                CHECK_EQ(client_stat("bk-nobody", 0), drops + 1);
        }
        tl_send(root, "bk-nobody", 3, "small", 5, IPCD_ACK);
        tl_send(root, "bk-nobody", 4, "end", 3, IPCD_ACK);
        CHECK(waitpid(pid, &st2, 0) == pid);
        CHECK_MSG(WIFEXITED(st2) && WEXITSTATUS(st2) == 0, "nobody's child failed: %#x", st2);
        free(big);
        ipcd_close(root);
        wait_ring(0, "uid");
        tl_log("uid: -EACCES for bulk both ways without the ring's group, small messages work");
}

/* ------------------------------------------------------------------ */
/* threads: several threads send bulk data on one handle.               */

#define NTHREADS 4
#define PER_THREAD 150

struct sender {
        ipcd_client *c;
        unsigned id;
        unsigned retries;
};

static size_t thread_len(unsigned id, unsigned i)
{
        return 9000 + (id * 7919 + i * 104729) % 30000;
}

static void *sender_thread(void *arg)
{
        struct sender *x = arg;

        for (unsigned i = 0; i < PER_THREAD; i++) {
                size_t len = thread_len(x->id, i);
                uint64_t seed = (uint64_t)x->id << 32 | i;
                void *buf;
                int e;

                CHECK_OK(ipcd_buf_alloc(x->c, len, 0, &buf));
                fill(buf, len, seed);
                ((uint32_t *)buf)[0] = x->id;
                ((uint32_t *)buf)[1] = i;
                /* The receiver's held limit drops what it cannot take yet
                 * (IPCD_ACK: -EAGAIN): the buffer stays ours, send it again. */
                while ((e = ipcd_send_buf(x->c, "bk-tr", T_DATA, buf, len, IPCD_ACK)) == -EAGAIN) {
                        x->retries++;
                        tl_sleep_ms(1);
                }
                CHECK_R(e, 0);
        }
        return NULL;
}

static void test_threads(void)
{
        struct sender s[NTHREADS];
        pthread_t t[NTHREADS];
        ipcd_client *p;
        unsigned retries = 0;
        int pfd[2], st;
        pid_t pid;
        char x;

        CHECK(pipe(pfd) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *r = tl_connect("bk-tr");
                unsigned next[NTHREADS] = {0};

                close(pfd[0]);
                CHECK(write(pfd[1], "r", 1) == 1);
                for (unsigned n = 0; n < NTHREADS * PER_THREAD; n++) {
                        ipcd_msg m;
                        uint32_t id, i;

                        recv_type(r, &m, T_DATA);
                        CHECK(m.flags & IPCD_MSG_BULK);
                        CHECK(m.len >= 8);
                        memcpy(&id, m.data, 4);
                        memcpy(&i, (const uint8_t *)m.data + 4, 4);
                        CHECK(id < NTHREADS);
                        CHECK_MSG(i == next[id], "thread %u: message %u, expected %u", id, i,
                                  next[id]);
                        next[id]++;
                        CHECK_EQ(m.len, thread_len(id, i));
                        {
                                uint8_t *want = malloc(m.len);

                                CHECK(want);
                                fill(want, m.len, (uint64_t)id << 32 | i);
                                CHECK_MSG(memcmp((const uint8_t *)m.data + 8, want + 8,
                                                 m.len - 8) == 0,
                                          "thread %u message %u differs", id, i);
                                free(want);
                        }
                        ipcd_msg_release(r, &m);
                }
                tl_expect_empty(r);
                ipcd_close(r);
                _exit(0);
        }
        close(pfd[1]);
        CHECK(read(pfd[0], &x, 1) == 1);
        close(pfd[0]);
        p = tl_connect("bk-tp");
        for (unsigned i = 0; i < NTHREADS; i++) {
                s[i] = (struct sender){.c = p, .id = i};
                CHECK(pthread_create(&t[i], NULL, sender_thread, &s[i]) == 0);
        }
        for (unsigned i = 0; i < NTHREADS; i++) {
                CHECK(pthread_join(t[i], NULL) == 0);
                retries += s[i].retries;
        }
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "receiver failed: %#x", st);
        ipcd_close(p);
        wait_ring(0, "threads");
        tl_log("threads: %u threads x %u payloads on one handle, in order, intact (%u resent)",
               NTHREADS, PER_THREAD, retries);
}

/* ------------------------------------------------------------------ */
/* restart (run on its own: test-bulk restart; starts its own ipcd).    */

static void test_restart(void)
{
        ipcd_client *p, *r;
        ipcd_msg m1, m2, m;
        struct tl_status st;
        void *u;
        pid_t pid;
        int e;

        pid = tl_ipcd_start();
        p = tl_connect("bk-rp");
        r = tl_connect("bk-rr");
        CHECK_R(send_data(p, "bk-rr", T_DATA, 40000, 1, true, 0), 0);
        CHECK_R(send_data(p, "bk-rr", T_DATA, 40001, 2, false, 0), 0);
        CHECK_OK(ipcd_buf_alloc(p, 30000, 0, &u));
        fill(u, 30000, 3);
        recv_type(r, &m1, T_DATA);
        recv_type(r, &m2, T_DATA);
        CHECK(same(m2.data, 40001, 2));
        ipcd_msg_release(r, &m2); /* pending in the library */

        CHECK_EQ(tl_ipcd_stop(pid, SIGTERM), 0);
        /* ipcd is gone; what r holds is still mapped, and intact */
        CHECK(same(m1.data, 40000, 1));
        pid = tl_ipcd_start();

        /* the unsent buffer belonged to the old ipcd */
        CHECK_R(ipcd_send_buf(p, "bk-rr", T_DATA, u, 30000, 0), -ECONNRESET);
        CHECK_R(ipcd_send_buf(p, "bk-rr", T_DATA, u, 30000, 0), -ECONNRESET);
        ipcd_buf_free(p, u);
        /* a new lane in the new ring, once reconnected */
        for (int i = 0;; i++) {
                e = send_data(p, "bk-rr", T_DATA, 50000, 4, true, IPCD_ACK);
                if (e != -ECONNRESET && e != -ENOENT)
                        break;
                /* r has not registered again yet */
                CHECK(i < 500);
                if (e == -ECONNRESET)
                        continue;
                (void)tl_recv(r, &m, 0, 0);
                tl_sleep_ms(10);
        }
        CHECK_R(e, 0);
        e = tl_recv(r, &m, 0, 30000);
        if (e == -ECONNRESET)
                e = tl_recv(r, &m, 0, 30000);
        CHECK_OK(e);
        CHECK(m.flags & IPCD_MSG_BULK);
        CHECK(same(m.data, 50000, 4));
        ipcd_msg_release(r, &m);
        /* the old session's message: releasing it sends nothing */
        ipcd_msg_release(r, &m1);
        CHECK_R(tl_recv(r, &m, 0, 0), -EAGAIN);
        tl_sync(r);
        tl_sync(p);
        tl_status(&st);
        CHECK_MSG(st.daemon.bad_inbound == 0, "the new ipcd rejected %llu records",
                  (unsigned long long)st.daemon.bad_inbound);
        CHECK_EQ(st.rings[0].used, 0);
        tl_status_free(&st);
        /* the old ring went with our last reference to it */
        CHECK_EQ(tl_sysv_count("shm"), 1);
        ipcd_close(p);
        ipcd_close(r);
        CHECK_EQ(tl_ipcd_stop(pid, SIGTERM), 0);
        CHECK_EQ(tl_sysv_count("shm"), 0);
        tl_log("restart: old buffers -ECONNRESET, held data readable, old ring detached, "
               "no stale release reaches the new ipcd");
}

int main(int argc, char **argv)
{
        /* One part only (by name), for debugging: test-bulk PART */
        const char *only = argc > 1 && argv[1][0] ? argv[1] : NULL;

        tl_init(argc, argv);
        if (!only || !strcmp(only, "intact"))
                test_intact();
        if (!only || !strcmp(only, "zero-copy"))
                test_zero_copy();
        if (!only || !strcmp(only, "backpressure"))
                test_backpressure();
        if (!only || !strcmp(only, "kill"))
                test_kill();
        if (!only || !strcmp(only, "hostile"))
                test_hostile();
        if (!only || !strcmp(only, "threads"))
                test_threads();
        if (!only || !strcmp(only, "uid"))
                test_uid();
        if (only && !strcmp(only, "restart"))
                test_restart();
        return 0;
}
