/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* delivery.h - into a client's queue, or its backlog, or counted as dropped
 * (delivery.c).  Lock held. */
#pragma once

#include "ipcd/core/state.h"

/* One queue message for a client: msg[0] is the mtype, size mtext bytes
 * follow, holding nrec user records. */
struct delivery {
        const long *msg;
        size_t size;
        uint32_t nrec;
        bool control;                 /* an answer or notice: own limit, own type */
        bool answer;                  /* an answer to a request: no doorbell (wakeup.h) */
        const struct held_chunk *bulk; /* the bulk descriptor it carries (held by the
                                         receiver), or NULL; at most one per message */
        uint64_t flow_sender;         /* its records' sender under flow control, or 0 */
        uint64_t flow_group;          /* a reliable topic copy's group, or 0 */
        uint64_t flow_cost;
};

/*
 * Deliver m to c: straight into its queue if nothing waits before it, else
 * behind its backlog, else drop (counted).  0 delivered or queued in ipcd,
 * ROUTER_E_FULL dropped, ROUTER_E_GONE c is removed.
 */
int deliver(struct router *r, struct client *c, const struct delivery *m);
/* Try to empty c's backlog into its queue.  true if it is empty now. */
bool backlog_drain(struct router *r, struct client *c);
/* Forget c's backlog (it leaves). */
void backlog_free(struct router *r, struct client *c);
/* nrec records for c were dropped, for this reason (enum wire_drop_reason). */
void count_drop_why(struct router *r, struct client *c, uint32_t nrec, int why);
/* ... for ipcd's own limits (WIRE_DROP_MEMORY). */
void count_drop(struct router *r, struct client *c, uint32_t nrec);
/* Re-exec (snapshot.c): append e, read from a saved state, to c's
 * backlog with its accounting (c->uq set). */
void backlog_restore(struct router *r, struct client *c, struct backlog_entry *e);
