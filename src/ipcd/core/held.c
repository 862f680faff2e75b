/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * held.c - the ring chunks delivered to a receiver and not yet released:
 * each holds one reference on its chunk in ring.c; the last one dropped
 * moves the lane's free_pos and wakes its producer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/held.h"
#include "ipcd/core/wakeup.h"
#include "shared/util.h"

static void wake_producer(struct ring *rg, uint32_t lane)
{
        struct client *o = rg->lanes[lane].owner;

        /* It may be waiting for room in its lane (a timed wait on Sc). */
        if (o && !o->removed)
                wakeup_raise(o);
}

int held_add(struct client *c, const struct held_chunk *h)
{
        if (util_array_reserve(&c->held, &c->held_cap, c->nheld + 1, sizeof(*c->held), 16) < 0)
                return -ENOMEM;
        c->held[c->nheld++] = *h;
        c->held_bytes += h->len;
        return 0;
}

/* Remove c's reference to a chunk; false if it holds none. Releases come
 * mostly oldest first: search from the front, keep the order. */
bool held_take(struct client *c, uint32_t ring, uint32_t lane, uint64_t pos)
{
        return held_take_get(c, ring, lane, pos, NULL);
}

bool held_take_get(struct client *c, uint32_t ring, uint32_t lane, uint64_t pos,
                   struct held_chunk *out)
{
        for (size_t i = 0; i < c->nheld; i++)
                if (c->held[i].pos == pos && c->held[i].lane == lane && c->held[i].ring == ring) {
                        if (out)
                                *out = c->held[i];
                        c->held_bytes -= c->held[i].len;
                        memmove(&c->held[i], &c->held[i + 1], (c->nheld - i - 1) * sizeof(*c->held));
                        c->nheld--;
                        return true;
                }
        return false;
}

void chunk_unref(struct router *r, uint32_t ring, uint32_t lane, uint64_t pos)
{
        if (ring < r->nrings && ring_chunk_unref(r->rings[ring], lane, pos))
                wake_producer(r->rings[ring], lane);
}

void held_drop_all(struct router *r, struct client *c)
{
        for (size_t i = 0; i < c->nheld; i++)
                chunk_unref(r, c->held[i].ring, c->held[i].lane, c->held[i].pos);
        free(c->held);
        c->held = NULL;
        c->nheld = c->held_cap = 0;
        c->held_bytes = 0;
}

