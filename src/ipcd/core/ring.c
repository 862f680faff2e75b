/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ring.c - the bulk rings: segment creation, lanes, chunk validation and
 * reference counts.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "ipcd/core/msgq.h"
#include "ipcd/core/ring.h"
#include "shared/ipcstate.h"
#include "shared/log.h"
#include "shared/util.h"

#ifndef SHM_HUGETLB
#define SHM_HUGETLB 04000
#endif

static struct ring_shm_lane *shm_lane(struct ring *r, uint32_t lane)
{
        return (struct ring_shm_lane *)(r->base + 64) + lane;
}

static void publish_free_pos(struct ring *r, uint32_t lane)
{
        __atomic_store_n(&shm_lane(r, lane)->free_pos, r->lanes[lane].free_pos, __ATOMIC_RELEASE);
}

int ring_create(struct msgq_ctx *mq, unsigned index, const char *name, uint64_t size,
                uint64_t lane_size, gid_t gid, bool hugepages, struct ring **ret)
{
        struct ring *r;
        struct ring_shm_hdr *h;
        struct shmid_ds ds;
        uint64_t data_off;
        uint32_t nlanes;
        int id, e;

        if (lane_size == 0 || lane_size % 4096 || size < lane_size)
                return -EINVAL;
        /* size / lane_size lanes; the header page comes on top. */
        nlanes = (uint32_t)(size / lane_size);
        data_off = ring_data_off(nlanes);
        size = data_off + (uint64_t)nlanes * lane_size;
        if (hugepages)
                size = (size + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->lanes = calloc(nlanes, sizeof(*r->lanes));
        if (!r->lanes) {
                free(r);
                return -ENOMEM;
        }
        id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0660 | (hugepages ? SHM_HUGETLB : 0));
        if (id < 0) {
                e = -errno;
                free(r->lanes);
                free(r);
                if (hugepages && (e == -ENOMEM || e == -EPERM || e == -EINVAL))
                        log_error("ring %s: no huge pages for %llu bytes (reserve them with "
                                  "vm.nr_hugepages, or set hugepages = false)",
                                  name, (unsigned long long)size);
                return e;
        }
        ipcstate_record(mq->state_fd, IPCSTATE_SHM, id, false);
        if (shmctl(id, IPC_STAT, &ds) == 0) {
                ds.shm_perm.gid = gid;
                ds.shm_perm.mode = 0660;
                if (shmctl(id, IPC_SET, &ds) < 0)
                        log_warning_errno(-errno, "ring %s: setting group %u", name, (unsigned)gid);
        }
        r->base = shmat(id, NULL, 0);
        if (r->base == (void *)-1) {
                e = -errno;
                shmctl(id, IPC_RMID, NULL);
                ipcstate_record(mq->state_fd, IPCSTATE_SHM, id, true);
                free(r->lanes);
                free(r);
                return e;
        }
        /* Marked for removal now: it lives while attached (Linux lets
         * clients shmat it all the same) and vanishes with its last user,
         * even if everything is killed. */
        shmctl(id, IPC_RMID, NULL);
        ipcstate_record(mq->state_fd, IPCSTATE_SHM, id, true);

        r->index = index;
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->shmid = id;
        r->size = size;
        r->lane_size = lane_size;
        r->data_off = data_off;
        r->nlanes = nlanes;
        r->gid = gid;
        h = (struct ring_shm_hdr *)r->base;
        memset(h, 0, data_off);
        h->magic = RING_MAGIC;
        h->version = RING_VERSION;
        h->nlanes = nlanes;
        h->size = size;
        h->lane_size = lane_size;
        h->data_off = data_off;
        *ret = r;
        return 0;
}

void ring_free(struct ring *r)
{
        if (!r)
                return;
        for (uint32_t i = 0; i < r->nlanes; i++)
                free(r->lanes[i].chunks);
        free(r->lanes);
        if (r->base && r->base != (void *)-1)
                shmdt(r->base);
        free(r);
}

