/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * channel.c - direct channels: ipcd_channel_open/accept set one up through
 * ipcd (WIRE_OP_CHANNEL_OPEN, _ATTACHED: ipcd checks the pair, owns the
 * segment and hands it from the opener's uid to the acceptor's, see
 * src/ipcd/core/channel.c), then ipcd_channel_send/recv move messages
 * through the segment's two rings (shared/chanfmt.h) without ipcd and
 * without a system call while the receiver spins.
 *
 * Each end keeps its own positions (head of the ring it writes, tail of
 * the one it reads) and the sizes ipcd gave it; what it reads from the
 * segment (the peer's position, a record's length and type) is checked
 * before use, so garbage written by the peer gives -EBADMSG, never a read
 * or a write outside the ring.  A received payload is copied out of the
 * ring before it is returned (the peer cannot change it under the reader).
 *
 * One thread may send and one receive on a channel at a time (single
 * producer, single consumer); ipcd_channel_close must not race with them.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/client.h"
#include "shared/chanfmt.h"
#include "shared/clock.h"
#include "shared/macro.h"
#include "shared/names.h"

#define CHANNEL_SPIN_DEFAULT_US 50
#define CHANNEL_SEND_WAIT_USEC (10000ULL * USEC_PER_MSEC) /* a full ring, as bulk */

struct ipcd_channel {
        ipcd_client *c;
        uint64_t id, gen;
        void *base;
        struct chan_shm_hdr *hdr;
        struct chan_shm_dir *tx, *rx;
        uint8_t *tx_data, *rx_data;
        uint64_t cap, mask, max_msg;
        uint64_t head, tail;     /* ours, authoritative */
        uint64_t tail_seen;      /* the consumer's tail as last read (validated) */
        uint64_t head_seen;      /* the producer's head as last read (validated) */
        uint64_t tail_told;      /* the tail we last published */
        uint64_t sent, received;
        uint64_t spin_us;
        int error;               /* sticky: -ECONNRESET, -EBADMSG */
        uint64_t peer_id;
        uid_t peer_uid;
        pid_t peer_pid;
        char peer_name[IPCD_NAME_MAX];
        uint8_t *buf;            /* the last received payload */
        ipcd_msg tmpl;           /* what every received msg carries: the peer, flags */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
}

/* One turn of a spin; every 64th also yields the CPU: when the peer
 * shares our CPU (two busy CPUs, or one), spinning would only keep it from
 * making the progress we wait for (measured: a channel then fell to one
 * message per wake-up, 0.2-0.5 M/s at 1 KiB). */
static inline void spin_turn(unsigned i)
{
        if ((i & 63) == 0)
                sched_yield();
        else
                cpu_relax();
}

