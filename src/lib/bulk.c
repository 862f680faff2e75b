/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bulk.c - libipcd-client: payloads through the shared-memory ring.
 *
 * Producer.  On first use the library asks ipcd for a lane
 * (WIRE_OP_LANE; the ACK carries a struct wire_lane_grant) and attaches the
 * ring read-write.  It is the lane's single producer: allocations are
 * placed one after another at a monotonic position `head`, skipping to the
 * next lane boundary rather than crossing the end of the lane.  Room
 * exists for [pos, pos + len) when pos + len <= limit + lane_size, where
 * limit is the smaller of the lane's free_pos (written by ipcd into the
 * segment, read with an acquire load) and the position of our own oldest
 * allocation still alive in the lane.  ipcd_send_buf() sends a
 * struct wire_bulk descriptor whose `hold` is the position of the oldest
 * allocation still unsent after this one (or head): ipcd never frees
 * beyond it, so nothing we still write is handed out again.
 *
 * A full lane: IPCD_NONBLOCK gives -EAGAIN.  Otherwise the library asks
 * once for another lane (WIRE_OP_LANE, arg 1: ipcd says -EDQUOT past the
 * uid's lanes_per_uid, -EAGAIN when none is free) and switches to it; the
 * old one is given back (WIRE_OP_LANE_DROP) as soon as nothing of ours is
 * unsent there.  Without a spare lane it waits: ipcd raises our semaphore
 * Sc whenever the free_pos of our lane moves (once timed mode is on), and
 * a waiter of kind WAITER_COND in the scheme of wait.c re-checks the room
 * after every wake-up, so it never steals a wake-up meant for a receiver.
 * At most BULK_WAIT_USEC in all (-ETIMEDOUT), -ECONNRESET at once when
 * ipcd goes away.
 *
 * Sends of one handle's bulk descriptors are serialized (send_lock, held
 * across the msgsnd but never with c->lock), so the holds ipcd sees only
 * grow.  On success ipcd owns the chunk; on failure it stays the
 * caller's.  A failure that ipcd reports (the IPCD_ACK status: -ENOENT,
 * -EAGAIN, -EACCES) comes after ipcd took the chunk and freed it again:
 * so a descriptor sent with IPCD_ACK holds its own position (hold <= pos)
 * until the outcome is known, ipcd cannot move free_pos past it, and the
 * buffer can be sent again in place.  Only when no outcome came (the
 * answer timed out) is it "consumed": it stays valid and ours (room
 * counts it), but sending it again copies it into a fresh allocation.
 * A hold only moves with the next descriptor: when the lane holds nothing
 * of ours and an allocation cannot fit below the hold ipcd knows (or would
 * have to skip to the next lane boundary where it cannot fit at all), the
 * lane is given back and a fresh one taken, which ipcd starts at a lane
 * boundary.
 *
 * Receiver.  A record with WIRE_OUT_BULK carries a struct wire_bulk_out.
 * The ring is attached lazily by shmid (read-only, or the producer's
 * read-write attachment when we have one), its size taken from IPC_STAT,
 * and the payload bounds checked against it; msg->data then points into
 * the segment.  A chunk we cannot map is released at once and the record
 * skipped.  Payloads start where the producer put them: 64-byte aligned
 * when the producer is this library.  ipcd_msg_release() queues {ring,
 * lane, pos}; the queue goes out as one WIRE_OP_RELEASE record when it
 * holds RELEASE_BATCH entries or RELEASE_BATCH_BYTES (what a receiver
 * holds, released or not, counts against its held limit in ipcd), when
 * its oldest entry is RELEASE_DELAY_USEC old at any library call, before
 * a send that may wait (so a release made before a send reaches ipcd
 * before it), when a receive finds nothing or is about to block or sleep,
 * and in ipcd_close().
 *
 * Trust: every group member of the ring may write any byte of it.  The
 * library reads only free_pos from it (clamped to what is possible) and
 * never follows anything else written there; what a receiver must trust
 * it copies before validating (libipcd-client(3)).
 *
 * Reconnection: a new session (a new ipcd) voids everything: lanes and
 * pending releases are forgotten, unsent allocations fail with
 * -ECONNRESET (ipcd_buf_free() still frees them), and each attached
 * segment of the old session is detached once nothing points into it any
 * more (unreleased messages, unsent allocations).
 *
 * Locking: everything below is under c->lock, except send_lock (see
 * above), and the release counters read without it to keep the common
 * "nothing pending" check free.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/ringfmt.h"
#include "shared/clock.h"
#include "shared/util.h"

/* Longest wait for room in a lane (or for a lane). */
#define BULK_WAIT_USEC (10000ULL * USEC_PER_MSEC)
/* After ipcd refused a spare lane, do not ask again before this. */
#define SPARE_RETRY_USEC (100ULL * USEC_PER_MSEC)
/* Releases: flush at this many, at this many bytes (or an eighth of a
 * lane, if less: what a receiver holds counts against its held limit of
 * half a lane, released or not), or when the oldest is this old. */
#define RELEASE_BATCH 32
#define RELEASE_BATCH_BYTES (64ULL * 1024)
#define RELEASE_DELAY_USEC (10ULL * USEC_PER_MSEC)
/* Releases per inbound record. */
#define RELEASE_PER_RECORD 256
/* Buffers start at multiples of this in the lane (lanes start on a page):
 * a cache line, and what any type needs. */
#define ALIGN_POS(p) (((p) + RING_LANE_ALIGN - 1) & ~(uint64_t)(RING_LANE_ALIGN - 1))

/* A bulk message: reserved_[2] the segment, [3] ring << 32 | lane, [4]
 * the chunk's position, [5] its length, [6] = [2] ^ [3] ^ [4] ^ [5] ^ this. */
#define BULK_CHECK UINT64_C(0x6970636462756c6b) /* "ipcdbulk" */

