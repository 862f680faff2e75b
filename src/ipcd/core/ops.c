/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ops.c - the operation table: one row per wire operation with its
 * handler and whether it may carry a ring descriptor (WIRE_IN_BULK).
 * Whether ipcd answers it is wire.h's wire_op_answered(), read by the
 * dispatch (dispatch.c), not restated here.  The handlers of the small
 * operations that only set something on the client are here too; the
 * others live with their concept.
 */
#include <string.h>

#include "ipcd/core/whois.h"
#include "ipcd/core/bulk.h"
#include "ipcd/core/calls.h"
#include "ipcd/core/channel.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/monitor.h"
#include "ipcd/core/ops.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/pubsub.h"
#include "ipcd/core/router.h"
#include "ipcd/core/send.h"
#include "shared/macro.h"

/* Everything it sent before is routed: flush, then remove. */
static int op_unregister(struct op_call *x)
{
        router_pass_end(x->p);
        router_client_remove(x->p->r, x->s);
        return 0;
}

static int op_pull(struct op_call *x)
{
        x->s->pull_marker = false;
        backlog_drain(x->p->r, x->s);
        return 0;
}

static int op_timed(struct op_call *x)
{
        x->s->timed = true;
        return 0;
}

static int op_doorbell(struct op_call *x)
{
        x->s->doorbell = true;
        return 0;
}

/* Answered 0: the client learns ipcd routes its records. */
static int op_ping(struct op_call *x)
{
        return 0;
}

static int op_set_overflow(struct op_call *x)
{
        const struct wire_in *h = x->h;
        int policy = (int)(h->arg & 0xff);
        uint64_t bytes = 0;

        if ((policy != WIRE_OVERFLOW_DROP_NEW && policy != WIRE_OVERFLOW_DROP_OLD) ||
            (h->arg & ~(uint64_t)(0xff | WIRE_OVERFLOW_NOTIFY)))
                return ROUTER_E_INVALID;
        if (h->len == sizeof(bytes))
                memcpy(&bytes, x->payload, sizeof(bytes));
        else if (h->len != 0)
                return ROUTER_E_INVALID;
        x->s->overflow = policy;
        x->s->drop_chosen = true; /* its unicast backlog is capped: it drops */
        x->s->notify_drops = h->arg & WIRE_OVERFLOW_NOTIFY;
        x->s->backlog_limit = MIN(bytes, x->p->r->lim.backlog_bytes);
        return 0;
}

static const struct router_op router_ops[] = {
        [WIRE_OP_SEND] = { op_send, true },
        [WIRE_OP_UNREGISTER] = { op_unregister, false },
        [WIRE_OP_PULL] = { op_pull, false },
        [WIRE_OP_TIMED] = { op_timed, false },
        [WIRE_OP_SUBSCRIBE] = { op_subscribe, false },
        [WIRE_OP_UNSUBSCRIBE] = { op_unsubscribe, false },
        [WIRE_OP_PUBLISH] = { op_publish, true },
        [WIRE_OP_REPLY] = { op_reply, false },
        [WIRE_OP_SET_HISTORY] = { op_set_history, false },
        [WIRE_OP_DOORBELL] = { op_doorbell, false },
        [WIRE_OP_RELEASE] = { op_release, false },
        [WIRE_OP_PING] = { op_ping, false },
        [WIRE_OP_MONITOR] = { op_monitor, false },
        [WIRE_OP_SET_OVERFLOW] = { op_set_overflow, false },
        [WIRE_OP_LANE] = { op_lane, false },
        [WIRE_OP_LANE_DROP] = { op_lane_drop, false },
        [WIRE_OP_CHANNEL_OPEN] = { op_channel_open, false },
        [WIRE_OP_CHANNEL_ATTACHED] = { op_channel_attached, false },
        [WIRE_OP_CHANNEL_CLOSE] = { op_channel_close, false },
        [WIRE_OP_WHOIS] = { op_whois, false },
};

const struct router_op *router_op_find(uint16_t op)
{
        if (op >= ELEMENTSOF(router_ops) || !router_ops[op].fn)
                return NULL;
        return &router_ops[op];
}
