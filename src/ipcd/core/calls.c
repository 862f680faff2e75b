/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * calls.c - calls (SEND with WIRE_IN_REQUEST) waiting for their callee's
 * reply: the callee's list of pending calls, the reply (WIRE_OP_REPLY)
 * that only the callee of a pending call may send, once, and the verdicts
 * its callers get when it leaves first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/answers.h"
#include "ipcd/core/calls.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/message.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/router.h"
#include "shared/clock.h"
#include "shared/util.h"

int call_add(struct router *r, struct client *callee, uint64_t caller_id, uint64_t cookie,
             uint64_t start_us)
{
        if (callee->ncalls >= r->lim.max_calls)
                return ROUTER_E_FULL;
        if (util_array_reserve(&callee->calls, &callee->calls_cap, callee->ncalls + 1,
                               sizeof(*callee->calls), 8) < 0)
                return -ENOMEM;
        callee->calls[callee->ncalls++] =
                (struct pending_call){ caller_id, cookie, start_us };
        return 0;
}

/* Take the pending call (caller_id, cookie) off callee's list and count
 * its latency; false when there is none. */
static bool call_take(struct router *r, struct client *callee, uint64_t caller_id,
                      uint64_t cookie)
{
        for (uint32_t i = 0; i < callee->ncalls; i++)
                if (callee->calls[i].caller_id == caller_id && callee->calls[i].cookie == cookie) {
                        uint64_t now = clock_now_us(), start = callee->calls[i].start_us;
                        uint64_t us = now > start ? now - start : 0;

                        r->cnt.call_latency[wire_call_bucket(us)]++;
                        r->cnt.call_latency_sum_us += us;
                        callee->calls[i] = callee->calls[--callee->ncalls];
                        return true;
                }
        return false;
}

void calls_fail_all(struct router *r, struct client *callee)
{
        for (uint32_t i = 0; i < callee->ncalls; i++) {
                struct client *caller = router_client_by_id(r, callee->calls[i].caller_id);

                if (caller)
                        send_verdict(r, caller, callee->calls[i].cookie,
                                     router_errno(ROUTER_E_GONE));
        }
        free(callee->calls);
        callee->calls = NULL;
        callee->ncalls = callee->calls_cap = 0;
}

/* Never answered to the callee: an invalid reply is only reported. */
int op_reply(struct op_call *x)
{
        struct router *r = x->p->r;
        const struct wire_in *h = x->h;
        struct client *s = x->s, *caller;
        struct wire_out o;
        long *msg;
        size_t off = 0, size;

        if (!wire_type_is_user(h->type) || h->len > r->lim.max_payload) {
                pass_reject(x->p, s, "invalid reply");
                return ROUTER_E_INVALID;
        }
        /* A bridge's verdict for a call it forwarded to another host:
         * privileged clients only, one of the verdicts ipcd itself gives. */
        if (h->flags & WIRE_IN_REMOTE) {
                int32_t status;

                if (policy_check_remote(s) != 0)
                        return ROUTER_E_DENIED;
                if (h->len != sizeof(status)) {
                        pass_reject(x->p, s, "invalid remote verdict");
                        return ROUTER_E_INVALID;
                }
                memcpy(&status, x->payload, sizeof(status));
                if (!wire_remote_verdict_ok(status)) {
                        pass_reject(x->p, s, "invalid remote verdict");
                        return ROUTER_E_INVALID;
                }
                if (!call_take(r, s, h->arg, h->cookie)) {
                        pass_reject(x->p, s, "reply to no pending call");
                        return ROUTER_E_INVALID;
                }
                caller = router_client_by_id(r, h->arg);
                if (caller)
                        send_verdict(r, caller, h->cookie, status);
                return 0;
        }
        /* Only the callee of a pending call may answer it, once. */
        if (!call_take(r, s, h->arg, h->cookie)) {
                pass_reject(x->p, s, "reply to no pending call");
                return ROUTER_E_INVALID;
        }
        caller = router_client_by_id(r, h->arg);
        if (!caller)
                return 0; /* the caller left; nobody to tell */
        o = (struct wire_out){
                .kind = WIRE_OUT_REPLY,
                .type = h->type,
                .cookie = h->cookie,
                .len = h->len,
        };
        stamp_sender(&o, s);
        size = wire_out_size(o.name_len, 0, o.len);
        msg = malloc(sizeof(long) + size);
        if (!msg) {
                send_verdict(r, caller, h->cookie, -ENOMEM);
                return 0;
        }
        msg[0] = wire_reply_type(h->cookie);
        wire_out_put((uint8_t *)(msg + 1), size, &off, &o, s->name, NULL, x->payload);
        s->sent++;
        r->cnt.accepted++;
        /* Replies bypass the backlog limit: one per call, and calls are bounded. */
        if (deliver(r, caller,
                    &(struct delivery){ .msg = msg, .size = off, .nrec = 1, .control = true }) != 0)
                send_verdict(r, caller, h->cookie, router_errno(ROUTER_E_FULL));
        free(msg);
        return 0;
}