static void futex_wake1(uint32_t *word)
{
        (void)syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Sleep while *word == 1, at most until deadline (usec, 0: forever). */
static void futex_wait1(uint32_t *word, uint64_t deadline)
{
        struct timespec ts, *tp = NULL;

        if (deadline) {
                uint64_t now = clock_now_us();

                if (now >= deadline)
                        return;
                usec_to_timespec(deadline - now, &ts);
                tp = &ts;
        }
        (void)syscall(SYS_futex, word, FUTEX_WAIT, 1, tp, NULL, 0);
}

static uint64_t pad8(uint64_t n)
{
        return (n + 7) & ~(uint64_t)7;
}

/* ------------------------------------------------------------------ */
/* Setting up.                                                          */

static void channel_send_close(ipcd_channel *ch)
{
        ipcd_client *c = ch->c;
        struct lib_req q = {
                .op = WIRE_OP_CHANNEL_CLOSE,
                .arg = ch->id,
                .qfull = QFULL_RETRY,
                .deadline = clock_deadline_us(ACK_TIMEOUT_USEC),
        };
        struct session s;
        bool same;

        pthread_mutex_lock(&c->lock);
        same = c->connected && c->s.gen == ch->gen;
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        if (same) /* else ipcd forgot it already */
                (void)lib_send(c, &s, &q, 0);
}

static void channel_free(ipcd_channel *ch)
{
        if (ch->base && ch->base != (void *)-1)
                (void)shmdt(ch->base);
        free(ch->buf);
        free(ch);
}

/* Map what ipcd granted; opener: we write direction 0. */
static int channel_new(ipcd_client *c, const struct wire_channel_grant *g, bool opener,
                       ipcd_channel **ret)
{
        ipcd_channel *ch;
        uint64_t b = g->dir_bytes;

        /* ipcd is trusted, but a mistake must not make us write wild. */
        if (b < 4096 || (b & (b - 1)) || b > (1ULL << 32) || g->shmid < 0)
                return -EPROTO;
        ch = calloc(1, sizeof(*ch));
        if (!ch)
                return -ENOMEM;
        ch->c = c;
        ch->id = g->channel_id;
        ch->cap = b;
        ch->mask = b - 1;
        ch->max_msg = chan_max_msg(b);
        ch->spin_us = CHANNEL_SPIN_DEFAULT_US;
        ch->peer_id = g->peer_id;
        ch->peer_uid = (uid_t)g->peer_uid;
        ch->peer_pid = g->peer_pid;
        memcpy(ch->peer_name, g->peer_name, sizeof(ch->peer_name));
        ch->peer_name[sizeof(ch->peer_name) - 1] = '\0';
        memcpy(ch->tmpl.sender, ch->peer_name, sizeof(ch->tmpl.sender));
        ch->tmpl.sender_id = ch->peer_id;
        ch->tmpl.sender_uid = ch->peer_uid;
        ch->tmpl.sender_pid = ch->peer_pid;
        ch->tmpl.flags = IPCD_MSG_CHANNEL;
        ch->buf = malloc(ch->max_msg);
        ch->base = shmat(g->shmid, NULL, 0);
        if (!ch->buf || ch->base == (void *)-1) {
                /* A segment already gone: the channel was closed meanwhile. */
                int e = !ch->buf ? -ENOMEM : errno == EINVAL || errno == EIDRM ? -ECONNRESET
                                                                              : -errno;

                channel_free(ch);
                return e;
        }
        ch->hdr = ch->base;
        ch->tx = (struct chan_shm_dir *)((uint8_t *)ch->base + 64) + (opener ? 0 : 1);
        ch->rx = (struct chan_shm_dir *)((uint8_t *)ch->base + 64) + (opener ? 1 : 0);
        ch->tx_data = (uint8_t *)ch->base + CHAN_DATA_OFF + (opener ? 0 : b);
        ch->rx_data = (uint8_t *)ch->base + CHAN_DATA_OFF + (opener ? b : 0);
        pthread_mutex_lock(&c->lock);
        ch->gen = c->s.gen;
        pthread_mutex_unlock(&c->lock);
        *ret = ch;
        return 0;
}

/* An answered channel request; the answer's payload into answer. */
static int channel_request(ipcd_client *c, enum wire_op op, const char *dst, uint64_t arg,
                           void *answer, size_t answer_size)
{
        struct waiter w = {.answer = answer, .answer_size = answer_size};
        struct lib_req q = {
                .op = op,
                .dst = dst,
                .arg = arg,
                .qfull = QFULL_RETRY,
                .deadline = clock_deadline_us(ACK_TIMEOUT_USEC),
        };
        int r = lib_request(c, &q, &w);

        if (r >= 0 && answer && w.answer_len != answer_size)
                return -EPROTO;
        return MIN(r, 0);
}

static int channel_enter(ipcd_client *c)
{
        if (client_forked(c))
                return -ECHILD;
        (void)client_ob_flush(c, false); /* IPCD_MORE: held sends go first */
        return client_ensure_in(c, RECONNECT_DEFAULT_USEC, true);
}

IPCD_EXPORT int ipcd_channel_open(ipcd_client *c, const char *dst, int flags, ipcd_channel **ret)
{
        struct wire_channel_grant g;
        ipcd_channel *ch;
        int r;

        if (!c || !ret || !name_is_valid(dst) || flags != 0)
                return -EINVAL;
        r = channel_enter(c);
        if (r < 0)
                return r;
        r = channel_request(c, WIRE_OP_CHANNEL_OPEN, dst, 0, &g, sizeof(g));
        if (r < 0)
                return r;
        r = channel_new(c, &g, true, &ch);
        if (r < 0) {
                ipcd_channel tmp = {.c = c, .id = g.channel_id};

                pthread_mutex_lock(&c->lock);
                tmp.gen = c->s.gen;
                pthread_mutex_unlock(&c->lock);
                channel_send_close(&tmp);
                return r;
        }
        /* Mapped: now ipcd hands it to dst and offers it. */
        r = channel_request(c, WIRE_OP_CHANNEL_ATTACHED, NULL, ch->id, NULL, 0);
        if (r < 0) {
                channel_send_close(ch);
                channel_free(ch);
                return r;
        }
        *ret = ch;
        return 0;
}

IPCD_EXPORT int ipcd_channel_accept(ipcd_client *c, const ipcd_msg *offer, ipcd_channel **ret)
{
        struct wire_channel_grant g;
        ipcd_channel *ch;
        int r;

        if (!c || !offer || !ret || !(offer->flags & IPCD_MSG_NOTICE) ||
            offer->type != IPCD_NOTICE_CHANNEL || offer->len != sizeof(g) || !offer->data)
                return -EINVAL;
        memcpy(&g, offer->data, sizeof(g));
        if (g.channel_id != offer->id)
                return -EINVAL;
        r = channel_enter(c);
        if (r < 0)
                return r;
        r = channel_new(c, &g, false, &ch);
        if (r < 0)
                return r;
        r = channel_request(c, WIRE_OP_CHANNEL_ATTACHED, NULL, ch->id, NULL, 0);
        if (r < 0) {
                channel_free(ch);
                /* ipcd knows it no more: its opener closed it or left. */
                return r == -ENOENT ? -ECONNRESET : r;
        }
        *ret = ch;
        return 0;
}

IPCD_EXPORT int ipcd_channel_set_spin(ipcd_channel *ch, unsigned spin_us)
{
        if (!ch)
                return -EINVAL;
        ch->spin_us = spin_us;
        return 0;
}

IPCD_EXPORT uint64_t ipcd_channel_id(const ipcd_channel *ch)
{
        return ch ? ch->id : 0;
}

IPCD_EXPORT size_t ipcd_channel_max_msg(const ipcd_channel *ch)
{
        return ch ? (size_t)ch->max_msg : 0;
}

/* Our own end is over: say so in the segment, wake the peer. */
static int channel_fail(ipcd_channel *ch, int error)
{
        uint32_t st = error == -EBADMSG ? CHAN_STATE_CORRUPT : CHAN_STATE_CLOSED;

        if (ch->error)
                return ch->error;
        ch->error = error;
        __atomic_store_n(&ch->hdr->state, st, __ATOMIC_SEQ_CST);
        __atomic_store_n(&ch->rx->tx_wait, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&ch->tx->rx_wait, 0, __ATOMIC_SEQ_CST);
        futex_wake1(&ch->rx->tx_wait);
        futex_wake1(&ch->tx->rx_wait);
        if (error == -EBADMSG)
                channel_send_close(ch); /* ipcd tears it down */
        return error;
}

/* The peer or ipcd closed it: -ECONNRESET, or -EBADMSG if the peer
 * found our ring corrupt; 0 while open. */
static int channel_state(ipcd_channel *ch)
{
        uint32_t st = __atomic_load_n(&ch->hdr->state, __ATOMIC_ACQUIRE);

        if (st == CHAN_STATE_OPEN)
                return 0;
        return st == CHAN_STATE_CORRUPT ? -EBADMSG : -ECONNRESET;
}

IPCD_EXPORT void ipcd_channel_close(ipcd_channel *ch)
{
        if (!ch)
                return;
        if (!ch->error && channel_state(ch) == 0)
                (void)channel_fail(ch, -ECONNRESET);
        if (ch->error != -EBADMSG)
                channel_send_close(ch);
        channel_free(ch);
}

/* ------------------------------------------------------------------ */
/* Sending.                                                             */

/* Room for need bytes after skipping wrap: 1, 0 (full), or -EBADMSG. */
static int tx_room(ipcd_channel *ch, uint64_t need, uint64_t *wrap)
{
        uint64_t off = ch->head & ch->mask, tail;

        *wrap = off + need > ch->cap ? ch->cap - off : 0;
        if (ch->cap - (ch->head - ch->tail_seen) >= *wrap + need)
                return 1; /* room by what we saw last: no cache-line transfer */
        tail = __atomic_load_n(&ch->tx->tail, __ATOMIC_ACQUIRE);
        if (ch->head - tail > ch->cap || (tail & 7) || tail - ch->tail_seen > ch->cap)
                return -EBADMSG; /* the peer wrote a tail we never reached, or went back */
        ch->tail_seen = tail;
        return ch->cap - (ch->head - tail) >= *wrap + need;
}

/* Wait for room: spin, then sleep on tx_wait (woken by the consumer). */
static int tx_wait(ipcd_channel *ch, uint64_t need, uint64_t deadline)
{
        uint64_t wrap, spin_end = clock_now_us() + ch->spin_us;
        int r;

        for (unsigned i = 0;; i++) {
                r = tx_room(ch, need, &wrap);
                if (r != 0)
                        return r < 0 ? channel_fail(ch, r) : 0;
                r = channel_state(ch);
                if (r < 0)
                        return channel_fail(ch, r);
                if (!ch->spin_us || ((i & 63) == 0 && clock_now_us() >= spin_end))
                        break;
                spin_turn(i);
        }
        for (;;) {
                __atomic_store_n(&ch->tx->tx_wait, 1, __ATOMIC_SEQ_CST);
                r = tx_room(ch, need, &wrap);
                if (r == 0 && (r = channel_state(ch)) == 0) {
                        if (clock_now_us() >= deadline) {
                                __atomic_store_n(&ch->tx->tx_wait, 0, __ATOMIC_RELAXED);
                                return -ETIMEDOUT;
                        }
                        futex_wait1(&ch->tx->tx_wait, deadline);
                        continue;
                }
                __atomic_store_n(&ch->tx->tx_wait, 0, __ATOMIC_RELAXED);
                if (r < 0)
                        return channel_fail(ch, r);
                return 0;
        }
}

IPCD_EXPORT int ipcd_channel_send(ipcd_channel *ch, long type, const void *data, size_t len,
                                  int flags)
{
        struct chan_rec rec;
        uint64_t need, wrap, off;
        int r;

        if (!ch || !wire_type_is_user(type) || (!data && len) || (flags & ~IPCD_NONBLOCK))
                return -EINVAL;
        if (ch->error)
                return ch->error;
        if (len > ch->max_msg)
                return -EMSGSIZE;
        r = channel_state(ch);
        if (r < 0)
                return channel_fail(ch, r);
        need = sizeof(rec) + pad8(len);
        r = tx_room(ch, need, &wrap);
        if (r < 0)
                return channel_fail(ch, r);
        if (r == 0) {
                if (flags & IPCD_NONBLOCK)
                        return -EAGAIN;
                r = tx_wait(ch, need, clock_deadline_us(CHANNEL_SEND_WAIT_USEC));
                if (r < 0)
                        return r;
                (void)tx_room(ch, need, &wrap);
        }
        off = ch->head & ch->mask;
        if (wrap) {
                rec = (struct chan_rec){ .len = 0, .type = CHAN_REC_WRAP };
                memcpy(ch->tx_data + off, &rec, sizeof(rec));
                ch->head += wrap;
                off = 0;
        }
        rec = (struct chan_rec){ .len = (uint32_t)len, .type = (uint32_t)type };
        memcpy(ch->tx_data + off, &rec, sizeof(rec));
        if (len)
                memcpy(ch->tx_data + off + sizeof(rec), data, len);
        ch->head += need;
        __atomic_store_n(&ch->tx->sent, ++ch->sent, __ATOMIC_RELAXED);
        /* Publish, then look whether the consumer sleeps (seq_cst on both
         * sides: it sets rx_wait, then reads head).  This full fence is
         * most of a send's own time (the store buffer drains, waiting for
         * the lines the consumer holds); without it a wake-up can be
         * lost, see "Waking" in shared/chanfmt.h. */
        __atomic_store_n(&ch->tx->head, ch->head, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&ch->tx->rx_wait, __ATOMIC_SEQ_CST)) {
                __atomic_store_n(&ch->tx->rx_wait, 0, __ATOMIC_RELAXED);
                futex_wake1(&ch->tx->rx_wait);
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* Receiving.                                                           */

/* Tell the producer how far we read, and wake it if it waits for room. */
static void rx_publish(ipcd_channel *ch)
{
        if (ch->tail_told == ch->tail)
                return;
        ch->tail_told = ch->tail;
        __atomic_store_n(&ch->rx->received, ch->received, __ATOMIC_RELAXED);
        __atomic_store_n(&ch->rx->tail, ch->tail, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&ch->rx->tx_wait, __ATOMIC_SEQ_CST)) {
                __atomic_store_n(&ch->rx->tx_wait, 0, __ATOMIC_RELAXED);
                futex_wake1(&ch->rx->tx_wait);
        }
}

/* Bytes readable: from the head we saw last, or read again (validated). */
static int64_t rx_avail(ipcd_channel *ch)
{
        uint64_t head;

        if (ch->head_seen != ch->tail)
                return (int64_t)(ch->head_seen - ch->tail);
        head = __atomic_load_n(&ch->rx->head, __ATOMIC_ACQUIRE);
        if (head - ch->tail > ch->cap || (head & 7))
                return -EBADMSG;
        ch->head_seen = head;
        return (int64_t)(head - ch->tail);
}

/* Take the next record: 1 (msg filled), 0 (empty), or -EBADMSG. */
static int rx_take(ipcd_channel *ch, ipcd_msg *msg)
{
        for (;;) {
                int64_t n = rx_avail(ch);
                uint64_t avail = (uint64_t)n, off = ch->tail & ch->mask, need;
                struct chan_rec rec;

                if (n <= 0)
                        return (int)n; /* rx_sleep publishes before it waits */
                if (avail < sizeof(rec))
                        return -EBADMSG;
                memcpy(&rec, ch->rx_data + off, sizeof(rec)); /* read once */
                if (rec.type == CHAN_REC_WRAP) {
                        if (off == 0 || ch->cap - off > avail)
                                return -EBADMSG;
                        ch->tail += ch->cap - off;
                        if (ch->tail - ch->tail_told >= ch->cap / 4)
                                rx_publish(ch);
                        continue;
                }
                need = sizeof(rec) + pad8(rec.len);
                if (rec.len > ch->max_msg || rec.type > IPCD_TYPE_MAX || need > avail ||
                    off + need > ch->cap)
                        return -EBADMSG;
                memcpy(ch->buf, ch->rx_data + off + sizeof(rec), rec.len);
                ch->tail += need;
                ch->received++;
                if (ch->tail - ch->tail_told >= ch->cap / 4)
                        rx_publish(ch);
                *msg = ch->tmpl;
                msg->type = rec.type;
                msg->data = ch->buf;
                msg->len = rec.len;
                return 1;
        }
}

/* Nothing there: sleep until the producer wakes us; 0 when something may
 * be there (look again), or -ETIMEDOUT.  rx_wait stays 1 from our store
 * until we leave (the producer clears it when it wakes us). */
static int rx_sleep(ipcd_channel *ch, uint64_t deadline)
{
        int r = 0;

        rx_publish(ch);
        __atomic_store_n(&ch->rx->rx_wait, 1, __ATOMIC_SEQ_CST);
        for (;;) {
                if (__atomic_load_n(&ch->rx->head, __ATOMIC_SEQ_CST) != ch->tail ||
                    channel_state(ch) != 0)
                        break;
                if (deadline && clock_now_us() >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                futex_wait1(&ch->rx->rx_wait, deadline);
                /* Cleared: the producer (or a closing end) woke us. */
                if (__atomic_load_n(&ch->rx->rx_wait, __ATOMIC_ACQUIRE) == 0)
                        break;
        }
        __atomic_store_n(&ch->rx->rx_wait, 0, __ATOMIC_RELAXED);
        return r;
}

IPCD_EXPORT int ipcd_channel_recv(ipcd_channel *ch, ipcd_msg *msg, int timeout_ms)
{
        uint64_t deadline = 0, spin_end = 0;
        int r;

        if (!ch || !msg || timeout_ms < -1)
                return -EINVAL;
        if (ch->error)
                return ch->error;
        r = rx_take(ch, msg);
        if (r != 0)
                return r > 0 ? 0 : channel_fail(ch, r);
        if (timeout_ms > 0)
                deadline = clock_deadline_us((uint64_t)timeout_ms * USEC_PER_MSEC);
        for (unsigned i = 1;; i++) {
                r = rx_take(ch, msg);
                if (r != 0)
                        return r > 0 ? 0 : channel_fail(ch, r);
                /* The peer's messages first, then the news that it left. */
                r = channel_state(ch);
                if (r < 0)
                        return channel_fail(ch, r);
                if (timeout_ms == 0) {
                        rx_publish(ch); /* the counters ipcdctl shows */
                        return -EAGAIN;
                }
                /* Spin (the clock read every 64 turns, from the 64th: a
                 * message is often there by then), then sleep.  Not at
                 * every empty look: our tail and counters are published
                 * from the 64th turn (and every quarter ring, and before
                 * a sleep). */
                if (ch->spin_us && (i & 63)) {
                        cpu_relax();
                        continue;
                }
                if (ch->spin_us && !spin_end) {
                        rx_publish(ch);
                        spin_end = clock_now_us() + ch->spin_us;
                }
                if (ch->spin_us && clock_now_us() < spin_end) {
                        spin_turn(i);
                        continue;
                }
                r = rx_sleep(ch, deadline);
                if (r < 0)
                        return r;
        }
}