enum alloc_state {
        ALLOC_UNSENT,   /* the caller's */
        ALLOC_QUEUED,   /* a thread is sending it (still unsent for holds) */
        ALLOC_INFLIGHT, /* sent with IPCD_ACK, the answer not in yet (still holds) */
        ALLOC_CONSUMED, /* sent, no answer came: the caller's, resent by copy */
};

struct bulk_alloc {
        struct bulk_alloc *next; /* in its lane, allocation (= position) order */
        uint8_t *ptr;
        uint64_t pos, len;
        enum alloc_state state;
};

struct bulk_seg {
        struct bulk_seg *next;
        uint64_t gen; /* the session whose ipcd gave us its shmid */
        int shmid;
        bool rw;
        uint8_t *base;
        uint64_t size;  /* shm_segsz */
        uint64_t release_bytes; /* flush releases of this segment at this many bytes */
        unsigned users; /* lanes and unreleased messages */
};

struct bulk_lane {
        struct bulk_lane *next;
        unsigned refs; /* the lane list, and threads waiting for room in it */
        uint64_t gen;
        struct bulk_seg *seg;
        uint32_t ring, lane;
        uint64_t lane_size;
        uint8_t *data;           /* lane start in the segment */
        const uint64_t *free_pos; /* in the segment's lane header */
        uint64_t head;           /* next position to allocate */
        uint64_t sent_hold;      /* the highest hold ipcd has from us */
        struct bulk_alloc *allocs;
};

struct lane_drop {
        uint64_t gen;
        uint64_t arg; /* ring << 32 | lane */
};

struct bulk {
        pthread_mutex_t send_lock; /* serializes bulk descriptors to Qu */
        uint64_t gen;              /* the session the state below belongs to */
        struct bulk_seg *segs;
        struct bulk_lane *lanes;   /* every lane with allocations, and current */
        struct bulk_lane *current; /* new allocations go here; NULL: none yet */
        bool lane_busy;            /* a thread is asking ipcd for a lane */
        int no_access;             /* -EACCES: ipcd said we may not use a ring */
        uint64_t spare_after;      /* usec: no spare lane requests before */

        struct lane_drop *drops; /* LANE_DROP records to send (lock not held) */
        size_t ndrops, drops_cap;

        struct wire_release *rel; /* pending releases of session rel_gen */
        size_t nrel, rel_cap;     /* nrel: also read without the lock */
        bool rel_full;            /* enough bytes pending: flush (read without the lock) */
        uint64_t rel_bytes;
        uint64_t rel_gen;
        uint64_t rel_since; /* usec of the oldest; also read without the lock */
};

/* ------------------------------------------------------------------ */
/* State, segments, lanes.                                              */

static struct bulk *bulk_get_locked(ipcd_client *c)
{
        struct bulk *b = c->bulk;

        if (b)
                return b;
        b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        if (pthread_mutex_init(&b->send_lock, NULL) != 0) {
                free(b);
                return NULL;
        }
        b->gen = c->s.gen;
        __atomic_store_n(&c->bulk, b, __ATOMIC_RELEASE);
        return b;
}

static void seg_detach(struct bulk_seg *g)
{
        if (g->base)
                (void)shmdt(g->base);
        free(g);
}

static void seg_unlink(struct bulk *b, struct bulk_seg *g)
{
        for (struct bulk_seg **pp = &b->segs; *pp; pp = &(*pp)->next)
                if (*pp == g) {
                        *pp = g->next;
                        return;
                }
}

/* Drop a user; a segment of an earlier session goes with its last. */
static void seg_unref(struct bulk *b, struct bulk_seg *g)
{
        if (--g->users > 0 || g->gen == b->gen)
                return;
        seg_unlink(b, g);
        seg_detach(g);
}

/* The segment shmid of the current session, attached read-write (the
 * producer) or at least read-only (a receiver).  NULL and *err. */
static struct bulk_seg *seg_get(struct bulk *b, int shmid, bool rw, int *err)
{
        struct shmid_ds ds;
        struct bulk_seg *g;
        void *p;

        for (g = b->segs; g; g = g->next)
                if (g->gen == b->gen && g->shmid == shmid && (g->rw || !rw))
                        return g;
        if (shmid < 0) {
                *err = -EINVAL;
                return NULL;
        }
        /* Read permission for IPC_STAT is the same as for mapping it. */
        if (shmctl(shmid, IPC_STAT, &ds) < 0) {
                *err = negative_errno();
                return NULL;
        }
        g = calloc(1, sizeof(*g));
        if (!g) {
                *err = -ENOMEM;
                return NULL;
        }
        p = shmat(shmid, NULL, rw ? 0 : SHM_RDONLY);
        if (p == (void *)-1) {
                *err = negative_errno();
                free(g);
                return NULL;
        }
        g->gen = b->gen;
        g->shmid = shmid;
        g->rw = rw;
        g->base = p;
        g->size = (uint64_t)ds.shm_segsz;
        /* The lane size from the header ipcd wrote: for batching only, so
         * whatever a group member scribbled there does no harm. */
        g->release_bytes = RELEASE_BATCH_BYTES;
        if (g->size >= sizeof(struct ring_shm_hdr)) {
                uint64_t ls = ((const struct ring_shm_hdr *)p)->lane_size;

                if (ls >= 8 && ls / 8 < g->release_bytes)
                        g->release_bytes = ls / 8;
        }
        g->next = b->segs;
        b->segs = g;
        return g;
}

static void lane_unref(struct bulk *b, struct bulk_lane *l)
{
        if (--l->refs > 0)
                return;
        seg_unref(b, l->seg);
        free(l);
}

static void lane_unlink(struct bulk *b, struct bulk_lane *l)
{
        for (struct bulk_lane **pp = &b->lanes; *pp; pp = &(*pp)->next)
                if (*pp == l) {
                        *pp = l->next;
                        l->next = NULL;
                        return;
                }
}

