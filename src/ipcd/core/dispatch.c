/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dispatch.c - one inbound queue message: its records one by one,
 * authenticated (id, token, the uid's own queue), checked for flags,
 * handed to their operation's handler (ops.c), answered when wire.h's
 * wire_op_answered() says so, and the sender disconnected once it sent
 * more invalid records than garbage_kick allows.
 */
#include "ipcd/core/answers.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/ops.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/router.h"
#include "shared/log.h"

#define KNOWN_FLAGS (WIRE_IN_ACK | WIRE_IN_REQUEST | WIRE_IN_MORE | WIRE_IN_BULK | WIRE_IN_FLOW_FULL | \
                     WIRE_IN_FLOW_WANTS | WIRE_IN_REMOTE)

/* The client h claims to be, or NULL (reported, or ipcd's own late notice). */
static struct client *dispatch_sender(struct router_pass *p, const struct wire_in *h)
{
        struct router *r = p->r;
        struct client *s = router_client_by_id(r, h->client_id);

        if (!s && h->op == WIRE_OP_UNREGISTER && h->arg == WIRE_UNREGISTER_DEATH &&
            h->client_id && h->client_id <= r->next_id)
                /* Our own death notice for a client that unregistered itself
                 * just before it closed its FIFO. */
                return NULL;
        if (!s || s->uq != p->uq || !wire_token_equal(s->token, h->token)) {
                /* Unknown id, another uid's client, or a forged token. */
                pass_reject(p, NULL, "unknown client or bad token");
                return NULL;
        }
        return s;
}

static void dispatch_one(struct op_call *x)
{
        struct router *r = x->p->r;
        const struct wire_in *h = x->h;
        const struct router_op *op = router_op_find(h->op);
        int e;

        if ((h->flags & ~KNOWN_FLAGS) || ((h->flags & WIRE_IN_BULK) && !(op && op->bulk)) ||
            ((h->flags & WIRE_IN_REMOTE) && h->op != WIRE_OP_PUBLISH && h->op != WIRE_OP_REPLY)) {
                pass_reject(x->p, x->s, "unsupported flags");
                e = router_errno(ROUTER_E_INVALID);
                if (h->flags & WIRE_IN_REQUEST)
                        send_verdict(r, x->s, h->cookie, e);
                else if (h->flags & WIRE_IN_ACK)
                        send_ack(r, x->s, h->cookie, e);
                return;
        }
        if (op)
                e = op->fn(x);
        else {
                pass_reject(x->p, x->s, "unknown operation");
                e = ROUTER_E_UNSUPPORTED;
        }
        if (!x->answered && wire_op_answered(h->op, h->flags))
                send_ack(r, x->s, h->cookie, e == 0 ? x->value : router_errno(e));
}

static void dispatch_kick(struct router_pass *p, struct client *c)
{
        log_warning("client %llu (uid %u, pid %d) sent %u invalid requests: disconnecting it",
                    (unsigned long long)c->id, (unsigned)c->uid, (int)c->pid, c->garbage);
        router_pass_end(p);
        router_client_remove(p->r, c);
}

void router_pass_handle(struct router_pass *p, const void *mtext, size_t n)
{
        size_t off = 0;

        for (;;) {
                struct wire_in h;
                struct op_call x = { .p = p, .h = &h };
                int k = wire_in_next(mtext, n, &off, &h, &x.dst, &x.payload);

                if (k == 0)
                        return;
                if (k < 0) {
                        pass_reject(p, NULL, "malformed record");
                        return;
                }
                p->slice_work++;
                x.s = dispatch_sender(p, &h);
                if (x.s) {
                        dispatch_one(&x);
                        if (!x.s->removed && pass_client_is_garbage(p, x.s))
                                dispatch_kick(p, x.s);
                }
                /* Nothing of this record is left half done: the lock may
                 * go here. */
                pass_slice_check(p);
        }
}