unsigned ring_lanes_of(struct ring *r, uid_t uid)
{
        unsigned n = 0;

        for (uint32_t i = 0; i < r->nlanes; i++)
                if (r->lanes[i].busy && r->lanes[i].uid == uid)
                        n++;
        return n;
}

int ring_lane_acquire(struct ring *r, struct client *c, uid_t uid)
{
        for (uint32_t i = 0; i < r->nlanes; i++) {
                struct ring_lane *l = &r->lanes[i];

                if (l->busy)
                        continue;
                l->busy = true;
                l->owner = c;
                l->uid = uid;
                /* Positions continue from where the last owner stopped, so a
                 * descriptor of the old owner can never match a new chunk,
                 * rounded up to a lane boundary: the lane is empty, and a
                 * chunk of a whole lane fits the new owner's window. */
                l->free_pos += (r->lane_size - l->free_pos % r->lane_size) % r->lane_size;
                l->hold = l->end = l->free_pos;
                r->lanes_used++;
                publish_free_pos(r, i);
                return (int)i;
        }
        return -EAGAIN;
}

static void lane_maybe_free(struct ring *r, uint32_t lane)
{
        struct ring_lane *l = &r->lanes[lane];

        if (l->busy && !l->owner && l->nchunks == 0) {
                l->busy = false;
                r->lanes_used--;
        }
}

void ring_lane_disown(struct ring *r, uint32_t lane)
{
        struct ring_lane *l;

        if (lane >= r->nlanes)
                return;
        l = &r->lanes[lane];
        l->owner = NULL;
        lane_maybe_free(r, lane);
}

