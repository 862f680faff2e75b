/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * floor-shm.c - the bulk floor: ipcd's bulk design without the broker.
 *
 * One System V shared-memory ring between the two processes, one System V
 * descriptor message per chunk (A -> B), one release message per chunk
 * back (B -> A) through a second queue.  The producer copies each payload
 * into the ring, the consumer reads every byte in place.  Nothing is
 * validated, nothing is routed: no broker that moves a chunk through a
 * ring with a descriptor per chunk can beat it, so ipcd's bulk rows are
 * given as a ratio to it (issue 16).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>

#include "bench.h"

/* As ipcd's default lane: 8 MiB, so a 4 MiB chunk has one behind it. */
#define FLOOR_RING_BYTES (8u << 20)

struct shm_floor {
        int shmid;
        int dq, rq; /* descriptors A -> B, releases B -> A */
};

struct desc {
        long mtype;
        uint64_t pos; /* where the chunk starts, in bytes since the start (not wrapped) */
        uint32_t len;
        char mark;    /* MARK_DATA: a chunk in the ring; else a marker, no chunk */
};

struct rel {
        long mtype;
        uint64_t end; /* everything before this position is free again */
};

struct shm_ep {
        int dq, rq;
        bool sender;
        char *ring;
        uint64_t head, tail; /* sender: next free position, released up to */
};

static void floor_shm_teardown(struct pair *p)
{
        struct shm_floor *f = p->priv;

        if (!f)
                return;
        if (f->shmid >= 0)
                (void)shmctl(f->shmid, IPC_RMID, NULL);
        if (f->dq >= 0)
                (void)msgctl(f->dq, IPC_RMID, NULL);
        if (f->rq >= 0)
                (void)msgctl(f->rq, IPC_RMID, NULL);
        free(f);
        p->priv = NULL;
}

static int floor_shm_setup(struct pair *p)
{
        struct shm_floor *f = calloc(1, sizeof(*f));

        int r = 0;

        if (!f)
                return -ENOMEM;
        f->shmid = shmget(IPC_PRIVATE, FLOOR_RING_BYTES, IPC_CREAT | 0600);
        f->dq = f->shmid < 0 ? -1 : msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        f->rq = f->dq < 0 ? -1 : msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (f->rq < 0)
                r = negative_errno();
        p->priv = f;
        if (r < 0)
                floor_shm_teardown(p);
        return r;
}

static int floor_shm_open(struct pair *p, int side, void **ret)
{
        struct shm_floor *f = p->priv;
        struct shm_ep *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->dq = f->dq;
        e->rq = f->rq;
        e->sender = side == SIDE_A;
        e->ring = shmat(f->shmid, NULL, 0);
        if (e->ring == (void *)-1) {
                free(e);
                return negative_errno();
        }
        *ret = e;
        return 0;
}

/* Take the releases that came; wait for one when block. */
static int take_releases(struct shm_ep *e, bool block)
{
        struct rel r;

        for (;;) {
                ssize_t n = msgrcv(e->rq, &r, sizeof(r) - sizeof(long), 0, block ? 0 : IPC_NOWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == ENOMSG ? 0 : negative_errno();
                }
                if (r.end > e->tail)
                        e->tail = r.end;
                block = false;
        }
}

static int send_desc(struct shm_ep *e, const struct desc *d)
{
        while (msgsnd(e->dq, d, sizeof(*d) - sizeof(long), 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return 0;
}

static int floor_shm_send(void *ep, const void *buf, size_t len, int flags)
{
        struct shm_ep *e = ep;
        struct desc d = {.mtype = 1, .len = (uint32_t)len, .mark = ((const char *)buf)[0]};
        uint64_t pos = e->head;
        int r;

        (void)flags;
        if (len == 0 || d.mark != MARK_DATA || len > FLOOR_RING_BYTES)
                return send_desc(e, &d);
        /* Contiguous: a chunk that would wrap starts at the next lap. */
        if (pos % FLOOR_RING_BYTES + len > FLOOR_RING_BYTES)
                pos += FLOOR_RING_BYTES - pos % FLOOR_RING_BYTES;
        while (pos + len - e->tail > FLOOR_RING_BYTES) {
                r = take_releases(e, true);
                if (r < 0)
                        return r;
        }
        memcpy(e->ring + pos % FLOOR_RING_BYTES, buf, len);
        e->head = pos + len;
        d.pos = pos;
        r = send_desc(e, &d);
        if (r == 0)
                r = take_releases(e, false);
        return r;
}

static ssize_t floor_shm_recv(void *ep, void *buf, size_t len)
{
        struct shm_ep *e = ep;
        struct desc d;
        struct rel r = {.mtype = 1};
        const char *chunk;

        for (;;) {
                ssize_t n = msgrcv(e->dq, &d, sizeof(d) - sizeof(long), 0, 0);

                if (n >= 0)
                        break;
                if (errno != EINTR)
                        return negative_errno();
        }
        if (d.mark != MARK_DATA || d.len == 0) {
                if (len > 0)
                        ((char *)buf)[0] = d.mark;
                return len > 0 ? 1 : 0;
        }
        chunk = e->ring + d.pos % FLOOR_RING_BYTES;
        bench_sink += touch_bytes(chunk, d.len);
        if (len > 0)
                ((char *)buf)[0] = chunk[0];
        r.end = d.pos + d.len;
        while (msgsnd(e->rq, &r, sizeof(r) - sizeof(long), 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return (ssize_t)d.len;
}

static void floor_shm_close(void *ep)
{
        struct shm_ep *e = ep;

        (void)shmdt(e->ring);
        free(e);
}

const struct transport transport_floor_shm = {
    .name = "floor-shm",
    .label = "floor: shm ring + SysV desc",
    .setup = floor_shm_setup,
    .open = floor_shm_open,
    .send = floor_shm_send,
    .recv = floor_shm_recv,
    .close = floor_shm_close,
    .teardown = floor_shm_teardown,
    .touches = true,
};
