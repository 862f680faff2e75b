/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot.h - ipcd's routing state as bytes, for a re-exec (`ipcdctl
 * reexec`, SIGUSR2): the old image writes it into a memfd, the new image
 * reads it back (snapshot.c).  The reader treats every byte as untrusted
 * input: a state it cannot read, or one that does not match what the
 * kernel says (a queue that is not ours, a descriptor that is not open),
 * is refused with a reason, and ipcd then starts fresh.
 *
 * Format (host byte order: writer and reader run on the same machine):
 *
 *   header  "IPCDSNAP" (8 bytes), u32 version (SNAPSHOT_VERSION), u32 0,
 *           u64 body length, u64 FNV-1a 64 of the body
 *   body    sections, each opened by its u32 tag, in this order:
 *     EDGE  the daemon's descriptors and pids (struct snapshot_edge), the
 *           partial control line, the control bytes read but not handled
 *     RTR   next_id, instance, start_ms, the counters, the last flow topic
 *           group id, the reserved names (until_ms, n, then uid + name);
 *           v2: next_channel_id, the units of the last clients gone (n =
 *           WIRE_WHOIS_GONE, gone_next, then id + unit each)
 *     RING  n, then per ring: name, shmid, size, lane_size, gid
 *     UIDQ  n, then per inbound queue: uid, qid
 *     CLNT  n, then per client (snapshot.c client_put): scalars, token,
 *           name, descriptors, held chunks, pending calls, subscriptions,
 *           history depths, topic flow groups, backlog entries; v2: gid,
 *           n groups and each, the systemd unit (as read at registration)
 *     LANE  per ring, per lane: owner id (0: none), uid, busy, free_pos,
 *           hold, end, n chunks (pos, len, refs)
 *     TOPH  n topics, then per topic: name, published, delivered, n
 *           history entries, oldest first (type, sender id/uid/pid, name,
 *           len, data)
 *     FLOW  n pairs: destination id, sender id, outstanding, due,
 *           bulk_out, bulk_due, maybe_blocked
 *     CHAN  (v2) n direct channels: id, shmid, dir_bytes, phase (u8, enum
 *           channel_phase), opener id, acceptor id, charged uid
 *     END
 *   Integers are u8/u32/u64 as written; a string is a u16 length and its
 *   bytes (no NUL), at most its field's size minus one.
 *
 * Versions: a reader of version N reads every version from 1 to N.  The
 * next version may only append fields at the end of a section (or add a
 * section before END), and its reader reads them only when the header's
 * version has them, with the defaults a fresh ipcd would use otherwise;
 * tests/reexec-v1.state and tests/reexec-v2.state are states of versions
 * 1 and 2 which every later reader must keep reading (test-snapshot,
 * test-reexec).  Nothing in a version is ever removed or reinterpreted.
 * A version 1 state has no groups, units nor channels: the new image
 * reads the groups and units again from /proc (reexec.c), and a channel
 * of the old image keeps working but is no longer watched.
 *
 * A channel is checked against the kernel like the rest (ipcd's segment,
 * of its size, owner and mode for its phase, its header naming it), but
 * one that does not match is dropped with a log line (its ends see it
 * closed, as when an end dies), not the whole state: its ends may have
 * gone during the re-exec.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ipcd/core/state.h"
#include "shared/ipcstate.h"
#include "shared/wire.h"

#define SNAPSHOT_MAGIC "IPCDSNAP"
#define SNAPSHOT_VERSION 2
/* Larger states are refused (a corrupt length must not make us allocate
 * without bound). */
#define SNAPSHOT_MAX_BYTES (1ULL << 32)
#define SNAPSHOT_REST_MAX 65536

/* What the edges (main.c, rundir.c, sentinel.c, event.c) hand over. */
struct snapshot_edge {
        int control_fd, lock_fd, state_fd, sentinel_fd;
        int holder_fd;            /* the ring holder's pipe (reexec.c), -1: none */
        pid_t sentinel_pid, holder_pid;
        bool control_created;
        char line[WIRE_LINE_MAX]; /* the partial control line */
        size_t line_len;
        bool line_discard;
        uint8_t *rest;            /* control bytes read after a REEXEC line, not */
        size_t rest_len;          /* handled yet (the reader's: malloc'ed) */
        struct ipcstate_name *reserved; /* the reader's: malloc'ed, the caller frees */
        size_t nreserved;
        uint32_t version;         /* the reader's: the state's format version */
};

/* The state of r (lock held, data threads paused) and edge into a
 * malloc'ed buffer *ret of *len bytes.  0 or -ENOMEM. */
int snapshot_write(const struct router *r, const struct snapshot_edge *edge, uint8_t **ret,
                   size_t *len);

/* Read a state into r (router_init'ed, its limits set, no client yet)
 * and edge.  0, or -EBADMSG (unreadable, or inconsistent: *why says
 * what) or -ENOMEM.  On failure r holds whatever was read: drop it with
 * snapshot_discard(), which removes no object. */
int snapshot_read(struct router *r, struct snapshot_edge *edge, const uint8_t *buf, size_t len,
                  char *why, size_t whylen);

/* Free what snapshot_read put into r without removing any queue,
 * semaphore or segment (channels are detached, not closed) and without
 * closing any descriptor (their numbers
 * may be anything); r is router_init'ed again afterwards by the caller
 * if needed.  Every struct router field is freed (router_done's job,
 * minus the objects). */
void snapshot_discard(struct router *r);