static void drop_queue(struct bulk *b, uint64_t gen, uint64_t arg)
{
        if (b->ndrops == b->drops_cap) {
                size_t ncap = b->drops_cap ? b->drops_cap * 2 : 4;
                struct lane_drop *n = realloc(b->drops, ncap * sizeof(*n));

                if (!n)
                        return; /* ipcd frees it when we leave */
                b->drops = n;
                b->drops_cap = ncap;
        }
        b->drops[b->ndrops++] = (struct lane_drop){gen, arg};
}

/* A lane that is not current and holds no allocation of ours is given
 * back to ipcd (a LANE_DROP, sent by drops_flush()) and forgotten. */
static void lane_retire_maybe(struct bulk *b, struct bulk_lane *l)
{
        if (l == b->current || l->allocs)
                return;
        lane_unlink(b, l);
        if (l->gen == b->gen)
                drop_queue(b, l->gen, (uint64_t)l->ring << 32 | l->lane);
        lane_unref(b, l);
}

/* A new session voids the state of the old one (lock held). */
static void bulk_sync(ipcd_client *c, struct bulk *b)
{
        struct bulk_lane *l, *next;

        if (b->gen == c->s.gen)
                return;
        b->gen = c->s.gen;
        b->current = NULL;
        b->no_access = 0;
        b->spare_after = 0;
        b->ndrops = 0;
        __atomic_store_n(&b->nrel, 0, __ATOMIC_RELAXED);
        /* Lanes with unsent allocations stay until those are freed. */
        for (l = b->lanes; l; l = next) {
                next = l->next;
                lane_retire_maybe(b, l);
        }
        for (struct bulk_seg *g = b->segs, *gn; g; g = gn) {
                gn = g->next;
                if (g->gen != b->gen && g->users == 0) {
                        seg_unlink(b, g);
                        seg_detach(g);
                }
        }
}

/* Room may have come (an allocation went, the lane changed): wake the
 * threads waiting for it (lock held). */
static void room_wake_locked(ipcd_client *c)
{
        for (struct waiter *w = c->waiters; w; w = w->next)
                if (w->kind == WAITER_COND) {
                        if (wake_waiters_locked(c) && c->connected)
                                sem_raise(&c->s); /* the one asleep on Sc looks too */
                        return;
                }
}

/* ------------------------------------------------------------------ */
/* Inbound records.                                                     */

/* A record without answer (lock not held); payload up to
 * RELEASE_PER_RECORD releases, sent from the stack (request.c). */
static int send_record(ipcd_client *c, const struct session *s, enum wire_op op, uint64_t arg,
                       const void *payload, size_t len, bool nowait)
{
        struct lib_req q = {
                .op = op,
                .arg = arg,
                .data = payload,
                .len = len,
                .qfull = nowait ? QFULL_FAIL : QFULL_BLOCK,
        };

        return lib_send(c, s, &q, 0);
}

static void drops_flush(ipcd_client *c)
{
        struct bulk *b = c->bulk;
        struct lane_drop *d;
        struct session s;
        size_t n;

        if (!b)
                return;
        pthread_mutex_lock(&c->lock);
        n = b->ndrops;
        if (n == 0 || !c->connected) {
                pthread_mutex_unlock(&c->lock);
                return;
        }
        d = TAKE_PTR(b->drops);
        b->ndrops = b->drops_cap = 0;
        s = c->s;
        pthread_mutex_unlock(&c->lock);

        /* Best effort: ipcd takes a lane back when we leave anyway. */
        for (size_t i = 0; i < n; i++)
                if (d[i].gen == s.gen)
                        (void)send_record(c, &s, WIRE_OP_LANE_DROP, d[i].arg, NULL, 0, false);
        free(d);
}

/* An answered request (lock held; dropped meanwhile).  The answer's
 * status, its payload in answer; or -errno with *answered false. */
static int request_locked(ipcd_client *c, enum wire_op op, uint64_t arg, void *answer,
                          size_t answer_size, uint64_t deadline, bool *answered)
{
        struct waiter w = {.answer = answer, .answer_size = answer_size};
        struct lib_req q = {
                .op = op,
                .arg = arg,
                .qfull = QFULL_BLOCK,
                .deadline = deadline,
                .answer_usec = ACK_TIMEOUT_USEC,
        };
        int r;

        pthread_mutex_unlock(&c->lock);
        r = lib_request(c, &q, &w);
        pthread_mutex_lock(&c->lock);
        *answered = w.done;
        return r;
}

/* -ETIMEDOUT, unless ipcd is gone (lock held; dropped meanwhile). */
static int timeout_or_reset_locked(ipcd_client *c)
{
        bool gone;

        pthread_mutex_unlock(&c->lock);
        gone = client_peer_gone(c);
        pthread_mutex_lock(&c->lock);
        return gone ? -ECONNRESET : -ETIMEDOUT;
}

/* ------------------------------------------------------------------ */
/* Lanes.                                                               */

static int lane_install(ipcd_client *c, struct bulk *b, const struct wire_lane_grant *g)
{
        uint64_t hdr_end, data_end;
        struct bulk_seg *seg;
        struct bulk_lane *l, *old;
        int e = 0;

        /* ipcd is trusted, but a mistake must not make us write wild. */
        hdr_end = 64 + (uint64_t)g->nlanes * sizeof(struct ring_shm_lane);
        if (g->lane >= g->nlanes || g->lane_size == 0 || g->data_off < hdr_end ||
            g->lane_size > (UINT64_MAX - g->data_off) / g->nlanes)
                return -EPROTO;
        data_end = g->data_off + (uint64_t)g->nlanes * g->lane_size;
        seg = seg_get(b, g->shmid, true, &e);
        if (!seg)
                goto refuse;
        if (data_end > seg->size) {
                e = -EPROTO;
                goto refuse;
        }
        l = calloc(1, sizeof(*l));
        if (!l) {
                e = -ENOMEM;
                goto refuse;
        }
        seg->users++;
        l->refs = 1;
        l->gen = b->gen;
        l->seg = seg;
        l->ring = g->ring;
        l->lane = g->lane;
        l->lane_size = g->lane_size;
        l->data = seg->base + g->data_off + (uint64_t)g->lane * g->lane_size;
        l->free_pos = &((const struct ring_shm_lane *)(seg->base + 64) + g->lane)->free_pos;
        l->head = l->sent_hold = g->free_pos;
        l->next = b->lanes;
        b->lanes = l;
        old = b->current;
        b->current = l;
        if (old)
                lane_retire_maybe(b, old);
        room_wake_locked(c);
        return 0;
refuse:
        /* We cannot use what ipcd gave us: give it back. */
        drop_queue(b, b->gen, (uint64_t)g->ring << 32 | g->lane);
        if (e == -EPERM)
                e = -EACCES;
        return e;
}

