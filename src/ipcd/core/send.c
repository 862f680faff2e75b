/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * send.c - WIRE_OP_SEND: a message to the client that owns a name, inline
 * or as a ring chunk, and a call (WIRE_IN_REQUEST) whose reply the callee
 * sends (calls.c).
 */
#include <errno.h>

#include "ipcd/core/answers.h"
#include "ipcd/core/bulk.h"
#include "ipcd/core/calls.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/message.h"
#include "ipcd/core/monitor.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/router.h"
#include "ipcd/core/send.h"
#include "shared/clock.h"

/* The destination of x, allowed and able to take a call: 0 and *ret, or
 * ROUTER_E_NOT_FOUND, ROUTER_E_DENIED, ROUTER_E_FULL. */
static int send_resolve(struct op_call *x, bool request, struct client **ret)
{
        struct router *r = x->p->r;
        struct client *dst = pass_client_by_name(x->p, x->dst, x->h->dst_len);
        int e;

        if (!dst) {
                /* Without IPCD_ACK the sender never learns: the books do. */
                r->cnt.unroutable++;
                x->s->unroutable++;
                if (x->h->flags & WIRE_IN_FLOW_FULL)
                        flow_unroutable(r, x->s, x->dst, x->h->dst_len);
                return ROUTER_E_NOT_FOUND;
        }
        e = policy_check_send(r, x->s, dst, request);
        if (e != 0)
                return e;
        if (request && dst->ncalls >= r->lim.max_calls) {
                r->cnt.limit_hits++;
                return ROUTER_E_FULL;
        }
        *ret = dst;
        return 0;
}

/* Route x to dst; the outcome once known (the sender waits for it). */
static int send_route(struct op_call *x, struct client *dst, const struct wire_bulk *d,
                      bool request)
{
        struct router *r = x->p->r;
        const struct wire_in *h = x->h;
        struct client *s = x->s;
        struct wire_out o = {
                .kind = WIRE_OUT_MSG,
                .flags = request ? WIRE_OUT_REQUEST : 0,
                .type = h->type,
                .cookie = h->cookie,
                .len = h->len,
        };
        struct batch *b;
        /* Plain sends are flow-controlled (flow.c); a call waits for its
         * reply and is bounded by max_calls instead. */
        bool flow = !request;
        uint64_t cost = wire_flow_cost(h->len);
        int e;

        /* A receiver that chose to drop has its held-bytes limit drop
         * chunks: they are not windowed, the window comes back at once. */
        if (flow && d && dst->drop_chosen) {
                flow_bulk_unwindowed(r, dst, s, d->len);
                flow = false;
        }
        if (flow) {
                e = d ? flow_charge_bulk(r, dst, s, d->len, h->flags & WIRE_IN_FLOW_FULL)
                      : flow_charge(r, dst, s, cost, h->flags);
                if (e != 0) {
                        if (e == -ENOMEM)
                                count_drop(r, dst, 1);
                        return e;
                }
        }
        s->sent++;
        r->cnt.accepted++;
        stamp_sender(&o, s);
        if (r->nmonitors)
                monitor_copy(x->p, s, h, x->dst, false, x->payload);
        if (d)
                return bulk_deliver_flow(x->p, dst, d, &o, s->name, flow ? s->id : 0);
        b = flow ? batch_append_flow(x->p, dst, h->type, &o, s->name, NULL, x->payload, s->id, 0,
                                     cost)
                 : batch_append(x->p, dst, h->type, &o, s->name, NULL, x->payload);
        if (!b) {
                count_drop(r, dst, 1);
                if (flow)
                        flow_delivered(r, dst, s->id, 0, cost);
                return -ENOMEM;
        }
        /* The sender waits for the outcome: deliver now, answer with it. */
        if ((h->flags & WIRE_IN_ACK) || request)
                return batch_flush(x->p, b);
        return 0;
}

/* A call is answered here only when it fails (a verdict); otherwise by
 * its callee.  A plain SEND is answered by the dispatcher when asked. */
int op_send(struct op_call *x)
{
        struct router *r = x->p->r;
        const struct wire_in *h = x->h;
        bool request = h->flags & WIRE_IN_REQUEST, bulk = h->flags & WIRE_IN_BULK;
        struct client *dst = NULL;
        struct wire_bulk d;
        uint64_t start_us = 0;
        int e;

        e = message_accept(x, &d, &bulk);
        if (e == 0)
                e = send_resolve(x, request, &dst);
        /* A call's latency counts from before its delivery: the callee may
         * answer before send_route returns. */
        if (request && e == 0)
                start_us = clock_now_us();
        if (e == 0)
                e = send_route(x, dst, bulk ? &d : NULL, request);
        if (request && e == 0)
                e = call_add(r, dst, x->s->id, h->cookie, start_us);
        if (request) {
                if (e != 0)
                        send_verdict(r, x->s, h->cookie, router_errno(e));
                x->answered = true;
        }
        if (bulk)
                bulk_done(r, &d);
        return e;
}
