/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ringfmt.h - the layout of a bulk ring segment and the bulk descriptors,
 * shared by the daemon and the library.
 *
 * A ring is one System V shared-memory segment (owner ipcd, group = the
 * ring's group, mode 0660), split into lanes of lane_size bytes:
 *
 *   offset 0          struct ring_shm_hdr
 *   offset 64         struct ring_shm_lane[nlanes]   (one cache line each)
 *   offset data_off   lane 0 data, lane 1 data, ...  (data_off page-aligned)
 *
 * A lane has a single producer, the client ipcd gave it to.  Positions are
 * monotonic byte counters; a chunk at position pos lies at
 * data_off + lane * lane_size + pos % lane_size and never crosses the end of
 * the lane (the producer skips to the next lane boundary instead).  ipcd
 * alone writes free_pos: every chunk before it has been released by all its
 * receivers, so the producer may write anywhere in
 * [free_pos, free_pos + lane_size).  ipcd never reads the segment: every
 * byte in it is written by untrusted group members.  A receiver that must
 * trust a payload copies it before validating it.
 */
#pragma once

#include <stdint.h>

#define RING_MAGIC 0x31676e7264637069ULL /* "ipcdrng1" */
#define RING_VERSION 1
#define RING_LANE_ALIGN 64

struct ring_shm_hdr {
        uint64_t magic;
        uint32_t version;
        uint32_t nlanes;
        uint64_t size;
        uint64_t lane_size;
        uint64_t data_off;
        uint64_t reserved_[3];
};

struct ring_shm_lane {
        uint64_t free_pos; /* written by ipcd (release store), read by the producer (acquire) */
        uint64_t reserved_[7];
};

static inline uint64_t ring_data_off(uint32_t nlanes)
{
        uint64_t end = 64 + (uint64_t)nlanes * sizeof(struct ring_shm_lane);

        return (end + 4095) & ~(uint64_t)4095;
}

/* Payload of an inbound WIRE_OP_SEND/PUBLISH record with WIRE_IN_BULK. */
struct wire_bulk {
        uint32_t ring;  /* ring index, as given by WIRE_OP_LANE */
        uint32_t lane;
        uint64_t pos;   /* chunk start */
        uint64_t len;   /* chunk bytes, >= 1 */
        uint64_t hold;  /* the producer's low-water mark: nothing before it is still
                           being written (its oldest allocation not sent yet) */
};

/* Payload of a delivered record with WIRE_OUT_BULK. */
struct wire_bulk_out {
        int32_t shmid;
        uint32_t ring;
        uint32_t lane;
        uint32_t reserved_;
        uint64_t offset; /* of the payload in the segment */
        uint64_t len;
        uint64_t pos;    /* chunk id, for the release */
};

/* Payload of WIRE_OP_RELEASE: an array of these. */
struct wire_release {
        uint32_t ring;
        uint32_t lane;
        uint64_t pos;
};

/* Answer body (payload of the WIRE_OUT_ACK) of WIRE_OP_LANE. */
struct wire_lane_grant {
        int32_t shmid;
        uint32_t ring;
        uint32_t lane;
        uint32_t nlanes;
        uint64_t lane_size;
        uint64_t data_off;
        uint64_t size;
        uint64_t free_pos; /* where the producer starts */
};