/* Index of the chunk at pos, or -1. */
static ssize_t chunk_find(struct ring_lane *l, uint64_t pos)
{
        size_t lo = 0, hi = l->nchunks;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (l->chunks[mid].pos == pos)
                        return (ssize_t)mid;
                if (l->chunks[mid].pos < pos)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

/* Advance free_pos past every released chunk at the front, up to the
 * producer's hold.  true if it moved. */
static bool lane_advance(struct ring *r, uint32_t lane)
{
        struct ring_lane *l = &r->lanes[lane];
        uint64_t target = l->nchunks ? l->chunks[0].pos : l->end;

        if (target > l->hold && l->owner)
                target = l->hold;
        if (!l->owner && !l->nchunks)
                target = l->end;
        if (target <= l->free_pos)
                return false;
        l->free_pos = target;
        publish_free_pos(r, lane);
        return true;
}

int ring_chunk_add(struct ring *r, struct client *producer, const struct wire_bulk *d)
{
        struct ring_lane *l;
        size_t i;
        uint64_t off;

        if (d->lane >= r->nlanes)
                return -EINVAL;
        l = &r->lanes[d->lane];
        if (!l->busy || l->owner != producer)
                return -EINVAL; /* someone else's lane, or none */
        if (d->len == 0 || d->len > r->lane_size)
                return -EINVAL;
        if (d->pos + d->len < d->pos || d->hold < l->hold ||
            d->hold > l->free_pos + r->lane_size)
                return -EINVAL;
        /* Within the producer's window, not before what was released (a
         * replay), not across the end of the lane. */
        if (d->pos < l->free_pos || d->pos + d->len > l->free_pos + r->lane_size)
                return -EINVAL;
        off = d->pos % r->lane_size;
        if (off + d->len > r->lane_size)
                return -EINVAL;
        /* No overlap with a chunk in flight (sorted by pos). */
        for (i = l->nchunks; i > 0; i--)
                if (l->chunks[i - 1].pos < d->pos)
                        break;
        if (i > 0 && l->chunks[i - 1].pos + l->chunks[i - 1].len > d->pos)
                return -EINVAL;
        if (i < l->nchunks && d->pos + d->len > l->chunks[i].pos)
                return -EINVAL;
        if (util_array_reserve(&l->chunks, &l->cap, l->nchunks + 1, sizeof(*l->chunks), 16) < 0)
                return -ENOMEM;
        memmove(&l->chunks[i + 1], &l->chunks[i], (l->nchunks - i) * sizeof(*l->chunks));
        l->chunks[i] = (struct ring_chunk){ .pos = d->pos, .len = d->len };
        l->nchunks++;
        l->bytes += d->len;
        r->used += d->len;
        l->hold = d->hold;
        if (d->pos + d->len > l->end)
                l->end = d->pos + d->len;
        return 0;
}

int ring_chunk_ref(struct ring *r, uint32_t lane, uint64_t pos)
{
        ssize_t i;

        if (lane >= r->nlanes)
                return -EINVAL;
        i = chunk_find(&r->lanes[lane], pos);
        if (i < 0)
                return -EINVAL;
        r->lanes[lane].chunks[i].refs++;
        return 0;
}

static bool chunk_drop(struct ring *r, uint32_t lane, size_t i)
{
        struct ring_lane *l = &r->lanes[lane];
        bool moved;

        l->bytes -= l->chunks[i].len;
        r->used -= l->chunks[i].len;
        memmove(&l->chunks[i], &l->chunks[i + 1], (l->nchunks - i - 1) * sizeof(*l->chunks));
        l->nchunks--;
        moved = lane_advance(r, lane);
        lane_maybe_free(r, lane);
        return moved;
}

bool ring_chunk_unref(struct ring *r, uint32_t lane, uint64_t pos)
{
        ssize_t i;

        if (lane >= r->nlanes)
                return false;
        i = chunk_find(&r->lanes[lane], pos);
        if (i < 0 || r->lanes[lane].chunks[i].refs == 0)
                return false;
        if (--r->lanes[lane].chunks[i].refs > 0)
                return false;
        return chunk_drop(r, lane, (size_t)i);
}

bool ring_chunk_settle(struct ring *r, uint32_t lane, uint64_t pos)
{
        ssize_t i;

        if (lane >= r->nlanes)
                return false;
        i = chunk_find(&r->lanes[lane], pos);
        if (i < 0 || r->lanes[lane].chunks[i].refs > 0)
                return false;
        return chunk_drop(r, lane, (size_t)i);
}

int ring_adopt(unsigned index, const char *name, int shmid, uint64_t size, uint64_t lane_size,
               gid_t gid, struct ring **ret)
{
        const struct ring_shm_hdr *h;
        struct shmid_ds ds;
        struct ring *r;
        uint32_t nlanes;

        if (shmid < 0 || lane_size == 0 || lane_size % 4096 || size < lane_size)
                return -EINVAL;
        /* Ours (created by our uid) and of the size recorded. */
        if (shmctl(shmid, IPC_STAT, &ds) < 0)
                return -errno;
        if (ds.shm_perm.cuid != geteuid() || ds.shm_segsz != size)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->base = shmat(shmid, NULL, 0);
        if (r->base == (void *)-1) {
                int e = -errno;

                free(r);
                return e;
        }
        h = (const struct ring_shm_hdr *)r->base;
        /* r->nlanes only once r->lanes has them: ring_free() walks them. */
        nlanes = (uint32_t)h->nlanes;
        if (h->magic != RING_MAGIC || h->version != RING_VERSION || h->size != size ||
            h->lane_size != lane_size || h->nlanes == 0 || h->nlanes > size / lane_size ||
            h->data_off != ring_data_off(nlanes) ||
            h->data_off + (uint64_t)nlanes * lane_size > size) {
                ring_free(r);
                return -EINVAL;
        }
        r->lanes = calloc(nlanes, sizeof(*r->lanes));
        if (!r->lanes) {
                ring_free(r);
                return -ENOMEM;
        }
        r->nlanes = nlanes;
        r->index = index;
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->shmid = shmid;
        r->size = size;
        r->lane_size = lane_size;
        r->data_off = h->data_off;
        r->gid = gid;
        *ret = r;
        return 0;
}

void ring_recount(struct ring *r)
{
        r->used = 0;
        r->lanes_used = 0;
        for (uint32_t i = 0; i < r->nlanes; i++) {
                struct ring_lane *l = &r->lanes[i];

                l->bytes = 0;
                for (size_t k = 0; k < l->nchunks; k++)
                        l->bytes += l->chunks[k].len;
                r->used += l->bytes;
                r->lanes_used += l->busy;
        }
}