/*
 * Get a lane from ipcd (spare: one more), lock held (dropped meanwhile).
 * 0 when there may be a new current lane (look again), or -errno:
 * -EACCES (no ring for us; remembered for the session), -EDQUOT,
 * -EAGAIN (none free), -ETIMEDOUT, -ECONNRESET.
 */
static int lane_request_locked(ipcd_client *c, struct bulk *b, bool spare, uint64_t deadline)
{
        struct wire_lane_grant g;
        uint64_t gen = b->gen;
        bool answered;
        int r, status;

        if (b->no_access)
                return b->no_access;
        if (b->lane_busy) {
                /* Another thread asks: wait for its outcome, then look again. */
                while (b->lane_busy && c->connected && clock_now_us() < deadline)
                        cond_wait_until(c, deadline);
                if (!c->connected)
                        return -ECONNRESET;
                return b->lane_busy ? -ETIMEDOUT : 0;
        }
        b->lane_busy = true;
        status = request_locked(c, WIRE_OP_LANE, spare ? 1 : 0, &g, sizeof(g), deadline, &answered);
        b->lane_busy = false;
        pthread_cond_broadcast(&c->cond);
        if (!answered)
                return status; /* -ETIMEDOUT, -ECONNRESET, ... */
        if (!c->connected || c->s.gen != gen)
                return -ECONNRESET; /* what ipcd gave belongs to a past session */
        bulk_sync(c, b);
        if (status == 0)
                r = lane_install(c, b, &g);
        else
                r = status > 0 ? -EPROTO : status;
        if (r == -EACCES)
                b->no_access = -EACCES;
        return r;
}

/* Room for len bytes in l: 1 and the position in *pos (lock held). */
static bool lane_fit(const struct bulk_lane *l, uint64_t len, uint64_t *pos)
{
        uint64_t ls = l->lane_size, p = ALIGN_POS(l->head), limit;

        if (len > ls)
                return false;
        if (p % ls + len > ls)
                p += ls - p % ls; /* never across the end of the lane */
        /* Written by ipcd, but anyone in the ring's group can scribble on
         * it: never believe more than our own head. */
        limit = __atomic_load_n(l->free_pos, __ATOMIC_ACQUIRE);
        if (limit > l->head)
                limit = l->head;
        /* Nor hand out again what we still hold ourselves. */
        if (l->allocs && l->allocs->pos < limit)
                limit = l->allocs->pos;
        if (p + len > limit + ls)
                return false;
        *pos = p;
        return true;
}

/* Whether len can fit in l without a new descriptor: ipcd frees nothing
 * beyond the hold it knows. */
static bool lane_fit_ever(const struct bulk_lane *l, uint64_t len)
{
        uint64_t ls = l->lane_size, p = ALIGN_POS(l->head);

        if (p % ls + len > ls)
                p += ls - p % ls;
        return p + len <= MIN(l->head, l->sent_hold) + ls;
}


struct room_wait {
        struct bulk_lane *lane;
        uint64_t len;
        bool relaned;
};

/* The lane holds nothing of ours and len cannot fit in it whatever is
 * released: only a fresh lane helps (lock held). */
static bool lane_hopeless(const struct bulk_lane *l, uint64_t len)
{
        return !l->allocs && !lane_fit_ever(l, len);
}

/* WAITER_COND: room, or the lane is no longer ours to wait for, or
 * waiting can no longer bring room (the last allocation of another thread
 * went, leaving a hold behind that only a new descriptor would move). */
static bool room_ready(ipcd_client *c, void *arg)
{
        struct room_wait *rw = arg;
        struct bulk *b = c->bulk;
        uint64_t pos;

        if (!c->connected || b->gen != c->s.gen || b->current != rw->lane)
                return true;
        if (!rw->relaned && lane_hopeless(rw->lane, rw->len))
                return true;
        return lane_fit(rw->lane, rw->len, &pos);
}

/* Wait (lock held) until lane l may have room for len. */
static int room_wait_locked(ipcd_client *c, struct bulk *b, struct bulk_lane *l, uint64_t len,
                            bool relaned, uint64_t deadline)
{
        struct room_wait rw = {l, len, relaned};
        struct waiter w = {.kind = WAITER_COND, .ready = room_ready, .ready_arg = &rw};
        int r;

        l->refs++;
        /* ipcd raises Sc when our free_pos moves, once timed mode is on. */
        client_timed_start_locked(c);
        if (!c->connected) {
                r = -ECONNRESET;
                goto out;
        }
        w.gen = c->s.gen;
        waiter_add(c, &w);
        r = wait_for(c, &w, deadline, NULL);
        waiter_remove(c, &w);
        if (r == -ETIMEDOUT)
                r = timeout_or_reset_locked(c);
out:
        lane_unref(b, l);
        return r;
}

/* A new allocation at pos in l, where lane_fit() found room (lock held). */
static int alloc_at(struct bulk_lane *l, uint64_t pos, uint64_t len, struct bulk_alloc **ret)
{
        struct bulk_alloc *a = calloc(1, sizeof(*a)), **pp;

        if (!a)
                return -ENOMEM;
        a->ptr = l->data + pos % l->lane_size;
        a->pos = pos;
        a->len = len;
        a->state = ALLOC_UNSENT;
        l->head = pos + len;
        for (pp = &l->allocs; *pp; pp = &(*pp)->next)
                ;
        *pp = a;
        *ret = a;
        return 0;
}

