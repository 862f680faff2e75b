/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * drv-chan.c - ipcd's direct channels (ipcd_channel_*) and the floors
 * they are measured against, in the same run:
 *
 *  - shm-spin: two cache lines in a MAP_SHARED region, one per direction:
 *    the sender copies the payload and bumps a sequence number, the
 *    receiver spins on it.  The physical limit of a round trip between
 *    two cores.
 *  - shm-futex: the same, but the receiver sleeps in FUTEX_WAIT and the
 *    sender wakes it (only when it said it sleeps): the limit of a
 *    futex-woken round trip.
 *  - chan-spin / chan-futex: a channel whose receiver spins (spin time
 *    CHAN_SPIN_US) or never spins (spin 0: futex at once).
 *  - chan: one-way throughput through a channel (default spin).
 *
 * Spinning rows run in the unpinned mode only, with A on CPU 0 and B on
 * CPU 1: on one CPU a spinner only delays its peer.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define DATA_TYPE 1L
#define CHAN_SPIN_US 200 /* "spinning": longer than a round trip, short enough to yield the CPU */

/* ---- the floors ---- */

struct shm_slot {
        uint32_t seq;     /* futex word */
        uint32_t waiting; /* the receiver sleeps */
        uint32_t len;
        uint32_t pad_[13];
        uint8_t data[BENCH_MAX_MSG];
} __attribute__((aligned(64)));

struct shm_ep {
        struct shm_slot *tx, *rx;
        uint32_t last; /* the rx sequence seen */
        bool futex;
};

static int shm_setup(struct pair *p)
{
        void *m = mmap(NULL, 2 * sizeof(struct shm_slot), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

        if (m == MAP_FAILED)
                return -errno;
        memset(m, 0, 2 * sizeof(struct shm_slot));
        p->priv = m;
        return 0;
}

static void shm_teardown(struct pair *p)
{
        munmap(p->priv, 2 * sizeof(struct shm_slot));
}

static int shm_open_ep(struct pair *p, int side, void **ret, bool futex)
{
        struct shm_slot *s = p->priv;
        struct shm_ep *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->tx = &s[side == SIDE_A ? 0 : 1];
        e->rx = &s[side == SIDE_A ? 1 : 0];
        e->futex = futex;
        *ret = e;
        return 0;
}

/* A spinner and its peer on two different CPUs (side A on 0, B on 1):
 * the scheduler, left alone, may put both on one, where a spinner only
 * delays its peer. */
static void pin_apart(const struct pair *p, int side)
{
        if (p->b->ncpus >= 2)
                (void)pin_self(side == SIDE_A ? 0 : 1);
}

static int shm_spin_open(struct pair *p, int side, void **ret)
{
        pin_apart(p, side);
        return shm_open_ep(p, side, ret, false);
}

static int shm_futex_open(struct pair *p, int side, void **ret)
{
        return shm_open_ep(p, side, ret, true);
}

/* One slot per direction: the drivers never send twice before an answer
 * in a round trip, but the quit marker may follow a reply at once, so a
 * sender waits (spinning) until the previous message was taken. */
static int shm_send(void *ep, const void *buf, size_t len, int flags)
{
        struct shm_ep *e = ep;
        struct shm_slot *s = e->tx;

        if (len > sizeof(s->data))
                return -EMSGSIZE;
        while (__atomic_load_n(&s->len, __ATOMIC_ACQUIRE) != 0)
                sched_yield();
        memcpy(s->data, buf, len);
        __atomic_store_n(&s->len, (uint32_t)len + 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->seq, 1, __ATOMIC_SEQ_CST);
        if (e->futex && __atomic_load_n(&s->waiting, __ATOMIC_SEQ_CST)) {
                __atomic_store_n(&s->waiting, 0, __ATOMIC_RELAXED);
                syscall(SYS_futex, &s->seq, FUTEX_WAKE, 1, NULL, NULL, 0);
        }
        return 0;
}

static ssize_t shm_recv(void *ep, void *buf, size_t len)
{
        struct shm_ep *e = ep;
        struct shm_slot *s = e->rx;
        uint32_t seq, n;

        for (unsigned i = 0; (seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE)) == e->last; i++) {
                if (e->futex) {
                        __atomic_store_n(&s->waiting, 1, __ATOMIC_SEQ_CST);
                        if (__atomic_load_n(&s->seq, __ATOMIC_SEQ_CST) == e->last)
                                syscall(SYS_futex, &s->seq, FUTEX_WAIT, e->last, NULL, NULL, 0);
                        __atomic_store_n(&s->waiting, 0, __ATOMIC_RELAXED);
                } else if ((i & 0xfff) == 0xfff)
                        sched_yield(); /* the peer lost its CPU: let it run */
                else
                        __builtin_ia32_pause();
        }
        e->last = seq;
        n = __atomic_load_n(&s->len, __ATOMIC_RELAXED) - 1;
        if (n > len)
                n = (uint32_t)len;
        memcpy(buf, s->data, n);
        __atomic_store_n(&s->len, 0, __ATOMIC_RELEASE);
        return n;
}

