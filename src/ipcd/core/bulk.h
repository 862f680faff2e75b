/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bulk.h - ring payloads on their way (bulk.c).  Lock held. */
#pragma once

#include "ipcd/core/opcall.h"

/* Check s's descriptor (payload of h) into *d and take a routing
 * reference on its chunk, dropped by bulk_done().  0, ROUTER_E_INVALID,
 * ROUTER_E_DENIED (a ring s cannot map), or -ENOMEM. */
int bulk_accept(struct router *r, struct client *s, const struct wire_in *h,
                const void *payload, struct wire_bulk *d);
void bulk_done(struct router *r, const struct wire_bulk *d);
/* Deliver the chunk of d to c as a descriptor record built on tmpl.  0,
 * ROUTER_E_DENIED, ROUTER_E_FULL, or -ENOMEM; a failure is counted as a
 * drop on c.  reliable: a copy for a reliable subscriber, not limited by
 * c's held-bytes limit: the chunk stays in its publisher's lane until c
 * releases it, so the publisher waits for lane space instead. */
int bulk_deliver(struct router_pass *p, struct client *c, const struct wire_bulk *d,
                 const struct wire_out *tmpl, const char *name, const char *topic,
                 bool reliable);

/* The same for a unicast chunk under flow control from sender_id (0:
 * none): bounded by its sender's window, not by c's held-bytes limit;
 * credited back when c releases it (flow.c). */
int bulk_deliver_flow(struct router_pass *p, struct client *c, const struct wire_bulk *d,
                      const struct wire_out *tmpl, const char *name, uint64_t sender_id);

/* Lanes of rg one uid may hold at once. */
unsigned bulk_lanes_per_uid(const struct router *r, const struct ring *rg);

op_handler_fn op_release, op_lane, op_lane_drop;