/* Ask for a spare lane because l is full (lock held): 1 when the caller
 * should look again (a lane came, or the handle changed under us), 0 when
 * l is still ours and no spare came (not asked again for a while), or
 * -ECONNRESET. */
static int spare_try_locked(ipcd_client *c, struct bulk *b, struct bulk_lane *l,
                            uint64_t deadline)
{
        int r = lane_request_locked(c, b, true, deadline);

        if (r == 0)
                return 1;
        if (r == -ECONNRESET)
                return r;
        if (!c->bulk || b->gen != c->s.gen)
                return 1;
        b->spare_after = clock_now_us() + SPARE_RETRY_USEC;
        return b->current != l;
}

/* Allocate len bytes (lock held). */
static int alloc_locked(ipcd_client *c, struct bulk *b, uint64_t len, bool nowait,
                        struct bulk_alloc **ret)
{
        uint64_t deadline = clock_now_us() + BULK_WAIT_USEC, backoff = 5 * USEC_PER_MSEC;
        bool tried_spare = false, relaned = false;
        int r;

        for (;;) {
                struct bulk_lane *l;
                uint64_t pos, now;

                if (!c->connected)
                        return -ECONNRESET;
                bulk_sync(c, b);
                l = b->current;
                now = clock_now_us();
                if (!l) {
                        r = lane_request_locked(c, b, false, deadline);
                        if (r == 0)
                                continue;
                        if ((r == -EAGAIN || r == -EDQUOT) && !nowait && now < deadline) {
                                /* No lane free now: they come back as others
                                 * drain.  Poll, backing off. */
                                pthread_mutex_unlock(&c->lock);
                                bulk_release_flush(c, true);
                                clock_sleep_us(MIN(backoff, deadline - now));
                                pthread_mutex_lock(&c->lock);
                                backoff = MIN(backoff * 2, 100 * USEC_PER_MSEC);
                                continue;
                        }
                        if (r == -EAGAIN && !nowait)
                                r = -ETIMEDOUT;
                        return r;
                }
                if (len > l->lane_size)
                        return -EMSGSIZE;
                if (lane_fit(l, len, &pos))
                        return alloc_at(l, pos, len, ret);
                /* A full lane with a spare one free (within lanes_per_uid):
                 * move to it, with or without IPCD_NONBLOCK; -EAGAIN only
                 * when we truly have no room. */
                if (nowait && !tried_spare && now >= b->spare_after) {
                        tried_spare = true;
                        r = spare_try_locked(c, b, l, deadline);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                continue;
                }
                if (nowait)
                        return -EAGAIN;
                if (now >= deadline)
                        return -ETIMEDOUT;
                if (!relaned && lane_hopeless(l, len)) {
                        /* It cannot fit whatever is released: ipcd's window
                         * is [free_pos, free_pos + lane_size) and free_pos
                         * stops at our hold (or a large allocation would
                         * have to skip to the next boundary).  The lane
                         * holds nothing of ours: give it back and take one
                         * afresh, which ipcd starts at a boundary. */
                        relaned = true;
                        b->current = NULL;
                        lane_retire_maybe(b, l);
                        pthread_mutex_unlock(&c->lock);
                        drops_flush(c); /* before the new LANE request */
                        pthread_mutex_lock(&c->lock);
                        continue;
                }
                if (!tried_spare && now >= b->spare_after) {
                        tried_spare = true;
                        r = spare_try_locked(c, b, l, deadline);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                continue;
                }
                r = room_wait_locked(c, b, l, len, relaned, deadline);
                if (r < 0)
                        return r;
        }
}

/* Find an allocation by its pointer (lock held). */
static struct bulk_alloc *alloc_find(struct bulk *b, const void *ptr, struct bulk_lane **ret_lane)
{
        for (struct bulk_lane *l = b->lanes; l; l = l->next)
                for (struct bulk_alloc *a = l->allocs; a; a = a->next)
                        if (a->ptr == ptr) {
                                *ret_lane = l;
                                return a;
                        }
        return NULL;
}

/* Forget an allocation (lock held); the lane may retire. */
static void alloc_remove(ipcd_client *c, struct bulk *b, struct bulk_lane *l,
                         struct bulk_alloc *a)
{
        for (struct bulk_alloc **pp = &l->allocs; *pp; pp = &(*pp)->next)
                if (*pp == a) {
                        *pp = a->next;
                        break;
                }
        free(a);
        lane_retire_maybe(b, l);
        room_wake_locked(c);
}

/* The hold to send with a's descriptor: the oldest allocation still
 * unsent once a is sent (or sent with IPCD_ACK and no answer yet, a
 * itself with ack), else head (lock held). */
static uint64_t lane_hold(const struct bulk_lane *l, const struct bulk_alloc *a, bool ack)
{
        for (const struct bulk_alloc *x = l->allocs; x; x = x->next) {
                if (x == a && !ack)
                        continue;
                if (x->state == ALLOC_UNSENT || x->state == ALLOC_QUEUED ||
                    x->state == ALLOC_INFLIGHT)
                        return x->pos;
        }
        return l->head;
}

/* ------------------------------------------------------------------ */
/* Sending.                                                             */

/* One bulk send in flight: what bulk_send() hands its two halves. */
struct desc_send {
        enum wire_op op;
        const char *dst;
        long type;
        size_t len;
        bool ack, nowait;
        uint16_t wflags; /* WIRE_IN_FLOW_FULL */
        struct bulk *b;
        struct bulk_lane *l;
        struct bulk_alloc *a;
        struct waiter w; /* IPCD_ACK */
};

/* Send the descriptor of x->a (ALLOC_QUEUED) under send_lock, so that the
 * holds ipcd sees only grow; with IPCD_ACK as a request whose answer
 * x->w awaits (request.c).  0 or -errno (the allocation is the caller's
 * again). */
