/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-ring - libFuzzer target: bulk descriptors, as producers send them
 * and receivers release them, against a ring's lane state (ring.c: the
 * state ipcd trusts, never the segment).  The input is a program of
 * operations on a fresh ring of 4 lanes of 64 KiB and three producers:
 *
 *   op 0  acquire a lane for producer k
 *   op 1  a descriptor from producer k: lane, pos (near the lane's newest
 *         end, or any 64-bit value), len, hold
 *   op 2  a receiver takes a reference on a chunk (one in flight, or any pos)
 *   op 3  a receiver drops a reference (one it took, or any pos)
 *   op 4  settle a chunk (delivered to everyone)
 *   op 5  a producer gives its lane back (ring_lane_disown)
 *
 * After every operation the books must agree: ring->used is the sum of
 * the lanes' bytes, a lane's bytes the sum of its chunks, chunks sorted
 * and disjoint, lanes_used the number of busy lanes, the segment's
 * free_pos ipcd's own.  At the end every reference taken is dropped,
 * every chunk settled and every lane given back: nothing may stay in use.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcd/core/msgq.h"
#include "ipcd/core/ring.h"
#include "fuzz-common.h"

#define LANE (64 * 1024)
#define MAX_REFS 256

static struct msgq_ctx mq;

struct prog {
        const uint8_t *p;
        size_t n;
};

static uint64_t take(struct prog *pr, unsigned bytes)
{
        uint64_t v = 0;

        for (unsigned i = 0; i < bytes && pr->n; i++, pr->n--)
                v |= (uint64_t)*pr->p++ << (8 * i);
        return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        fuzz_private_ipc();
        msgq_ctx_init(&mq, -1, getegid());
        return 0;
}

static void check_books(const struct ring *r)
{
        uint64_t used = 0;
        uint32_t busy = 0;

        for (uint32_t i = 0; i < r->nlanes; i++) {
                const struct ring_lane *l = &r->lanes[i];
                const struct ring_shm_lane *sl = (const struct ring_shm_lane *)(r->base + 64) + i;
                uint64_t bytes = 0;

                for (size_t k = 0; k < l->nchunks; k++) {
                        const struct ring_chunk *c = &l->chunks[k];

                        FUZZ_CHECK(c->len >= 1 && c->len <= r->lane_size);
                        FUZZ_CHECK(c->pos + c->len > c->pos);
                        if (k > 0)
                                FUZZ_CHECK(l->chunks[k - 1].pos + l->chunks[k - 1].len <= c->pos);
                        FUZZ_CHECK(c->pos >= l->free_pos);
                        FUZZ_CHECK(c->pos + c->len <= l->free_pos + r->lane_size);
                        bytes += c->len;
                }
                FUZZ_CHECK(bytes == l->bytes);
                FUZZ_CHECK(__atomic_load_n(&sl->free_pos, __ATOMIC_ACQUIRE) == l->free_pos);
                if (l->nchunks)
                        FUZZ_CHECK(l->busy);
                used += l->bytes;
                busy += l->busy;
        }
        FUZZ_CHECK(used == r->used);
        FUZZ_CHECK(busy == r->lanes_used);
}

struct ref {
        uint32_t lane;
        uint64_t pos;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* Producers are only compared, never dereferenced. */
        struct client *prod[3] = { (struct client *)0x1000, (struct client *)0x2000,
                                   (struct client *)0x3000 };
        static struct ref refs[MAX_REFS];
        struct prog pr = { data, size };
        unsigned nrefs = 0;
        struct ring *r;

        FUZZ_CHECK(ring_create(&mq, 0, "f", 4 * LANE, LANE, getegid(), false, &r) == 0);
        while (pr.n) {
                unsigned op = (unsigned)take(&pr, 1);
                unsigned k = (op >> 4) % 3;
                uint32_t lane = (uint32_t)take(&pr, 1) % 5; /* 4: no such lane */
                struct ring_lane *l = lane < r->nlanes ? &r->lanes[lane] : NULL;
                bool raw = op & 0x80;

                switch (op & 0x7) {
                case 0:
                        (void)ring_lane_acquire(r, prod[k], 1000 + k);
                        break;
                case 1: {
                        struct wire_bulk d = { .ring = 0, .lane = lane };
                        uint64_t base = l ? l->end : 0;

                        if (raw) {
                                d.pos = take(&pr, 8);
                                d.len = take(&pr, 8);
                                d.hold = take(&pr, 8);
                        } else {
                                d.pos = base + (uint64_t)(int64_t)(int16_t)take(&pr, 2);
                                d.len = take(&pr, 2) + 1;
                                d.hold = d.pos + d.len + (uint64_t)(int64_t)(int8_t)take(&pr, 1);
                        }
                        (void)ring_chunk_add(r, prod[k], &d);
                        break;
                }
                case 2: {
                        uint64_t pos = take(&pr, 8);

                        if (!raw && l && l->nchunks)
                                pos = l->chunks[pos % l->nchunks].pos;
                        if (ring_chunk_ref(r, lane, pos) == 0) {
                                if (nrefs < MAX_REFS)
                                        refs[nrefs++] = (struct ref){ lane, pos };
                                else
                                        (void)ring_chunk_unref(r, lane, pos);
                        }
                        break;
                }
                case 3: {
                        uint64_t i = take(&pr, 1);

                        if (!raw && nrefs) {
                                i %= nrefs;
                                (void)ring_chunk_unref(r, refs[i].lane, refs[i].pos);
                                refs[i] = refs[--nrefs];
                        } else if (raw) {
                                /* A release by position: only of what was
                                 * taken (ipcd's held list sees to that). */
                                uint64_t pos = take(&pr, 8);

                                for (unsigned j = 0; j < nrefs; j++)
                                        if (refs[j].lane == lane && refs[j].pos == pos) {
                                                (void)ring_chunk_unref(r, lane, pos);
                                                refs[j] = refs[--nrefs];
                                                break;
                                        }
                        }
                        break;
                }
                case 4: {
                        uint64_t pos = take(&pr, 8);

                        if (!raw && l && l->nchunks)
                                pos = l->chunks[pos % l->nchunks].pos;
                        (void)ring_chunk_settle(r, lane, pos);
                        break;
                }
                case 5:
                        if (l && l->owner == prod[k])
                                ring_lane_disown(r, lane);
                        break;
                default:
                        break;
                }
                check_books(r);
        }

        /* Everyone lets go: the ring must be empty. */
        while (nrefs) {
                nrefs--;
                (void)ring_chunk_unref(r, refs[nrefs].lane, refs[nrefs].pos);
        }
        for (uint32_t i = 0; i < r->nlanes; i++) {
                struct ring_lane *l = &r->lanes[i];

                while (l->nchunks) {
                        size_t before = l->nchunks;

                        (void)ring_chunk_settle(r, i, l->chunks[0].pos);
                        FUZZ_CHECK(l->nchunks < before);
                }
                if (l->owner)
                        ring_lane_disown(r, i);
                check_books(r);
        }
        FUZZ_CHECK(r->used == 0 && r->lanes_used == 0);
        ring_free(r);
        return 0;
}
