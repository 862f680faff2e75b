/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* flow.h - flow control per sender->destination pair: windows, credit
 * records, the "ignored back pressure" drops (flow.c).  Lock held. */
#pragma once

#include "ipcd/core/state.h"

/* The window of one pair (inline cost), and of its unicast bulk bytes. */
uint64_t flow_window(const struct router *r);
/* What one client may have in flight to all destinations (inline cost). */
uint64_t flow_client_budget(const struct router *r);
uint64_t flow_bulk_window(const struct router *r, uint64_t lane_size);

/* Charge an inline SEND of cost from s to dst (wflags: its
 * WIRE_IN_FLOW_FULL, WIRE_IN_FLOW_WANTS).  0, or ROUTER_E_FULL: s is over
 * its window or its client budget by more than an honest library can be
 * (it ignored the back pressure): the caller drops the message (counted
 * here). */
int flow_charge(struct router *r, struct client *dst, struct client *s, uint64_t cost,
                uint16_t wflags);
/* The same for a unicast bulk chunk of len ring bytes. */
int flow_charge_bulk(struct router *r, struct client *dst, struct client *s, uint64_t len,
                     bool full);
/* A send flagged WIRE_IN_FLOW_FULL to a name nobody holds: its sender may
 * wait for credit that will never come; tell it the name is gone. */
void flow_unroutable(struct router *r, struct client *s, const char *name, size_t len);
/* A unicast chunk of len bytes to a destination that chose to drop: not
 * windowed (its held-bytes limit drops), credited back at once. */
void flow_bulk_unwindowed(struct router *r, struct client *dst, struct client *s, uint64_t len);
/* cost from sender_id left ipcd for dst (into its queue, or dropped):
 * credit it back once enough is due. */
void flow_delivered(struct router *r, struct client *dst, uint64_t sender_id, uint64_t group,
                    uint64_t cost);

/* Reliable topics.  Does c hold a reliable subscription matching topic? */
bool flow_sub_reliable(const struct client *c, const char *topic);
/* The group of publisher s for topic, for a copy of cost to reliable
 * subscriber c: its id (0: none, the copy is dropped: s ignored its window
 * or memory ran out, counted).  flow_topic_charge() once per publish. */
uint64_t flow_topic_copy(struct router *r, struct client *s, const char *topic,
                         struct client *c);
void flow_topic_charge(struct router *r, struct client *s, uint64_t group, uint64_t cost);
/* c's reliable subscriptions changed: leave the groups it no longer
 * belongs to. */
void flow_topic_recheck(struct router *r, struct client *c);
/* dst released (or lost) a bulk chunk of len bytes from sender_id. */
void flow_bulk_released(struct router *r, struct client *dst, uint64_t sender_id, uint64_t len);
/* c leaves: its senders are told (-ECONNRESET credits), its pairs freed,
 * and the pairs it had as a sender freed. */
void flow_client_gone(struct router *r, struct client *c);
/* Re-exec (snapshot.c): the last topic group id given out, and a pair
 * read from a saved state (its sender's flow_held is the sender's own,
 * saved apart).  0 or -ENOMEM. */
uint64_t flow_group_id_last(void);
void flow_group_id_set(uint64_t last);
int flow_pair_restore(struct router *r, struct client *dst, struct client *s,
                      const struct flow_pair *v);
