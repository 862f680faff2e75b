/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ring.h - ipcd's authoritative state of the bulk rings: who owns which
 * lane, which chunks are in flight and how many receivers hold each.  The
 * segment layout is in src/shared/ringfmt.h.  Called with router->lock held.
 *
 * ipcd keeps everything it relies on in its own memory and only ever
 * writes the segment (each lane's free_pos).  Every descriptor a producer
 * sends is checked against that state: its lane, bounds, no overlap with a
 * chunk in flight, not before free_pos (a replay).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/ringfmt.h"

struct client;
struct msgq_ctx;

struct ring_chunk {
        uint64_t pos, len;
        uint32_t refs;
};

struct ring_lane {
        struct client *owner;      /* NULL: free, or its owner left while chunks drain */
        uid_t uid;                 /* of the owner, for the per-uid lane count */
        bool busy;                 /* owned, or draining */
        uint64_t free_pos;         /* what the segment says */
        uint64_t hold;             /* the producer's low-water mark */
        uint64_t end;              /* end of the newest chunk */
        struct ring_chunk *chunks; /* in flight, sorted by pos */
        size_t nchunks, cap;
        uint64_t bytes;            /* in flight */
};

struct ring {
        unsigned index;
        char name[64];
        int shmid;
        uint8_t *base;
        uint64_t size, lane_size, data_off;
        uint32_t nlanes;
        gid_t gid;
        struct ring_lane *lanes;
        uint64_t used;             /* bytes in flight, all lanes */
        uint32_t lanes_used;
};

/* Create, attach and mark for removal (it vanishes with its last user).
 * -ENOMEM with hugepages means none are reserved. */
int ring_create(struct msgq_ctx *mq, unsigned index, const char *name, uint64_t size,
                uint64_t lane_size, gid_t gid, bool hugepages, struct ring **ret);
void ring_free(struct ring *r);

/* Give c a free lane; lane index or -EAGAIN. */
int ring_lane_acquire(struct ring *r, struct client *c, uid_t uid);
/* The owner is done with it (left, or gave it back): free once drained. */
void ring_lane_disown(struct ring *r, uint32_t lane);
/* Lanes uid holds in r. */
unsigned ring_lanes_of(struct ring *r, uid_t uid);

/* Validate a producer's descriptor and record the chunk (refs 0).
 * 0 or -EINVAL (not its lane, out of bounds, overlapping, replayed). */
int ring_chunk_add(struct ring *r, struct client *producer, const struct wire_bulk *d);
/* A receiver takes/drops a reference.  unref returns true when free_pos
 * moved (the producer may be waiting for room). */
int ring_chunk_ref(struct ring *r, uint32_t lane, uint64_t pos);
bool ring_chunk_unref(struct ring *r, uint32_t lane, uint64_t pos);
/* After delivering a chunk to every receiver: free it at once if nobody
 * took a reference.  Returns true when free_pos moved. */
bool ring_chunk_settle(struct ring *r, uint32_t lane, uint64_t pos);

/* Re-exec (snapshot.c): attach the segment shmid that an earlier image of
 * ipcd made with this geometry, checking its header; the lanes start
 * empty (the caller fills them).  -EINVAL when it does not match. */
int ring_adopt(unsigned index, const char *name, int shmid, uint64_t size, uint64_t lane_size,
               gid_t gid, struct ring **ret);
/* Recount used and lanes_used after the lanes were filled. */
void ring_recount(struct ring *r);