static int desc_send(ipcd_client *c, struct desc_send *x)
{
        struct lib_req q = {
                .op = x->op,
                .wflags = (uint16_t)(WIRE_IN_BULK | (x->ack ? WIRE_IN_ACK : 0) | x->wflags),
                .dst = x->dst,
                .type = x->type,
                .qfull = x->nowait ? QFULL_FAIL : QFULL_BLOCK,
        };
        struct bulk_lane *l = x->l;
        struct wire_bulk d;
        struct session s;
        int r;

        pthread_mutex_lock(&x->b->send_lock);
        pthread_mutex_lock(&c->lock);
        r = !c->connected || l->gen != c->s.gen ? -ECONNRESET : 0;
        if (r == 0 && x->ack)
                r = request_begin_locked(c, &x->w, &s);
        s = c->s;
        d = (struct wire_bulk){
                .ring = l->ring,
                .lane = l->lane,
                .pos = x->a->pos,
                .len = x->len,
                .hold = lane_hold(l, x->a, x->ack),
        };
        pthread_mutex_unlock(&c->lock);

        q.data = &d;
        q.len = sizeof(d);
        if (r == 0)
                r = lib_send(c, &s, &q, x->w.cookie);

        pthread_mutex_lock(&c->lock);
        if (r < 0) {
                x->a->state = ALLOC_UNSENT;
                if (x->ack)
                        waiter_remove(c, &x->w);
        } else {
                l->sent_hold = MAX(l->sent_hold, d.hold);
                if (!x->ack)
                        alloc_remove(c, x->b, l, x->a); /* ipcd owns it now */
                else
                        x->a->state = ALLOC_INFLIGHT;
        }
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&x->b->send_lock);
        return r;
}

/* IPCD_ACK: wait for the outcome of a sent descriptor; what becomes of
 * the allocation depends on it. */
static int desc_outcome(ipcd_client *c, struct desc_send *x)
{
        int r = request_finish(c, &x->w, 0, clock_deadline_us(ACK_TIMEOUT_USEC));

        if (r > 0 && x->op != WIRE_OP_PUBLISH)
                r = -EPROTO; /* a send's outcome is 0 or -errno; a publish's a count */
        pthread_mutex_lock(&c->lock);
        if (r >= 0)
                alloc_remove(c, x->b, x->l, x->a);
        else if (x->w.done)
                x->a->state = ALLOC_UNSENT; /* ipcd freed it; our hold kept its place */
        else {
                x->a->state = ALLOC_CONSUMED; /* fate unknown */
                room_wake_locked(c);
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* A queued allocation not sent after all: the caller's again. */
static void bulk_unqueue(ipcd_client *c, struct desc_send *x)
{
        pthread_mutex_lock(&c->lock);
        if (x->a->state == ALLOC_QUEUED)
                x->a->state = ALLOC_UNSENT;
        pthread_mutex_unlock(&c->lock);
}

static int bulk_send(ipcd_client *c, enum wire_op op, const char *dst, long type, void *buf,
                     size_t len, int flags)
{
        struct desc_send x = {.op = op, .dst = dst, .type = type, .len = len,
                              .ack = flags & IPCD_ACK, .nowait = flags & IPCD_NONBLOCK};
        bool consumed = false, learn = false;
        int r;

        if (!c || !dst || !name_is_valid(dst) || !wire_type_is_user(type) || !buf || len == 0 ||
            (flags & ~(IPCD_NONBLOCK | IPCD_ACK | IPCD_MORE | IPCD_REMOTE)) ||
            ((flags & IPCD_REMOTE) && (op != WIRE_OP_PUBLISH || len < sizeof(ipcd_origin))))
                return -EINVAL;
        if (flags & IPCD_REMOTE)
                x.wflags = WIRE_IN_REMOTE; /* ipcd checks the origin and who says so */
        if (client_forked(c))
                return -ECHILD;
        /* Releases made before this send reach ipcd before it. */
        bulk_release_flush(c, !x.nowait);
        /* So do inline sends IPCD_MORE held: per-pair order. */
        r = client_ob_flush(c, x.nowait);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->lock);
        x.b = c->bulk;
        x.a = x.b ? alloc_find(x.b, buf, &x.l) : NULL;
        if (!x.a || (x.a->state != ALLOC_UNSENT && x.a->state != ALLOC_CONSUMED) ||
            len > x.a->len)
                r = -EINVAL;
        else if (!c->connected || x.l->gen != c->s.gen)
                r = -ECONNRESET; /* ipcd restarted: the buffer stays the caller's */
        else if (x.a->state == ALLOC_CONSUMED)
                consumed = true;
        else
                x.a->state = ALLOC_QUEUED;
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return r;
        if (consumed) {
                /* ipcd has seen (and freed) this position: send a copy. */
                r = bulk_send_copy(c, op, dst, type, buf, len, flags);
                if (r >= 0)
                        ipcd_buf_free(c, buf);
                return r;
        }
        /* A unicast chunk takes room in dst's window of ring bytes: the
         * receiver's held-bytes limit is back pressure (flow.c). */
        if (op == WIRE_OP_SEND) {
                uint16_t fw;

                r = flow_reserve(c, dst, len, true, flags, &learn, &fw);
                if (r < 0) {
                        bulk_unqueue(c, &x);
                        return r;
                }
                if (learn)
                        x.ack = true;
                x.wflags |= fw;
        }
        r = desc_send(c, &x);
        if (r == 0 && x.ack)
                r = desc_outcome(c, &x);
        if (op == WIRE_OP_SEND) {
                if (r < 0)
                        flow_unreserve(c, dst, len, true);
                if (learn)
                        flow_learned(c, dst, r);
        }
        drops_flush(c);
        return r;
}

static int buf_alloc(ipcd_client *c, size_t len, int flags, void **buf)
{
        struct bulk_alloc *a = NULL;
        struct bulk *b;
        int r;

        if (!buf)
                return -EINVAL;
        *buf = NULL;
        if (!c || len == 0 || (flags & ~IPCD_NONBLOCK))
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        bulk_release_flush(c, false);
        r = client_ensure(c, clock_now_us() + RECONNECT_DEFAULT_USEC, !(flags & IPCD_NONBLOCK));
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->lock);
        b = bulk_get_locked(c);
        if (!b)
                r = -ENOMEM;
        else
                r = alloc_locked(c, b, len, flags & IPCD_NONBLOCK, &a);
        if (r == 0)
                *buf = a->ptr;
        pthread_mutex_unlock(&c->lock);
        drops_flush(c);
        return r;
}

