/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-ring.c - the bulk ring's authoritative state without a daemon:
 * lanes, descriptor validation against hostile input (out of bounds,
 * someone else's lane, replayed, overlapping, huge), references and the
 * free position that producers wait on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "ipcd/core/msgq.h"
#include "ipcd/core/ring.h"

/* Later checks build on earlier ones: the first failure ends the test. */
#define TEST_CHECK_EXITS
#include "shared/test-util.h"

#define LANE (64 * 1024)

static struct wire_bulk desc(uint32_t lane, uint64_t pos, uint64_t len, uint64_t hold)
{
        return (struct wire_bulk){ .ring = 0, .lane = lane, .pos = pos, .len = len, .hold = hold };
}

static uint64_t shm_free_pos(struct ring *r, uint32_t lane)
{
        const struct ring_shm_lane *l = (const struct ring_shm_lane *)(r->base + 64) + lane;

        return __atomic_load_n(&l->free_pos, __ATOMIC_ACQUIRE);
}

int main(int argc, char **argv)
{
        struct msgq_ctx mq;
        struct ring *r;
        struct client *a = (struct client *)0x1000, *b = (struct client *)0x2000;
        struct wire_bulk d;
        const struct ring_shm_hdr *h;
        struct shmid_ds ds;
        int la, lb;

        test_unshare_ipc(argv);
        (void)argc;
        msgq_ctx_init(&mq, -1, getegid());

        CHECK(ring_create(&mq, 0, "t", 4 * LANE, LANE, getegid(), false, &r) == 0);
        CHECK(r->nlanes == 4 && r->lane_size == LANE && r->data_off % 4096 == 0);
        /* A re-exec state that names the segment with other lanes (or
         * another size) is refused, and nothing half-built is walked
         * (fuzz-snapshot found ring_free() walking lanes not allocated). */
        {
                struct ring *x = NULL;

                CHECK(ring_adopt(0, "t", r->shmid, r->size, 2 * LANE, getegid(), &x) == -EINVAL);
                CHECK(ring_adopt(0, "t", r->shmid, r->size, LANE / 2, getegid(), &x) == -EINVAL);
                CHECK(ring_adopt(0, "t", r->shmid, 2 * r->size, LANE, getegid(), &x) == -EINVAL);
                CHECK(!x);
                CHECK(ring_adopt(0, "t", r->shmid, r->size, LANE, getegid(), &x) == 0);
                CHECK(x->nlanes == 4 && x->lanes && x->base);
                ring_free(x);
        }
        CHECK(r->size == r->data_off + 4 * LANE);
        h = (const struct ring_shm_hdr *)r->base;
        CHECK(h->magic == RING_MAGIC && h->nlanes == 4 && h->lane_size == LANE);
        /* Marked for removal at once, still attachable by id. */
        CHECK(shmctl(r->shmid, IPC_STAT, &ds) == 0);
        CHECK(ds.shm_perm.mode & SHM_DEST);
        CHECK((ds.shm_perm.mode & 0777) == 0660);
        {
                void *p = shmat(r->shmid, NULL, SHM_RDONLY);

                CHECK(p != (void *)-1);
                shmdt(p);
        }

        la = ring_lane_acquire(r, a, 1000);
        lb = ring_lane_acquire(r, b, 1001);
        CHECK(la == 0 && lb == 1);
        CHECK(ring_lanes_of(r, 1000) == 1);

        /* Hostile descriptors. */
        d = desc((uint32_t)lb, 0, 100, 100);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* someone else's lane */
        d = desc(99, 0, 100, 100);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* no such lane */
        d = desc((uint32_t)la, 0, 0, 0);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* empty */
        d = desc((uint32_t)la, 0, LANE + 1, LANE + 1);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* larger than a lane */
        d = desc((uint32_t)la, LANE - 10, 20, LANE + 10);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* across the end of the lane */
        d = desc((uint32_t)la, UINT64_MAX - 5, 10, 0);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* wraps the counter */
        d = desc((uint32_t)la, LANE, 10, LANE + 10);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* beyond the window */

        /* Two good chunks. */
        d = desc((uint32_t)la, 0, 1000, 1000);
        CHECK(ring_chunk_add(r, a, &d) == 0);
        d = desc((uint32_t)la, 500, 1000, 1500);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* overlaps one in flight */
        d = desc((uint32_t)la, 0, 1000, 1000);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);   /* replayed */
        d = desc((uint32_t)la, 1000, 2000, 3000);
        CHECK(ring_chunk_add(r, a, &d) == 0);
        CHECK(r->used == 3000);

        /* Two receivers of the first chunk, one of the second. */
        CHECK(ring_chunk_ref(r, (uint32_t)la, 0) == 0);
        CHECK(ring_chunk_ref(r, (uint32_t)la, 0) == 0);
        CHECK(ring_chunk_ref(r, (uint32_t)la, 1000) == 0);
        CHECK(ring_chunk_ref(r, (uint32_t)la, 7) == -EINVAL);
        CHECK(!ring_chunk_settle(r, (uint32_t)la, 0));
        /* The second chunk released first: free_pos waits for the first. */
        CHECK(!ring_chunk_unref(r, (uint32_t)la, 1000));
        CHECK(shm_free_pos(r, (uint32_t)la) == 0);
        CHECK(!ring_chunk_unref(r, (uint32_t)la, 0));
        CHECK(ring_chunk_unref(r, (uint32_t)la, 0));
        CHECK(shm_free_pos(r, (uint32_t)la) == 3000);
        CHECK(r->used == 0);
        /* A release of what nobody holds changes nothing. */
        CHECK(!ring_chunk_unref(r, (uint32_t)la, 0));
        /* Replay after release: before free_pos. */
        d = desc((uint32_t)la, 1000, 2000, 3000);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);

        /* A chunk nobody received is free at once. */
        d = desc((uint32_t)la, 3000, 100, 3100);
        CHECK(ring_chunk_add(r, a, &d) == 0);
        CHECK(ring_chunk_settle(r, (uint32_t)la, 3000));
        CHECK(shm_free_pos(r, (uint32_t)la) == 3100);

        /* The producer's hold: an allocation not sent yet (at 3100) keeps
         * free_pos from passing it although a later chunk is released. */
        d = desc((uint32_t)la, 4000, 100, 3100);
        CHECK(ring_chunk_add(r, a, &d) == 0);
        CHECK(!ring_chunk_settle(r, (uint32_t)la, 4000));
        CHECK(shm_free_pos(r, (uint32_t)la) == 3100);
        d = desc((uint32_t)la, 3100, 900, 4100);
        CHECK(ring_chunk_add(r, a, &d) == 0);          /* sent late, out of order: fine */
        CHECK(ring_chunk_settle(r, (uint32_t)la, 3100));
        CHECK(shm_free_pos(r, (uint32_t)la) == 4100);
        d = desc((uint32_t)la, 4100, 10, 4000);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);    /* the hold never goes back */

        /* Wrap round: a chunk at the start of the next lap, within the
         * window [free_pos, free_pos + lane); one byte more is not. */
        d = desc((uint32_t)la, LANE, 4101, LANE + 4101);
        CHECK(ring_chunk_add(r, a, &d) == -EINVAL);
        d = desc((uint32_t)la, LANE, 4000, LANE + 4000);
        CHECK(ring_chunk_add(r, a, &d) == 0);
        CHECK(ring_chunk_ref(r, (uint32_t)la, LANE) == 0);

        /* The owner leaves while a receiver holds a chunk: the lane stays
         * busy until it is released, then is free for someone else, and
         * positions go on from where they stopped. */
        ring_lane_disown(r, (uint32_t)la);
        CHECK(r->lanes[la].busy);
        CHECK(ring_chunk_unref(r, (uint32_t)la, LANE));
        CHECK(!r->lanes[la].busy);
        CHECK(ring_lane_acquire(r, b, 1001) == la);
        CHECK(r->lanes[la].free_pos == 2 * LANE); /* from LANE + 4000, rounded up */
        CHECK(shm_free_pos(r, (uint32_t)la) == 2 * LANE);
        d = desc((uint32_t)la, LANE, 4000, LANE + 4000);
        CHECK(ring_chunk_add(r, b, &d) == -EINVAL);   /* the old owner's chunk, replayed */

        /* Lanes run out. */
        CHECK(ring_lane_acquire(r, a, 1000) == 2);
        CHECK(ring_lane_acquire(r, a, 1000) == 3);
        CHECK(ring_lane_acquire(r, a, 1000) == -EAGAIN);
        CHECK(ring_lanes_of(r, 1001) == 2);

        ring_free(r);
        printf("test-ring: ok\n");
        return 0;
}