static void shm_close(void *ep)
{
        free(ep);
}

const struct transport transport_shm_spin = {
    .name = "shm-spin",
    .label = "floor: shm cache line, spin",
    .setup = shm_setup,
    .open = shm_spin_open,
    .send = shm_send,
    .recv = shm_recv,
    .close = shm_close,
    .teardown = shm_teardown,
    .spins = true,
};

const struct transport transport_shm_futex = {
    .name = "shm-futex",
    .label = "floor: shm cache line, futex",
    .setup = shm_setup,
    .open = shm_futex_open,
    .send = shm_send,
    .recv = shm_recv,
    .close = shm_close,
    .teardown = shm_teardown,
};

/* ---- ipcd's channels ---- */

struct chan_ep {
        ipcd_client *c;
        ipcd_channel *ch;
        unsigned spin_us;
        bool set_spin;
};

/* B takes A's offer on first use (the driver starts B, and A only once B
 * is ready). */
static int chan_ensure(struct chan_ep *e)
{
        ipcd_msg m;
        int r = 0;

        while (!e->ch) {
                r = ipcd_recv(e->c, &m, 0, 10000);
                if (r < 0)
                        return r;
                if ((m.flags & IPCD_MSG_NOTICE) && m.type == IPCD_NOTICE_CHANNEL)
                        r = ipcd_channel_accept(e->c, &m, &e->ch);
                ipcd_msg_release(e->c, &m);
                if (r < 0)
                        return r;
        }
        if (e->set_spin) {
                ipcd_channel_set_spin(e->ch, e->spin_us);
                e->set_spin = false;
        }
        return 0;
}

/* A opens once B is there. */
static int chan_open_ep(struct pair *p, int side, void **ret, unsigned spin_us, bool set_spin)
{
        struct chan_ep *e = calloc(1, sizeof(*e));
        char me[IPCD_NAME_MAX], peer[IPCD_NAME_MAX];
        double end = now_s() + 10;
        int r;

        if (!e)
                return -ENOMEM;
        e->spin_us = spin_us;
        e->set_spin = set_spin;
        bprintf(me, sizeof(me), "bench-%c-%u", side == SIDE_A ? 'a' : 'b', p->seq);
        bprintf(peer, sizeof(peer), "bench-%c-%u", side == SIDE_A ? 'b' : 'a', p->seq);
        r = connect_retry(p->b->ipcd_rundir, me, &e->c);
        while (r == 0 && side == SIDE_A) {
                r = ipcd_channel_open(e->c, peer, 0, &e->ch);
                if (r != -ENOENT || now_s() > end)
                        break;
                r = 0;
                usleep(1000);
        }
        if (r == 0 && side == SIDE_A)
                r = chan_ensure(e);
        if (r < 0) {
                if (e->c)
                        ipcd_close(e->c);
                free(e);
                return r;
        }
        *ret = e;
        return 0;
}

static int chan_spin_open(struct pair *p, int side, void **ret)
{
        pin_apart(p, side);
        return chan_open_ep(p, side, ret, CHAN_SPIN_US, true);
}

static int chan_futex_open(struct pair *p, int side, void **ret)
{
        return chan_open_ep(p, side, ret, 0, true);
}

static int chan_default_open(struct pair *p, int side, void **ret)
{
        return chan_open_ep(p, side, ret, 0, false);
}

static int chan_send(void *ep, const void *buf, size_t len, int flags)
{
        struct chan_ep *e = ep;
        int r = chan_ensure(e);

        return r < 0 ? r : ipcd_channel_send(e->ch, DATA_TYPE, buf, len, 0);
}

static ssize_t chan_recv(void *ep, void *buf, size_t len)
{
        struct chan_ep *e = ep;
        ipcd_msg m;
        int r = chan_ensure(e);

        if (r == 0)
                r = ipcd_channel_recv(e->ch, &m, -1);
        if (r < 0)
                return r;
        memcpy(buf, m.data, m.len < len ? m.len : len);
        return (ssize_t)m.len;
}

static void chan_close(void *ep)
{
        struct chan_ep *e = ep;

        if (e->ch)
                ipcd_channel_close(e->ch);
        ipcd_close(e->c);
        free(e);
}

const struct transport transport_chan_spin = {
    .name = "chan-spin",
    .label = "ipcd channel, spin",
    .setup = drv_ipcd_setup,
    .open = chan_spin_open,
    .send = chan_send,
    .recv = chan_recv,
    .close = chan_close,
    .spins = true,
};

const struct transport transport_chan_futex = {
    .name = "chan-futex",
    .label = "ipcd channel, futex",
    .setup = drv_ipcd_setup,
    .open = chan_futex_open,
    .send = chan_send,
    .recv = chan_recv,
    .close = chan_close,
};

const struct transport transport_chan = {
    .name = "chan",
    .label = "ipcd channel",
    .setup = drv_ipcd_setup,
    .open = chan_default_open,
    .send = chan_send,
    .recv = chan_recv,
    .close = chan_close,
};