int bulk_send_copy(ipcd_client *c, enum wire_op op, const char *dst, long type, const void *data,
                   size_t len, int flags)
{
        void *buf;
        int r;

        if (!c || !dst || !name_is_valid(dst) || !wire_type_is_user(type) || !data ||
            len == 0 || (flags & ~(IPCD_NONBLOCK | IPCD_ACK | IPCD_MORE | IPCD_REMOTE)))
                return -EINVAL;
        r = buf_alloc(c, len, flags & IPCD_NONBLOCK, &buf);
        if (r < 0)
                return r;
        memcpy(buf, data, len);
        r = bulk_send(c, op, dst, type, buf, len, flags);
        if (r < 0)
                ipcd_buf_free(c, buf);
        return r;
}

IPCD_EXPORT int ipcd_buf_alloc(ipcd_client *c, size_t len, int flags, void **buf)
{
        return buf_alloc(c, len, flags, buf);
}

IPCD_EXPORT int ipcd_send_buf(ipcd_client *c, const char *dst, long type, void *buf, size_t len,
                              int flags)
{
        return bulk_send(c, WIRE_OP_SEND, dst, type, buf, len, flags);
}

IPCD_EXPORT int ipcd_publish_buf(ipcd_client *c, const char *topic, long type, void *buf,
                                 size_t len, int flags)
{
        return bulk_send(c, WIRE_OP_PUBLISH, topic, type, buf, len, flags);
}

IPCD_EXPORT void ipcd_buf_free(ipcd_client *c, void *buf)
{
        struct bulk_alloc *a;
        struct bulk_lane *l;

        if (!c || !buf || client_forked(c))
                return;
        pthread_mutex_lock(&c->lock);
        a = c->bulk ? alloc_find(c->bulk, buf, &l) : NULL;
        /* Only the caller's own: not one another thread is sending. */
        if (a && (a->state == ALLOC_UNSENT || a->state == ALLOC_CONSUMED)) {
                /* The newest, and unsent: no hold ipcd has lies beyond
                 * its start (a failed IPCD_ACK send held it too), so its
                 * room is reused at once. */
                if (a->state == ALLOC_UNSENT && !a->next && l->head == a->pos + a->len)
                        l->head = a->pos;
                alloc_remove(c, c->bulk, l, a);
        }
        pthread_mutex_unlock(&c->lock);
        drops_flush(c);
}

/* ------------------------------------------------------------------ */
/* Receiving and releases.                                              */

/* Queue a release (lock held).  urgent: flush at the next chance. */
static void release_queue(struct bulk *b, uint64_t gen, uint32_t ring, uint32_t lane,
                          uint64_t pos, uint64_t len, uint64_t threshold, bool urgent)
{
        if (b->nrel && b->rel_gen != gen)
                __atomic_store_n(&b->nrel, 0, __ATOMIC_RELAXED);
        if (b->nrel == b->rel_cap) {
                size_t ncap = b->rel_cap ? b->rel_cap * 2 : RELEASE_BATCH;
                struct wire_release *n = realloc(b->rel, ncap * sizeof(*n));

                if (!n)
                        return; /* ipcd drops our references when we leave */
                b->rel = n;
                b->rel_cap = ncap;
        }
        if (b->nrel == 0) {
                b->rel_gen = gen;
                b->rel_bytes = 0;
                __atomic_store_n(&b->rel_full, false, __ATOMIC_RELAXED);
                __atomic_store_n(&b->rel_since, clock_now_us(), __ATOMIC_RELAXED);
        }
        b->rel_bytes += len;
        if (urgent || b->rel_bytes >= threshold)
                __atomic_store_n(&b->rel_full, true, __ATOMIC_RELAXED);
        b->rel[b->nrel] = (struct wire_release){.ring = ring, .lane = lane, .pos = pos};
        __atomic_store_n(&b->nrel, b->nrel + 1, __ATOMIC_RELAXED);
}

int bulk_rx_resolve(ipcd_client *c, const struct session *s, const struct wire_out *h,
                    const void *payload, struct rxrec *r)
{
        struct wire_bulk_out bo;
        struct bulk_seg *g;
        struct bulk *b;
        int e = 0;

        if (h->len != sizeof(bo))
                return -EBADMSG; /* nothing we could even release */
        memcpy(&bo, payload, sizeof(bo));
        b = bulk_get_locked(c);
        if (!b)
                return -ENOMEM; /* ipcd drops our references when we leave */
        if (!c->connected || s->gen != c->s.gen)
                return -ESTALE; /* from an ipcd that is gone */
        bulk_sync(c, b);
        g = seg_get(b, bo.shmid, false, &e);
        if (g && (bo.len == 0 || bo.offset > g->size || bo.len > g->size - bo.offset))
                g = NULL, e = -EPROTO;
        if (!g) {
                /* Cannot read it: let go of it at once. */
                release_queue(b, s->gen, bo.ring, bo.lane, bo.pos, bo.len, 0, true);
                return e < 0 ? e : -EIO;
        }
        g->users++;
        r->bulk_seg = g;
        r->payload = g->base + bo.offset;
        r->bulk_len = bo.len;
        r->bulk_pos = bo.pos;
        r->bulk_ring = bo.ring;
        r->bulk_lane = bo.lane;
        return 0;
}

