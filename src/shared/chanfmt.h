/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * chanfmt.h - the layout of a direct channel's segment (ipcd_channel_open,
 * libipcd-client(3) "Direct channels"), shared by the daemon and the
 * library.
 *
 * A channel is one System V shared-memory segment that ipcd creates for
 * one pair of clients, the opener O and the acceptor A, and two
 * single-producer single-consumer rings in it: direction 0 (O writes, A
 * reads) and direction 1 (A writes, O reads).
 *
 *   offset 0                 struct chan_shm_hdr       (one cache line)
 *   offset 64                struct chan_shm_dir[2]    (four lines each)
 *   offset CHAN_DATA_OFF     direction 0's bytes, then direction 1's
 *
 * The sizes come from ipcd's grant and offer (trusted), never from the
 * segment: every byte of it can be written by either peer.  Positions are
 * monotonic byte counters; each end keeps its own position in its own
 * memory and only publishes it here, so a peer that scribbles on the
 * segment can make the other end see garbage (which it detects and turns
 * into -EBADMSG), never make it read or write outside the ring.
 *
 * A record is a struct chan_rec followed by len payload bytes and zero
 * padding to 8; it never crosses the end of the ring: a record whose type
 * is CHAN_REC_WRAP means "skip to the end, go on at offset 0".
 *
 * Waking: the consumer spins, then sets rx_wait = 1, re-reads head and
 * sleeps in FUTEX_WAIT on rx_wait; the producer, after publishing head,
 * wakes it only when rx_wait is set.  Symmetrically for a producer that
 * waits for room (tx_wait, woken by the consumer).  Both sides order the
 * flag and the position with a full fence (seq_cst), so no wake-up is
 * lost.  The producer's fence is paid per message (the consumer's tail
 * only every quarter ring and before it sleeps): without it, a send whose
 * look at rx_wait passes the consumer's store, while its own head is still
 * in its CPU's store buffer, would leave the consumer asleep; making the
 * consumer's sleep safe against that instead (a timed first sleep, or
 * membarrier) costs more per futex round trip than the fence saves (see
 * the README's performance analysis).  ipcd sets state to
 * CHAN_STATE_CLOSED when either end leaves and wakes all four words'
 * waiters.
 */
#pragma once

#include <stdint.h>

#define CHAN_MAGIC 0x316e616863647069ULL /* "ipcdchn1" */
#define CHAN_VERSION 1
#define CHAN_DATA_OFF 4096
#define CHAN_REC_WRAP 0u

enum chan_state {
        CHAN_STATE_OPEN = 0,
        CHAN_STATE_CLOSED = 1,  /* an end left (ipcd, or the end itself, says so) */
        CHAN_STATE_CORRUPT = 2, /* an end found garbage in a ring and gave up */
};

struct chan_shm_hdr {
        uint64_t magic;
        uint32_t version;
        uint32_t state;     /* enum chan_state; also a futex word */
        uint64_t dir_bytes; /* bytes of each direction's ring (informative) */
        uint64_t id;        /* the channel id (informative) */
        uint64_t reserved_[4];
};

struct chan_shm_dir {
        /* the producer's line */
        uint64_t head;      /* bytes written (release store) */
        uint64_t sent;      /* messages written (counters for ipcdctl) */
        uint64_t reserved_[6];
        /* the consumer's line: published lazily (every quarter ring, and
         * before it waits), which the producer's cached view tolerates */
        uint64_t tail;      /* bytes consumed (release store) */
        uint64_t received;  /* messages read */
        uint64_t reserved2_[6];
        /* the wake-up flags, each on its own line: written only around a
         * sleep, so reading them costs no cache-line transfer */
        uint32_t rx_wait;   /* 1: the consumer sleeps, waiting for a message */
        uint32_t reserved3_[15];
        uint32_t tx_wait;   /* 1: the producer sleeps, waiting for room */
        uint32_t reserved4_[15];
};

struct chan_rec {
        uint32_t len;  /* payload bytes */
        uint32_t type; /* 1 ... IPCD_TYPE_MAX, or CHAN_REC_WRAP */
};

_Static_assert(sizeof(struct chan_shm_hdr) == 64, "one line");
_Static_assert(sizeof(struct chan_shm_dir) == 256, "four lines");

static inline uint64_t chan_seg_size(uint64_t dir_bytes)
{
        return CHAN_DATA_OFF + 2 * dir_bytes;
}

/* The largest payload of one message in a ring of dir_bytes. */
static inline uint64_t chan_max_msg(uint64_t dir_bytes)
{
        return dir_bytes / 4 - sizeof(struct chan_rec);
}

/* Payload of the WIRE_OUT_ACK that answers WIRE_OP_CHANNEL_OPEN, and of
 * the WIRE_NOTICE_CHANNEL notice that offers the channel to its acceptor.
 * The peer is the other end, as ipcd authenticated it. */
struct wire_channel_grant {
        int32_t shmid;
        uint32_t reserved_;
        uint64_t channel_id;
        uint64_t dir_bytes;
        uint64_t peer_id;
        uint32_t peer_uid;
        int32_t peer_pid;
        char peer_name[64]; /* NUL-terminated, "" for an anonymous peer */
};
