/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* snapshot-io.h - what the writer (snapshot.c) and the reader
 * (snapshot-read.c) of the re-exec state share: the header, the section
 * tags, the client fields in the order they are written. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipcd/core/state.h"

struct snap_header {
        char magic[8];
        uint32_t version;
        uint32_t flags;
        uint64_t body_len;
        uint64_t checksum; /* FNV-1a 64 of the body */
};

enum {
        SNAP_TAG_EDGE = 0x45474445, /* "EDGE" */
        SNAP_TAG_RTR = 0x20525452,
        SNAP_TAG_RING = 0x474e4952,
        SNAP_TAG_UIDQ = 0x51444955,
        SNAP_TAG_CLNT = 0x544e4c43,
        SNAP_TAG_LANE = 0x454e414c,
        SNAP_TAG_TOPH = 0x48504f54,
        SNAP_TAG_FLOW = 0x574f4c46,
        SNAP_TAG_CHAN = 0x4e414843, /* "CHAN", version 2 */
        SNAP_TAG_END = 0x20444e45,
};

/* struct router_counters is written as it is, u64 fields only, up to
 * unroutable (version 1): what came after (busy time, call latency) starts
 * again at a re-exec. */
_Static_assert(sizeof(struct router_counters) % sizeof(uint64_t) == 0, "u64 counters");
#define SNAPSHOT_V1_COUNTERS offsetof(struct router_counters, data_busy_us)
_Static_assert(SNAPSHOT_V1_COUNTERS == 16 * sizeof(uint64_t), "version 1 counters");

/* A client's scalar fields, in the order they are written. */
#define SNAP_CLIENT_U64(X)                                                                     \
        X(id) X(qmsg_max) X(backlog_limit) X(missed) X(flow_held) X(flow_told)                \
        X(flow_told_client) X(dropped_ignored) X(bulk_sent) X(bulk_received) X(sent)          \
        X(received) X(dropped) X(unroutable) X(connected_ms)
#define SNAP_CLIENT_U32(X)                                                                     \
        X(uid) X(pid) X(qid) X(semid) X(garbage) X(overflow) X(ring_access) X(death_tries)     \
        X(fifo_fd) X(pidfd)
#define SNAP_CLIENT_BOOL(X)                                                                    \
        X(timed) X(dying) X(pull_marker) X(privileged) X(doorbell) X(monitor)                 \
        X(notify_drops) X(drop_chosen) X(flow_wants) X(death_pending)

struct snap_out {
        uint8_t *p;
        size_t len, cap;
        bool failed;
};

uint64_t snap_fnv64(const uint8_t *p, size_t n);