void bulk_msg_fill(ipcd_msg *msg, const struct rxrec *r)
{
        msg->data = r->payload;
        msg->len = (size_t)r->bulk_len;
        msg->flags |= IPCD_MSG_BULK;
        msg->reserved_[2] = (uint64_t)(uintptr_t)r->bulk_seg;
        msg->reserved_[3] = (uint64_t)r->bulk_ring << 32 | r->bulk_lane;
        msg->reserved_[4] = r->bulk_pos;
        msg->reserved_[5] = r->bulk_len;
        msg->reserved_[6] = msg->reserved_[2] ^ msg->reserved_[3] ^ msg->reserved_[4] ^
                            msg->reserved_[5] ^ BULK_CHECK;
}

void bulk_msg_release(ipcd_client *c, const ipcd_msg *msg)
{
        struct bulk_seg *g;
        bool urgent;
        struct bulk *b;

        if (!msg->reserved_[2] ||
            msg->reserved_[6] != (msg->reserved_[2] ^ msg->reserved_[3] ^ msg->reserved_[4] ^
                                  msg->reserved_[5] ^ BULK_CHECK))
                return;
        if (client_forked(c))
                return;
        g = (struct bulk_seg *)(uintptr_t)msg->reserved_[2];
        pthread_mutex_lock(&c->lock);
        /* Another thread waits in a receive (released by a worker): nobody
         * would make the next library call soon, so send it now. */
        urgent = c->nblocking > 0 || c->sleeper;
        b = c->bulk;
        if (b) {
                /* A chunk of an ipcd that is gone is nobody's business now. */
                if (c->connected && g->gen == c->s.gen) {
                        bulk_sync(c, b);
                        release_queue(b, g->gen, (uint32_t)(msg->reserved_[3] >> 32),
                                      (uint32_t)msg->reserved_[3], msg->reserved_[4],
                                      msg->reserved_[5], g->release_bytes, false);
                }
                seg_unref(b, g);
        }
        pthread_mutex_unlock(&c->lock);
        bulk_release_flush(c, urgent);
}

void bulk_release_flush(ipcd_client *c, bool block)
{
        struct bulk *b = __atomic_load_n(&c->bulk, __ATOMIC_ACQUIRE);
        struct wire_release *rel;
        struct session s;
        size_t n, off = 0;
        int r = 0;

        if (!b || __atomic_load_n(&b->nrel, __ATOMIC_RELAXED) == 0)
                return;
        if (!block && __atomic_load_n(&b->nrel, __ATOMIC_RELAXED) < RELEASE_BATCH &&
            !__atomic_load_n(&b->rel_full, __ATOMIC_RELAXED) &&
            clock_now_us() - __atomic_load_n(&b->rel_since, __ATOMIC_RELAXED) < RELEASE_DELAY_USEC)
                return;

        pthread_mutex_lock(&c->lock);
        n = b->nrel;
        if (n == 0 || !c->connected || b->rel_gen != c->s.gen) {
                __atomic_store_n(&b->nrel, 0, __ATOMIC_RELAXED);
                pthread_mutex_unlock(&c->lock);
                return;
        }
        rel = TAKE_PTR(b->rel);
        b->rel_cap = 0;
        __atomic_store_n(&b->nrel, 0, __ATOMIC_RELAXED);
        s = c->s;
        pthread_mutex_unlock(&c->lock);

        for (unsigned tries = 0; off < n;) {
                size_t k = MIN(n - off, (size_t)RELEASE_PER_RECORD);

                /* Never a blocking msgsnd: an ipcd that crashed leaves a full
                 * Qu behind.  About to block: try for a moment. */
                r = send_record(c, &s, WIRE_OP_RELEASE, 0, rel + off, k * sizeof(*rel), true);
                if (r == -EAGAIN && block && ++tries < 10) {
                        clock_sleep_us(USEC_PER_MSEC);
                        continue;
                }
                if (r < 0)
                        break;
                off += k;
        }
        if (r == -EAGAIN) {
                /* Qu is full: keep the rest for the next call. */
                pthread_mutex_lock(&c->lock);
                if (c->connected && c->s.gen == s.gen) {
                        bulk_sync(c, b);
                        for (; off < n; off++)
                                release_queue(b, s.gen, rel[off].ring, rel[off].lane,
                                              rel[off].pos, 0, 0, true);
                }
                pthread_mutex_unlock(&c->lock);
        }
        free(rel);
}

void bulk_close(ipcd_client *c)
{
        /* ipcd drops our references and takes our lanes back when we
         * leave; sending what is pending keeps the order of things. */
        bulk_release_flush(c, true);
        drops_flush(c);
}

void bulk_free(ipcd_client *c)
{
        struct bulk *b = c->bulk;

        if (!b)
                return;
        while (b->lanes) {
                struct bulk_lane *l = b->lanes;

                b->lanes = l->next;
                while (l->allocs) {
                        struct bulk_alloc *a = l->allocs;

                        l->allocs = a->next;
                        free(a);
                }
                free(l);
        }
        while (b->segs) {
                struct bulk_seg *g = b->segs;

                b->segs = g->next;
                seg_detach(g);
        }
        free(b->drops);
        free(b->rel);
        if (!client_forked(c))
                pthread_mutex_destroy(&b->send_lock);
        free(b);
        c->bulk = NULL;
}

/* ------------------------------------------------------------------ */
/* Session hooks.                                                       */

/* A thread is about to block or sleep: the releases go out first. */
static void bulk_idle(ipcd_client *c)
{
        bulk_release_flush(c, true);
}

/* A new session: forget the old one's lanes and detach its segments now,
 * not at the next bulk call (which may never come): a segment ipcd
 * removed lives on in the kernel, pages and all, while anyone has it
 * attached (test-kill9-ipcd). */
static int bulk_restore(ipcd_client *c)
{
        pthread_mutex_lock(&c->lock);
        if (c->bulk)
                bulk_sync(c, c->bulk);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

const struct session_hooks bulk_hooks = {
        .restore = bulk_restore,
        .idle = bulk_idle,
        .rx_bulk_locked = bulk_rx_resolve,
};
