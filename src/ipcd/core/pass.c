/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pass.c - one pass of a data thread: the records drained from an inbound
 * queue after one blocking msgrcv, handled under the lock.  What a pass
 * routes to one destination is batched into as few queue messages as its
 * queue takes (a batch closes when the mtype changes, so selective
 * receive still works) and flushed at the pass's end.  Invalid records are
 * counted and reported here; whoever called decides what follows.
 */
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/delivery.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/router.h"
#include "shared/clock.h"
#include "shared/log.h"

static struct log_ratelimit bad_inbound_rl = LOG_RATELIMIT_INIT(5000, 10);

struct router_pass *router_pass_new(struct router *r, struct uidq *uq)
{
        struct router_pass *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->r = r;
        p->uq = uq;
        return p;
}

struct client *pass_client_by_name(struct router_pass *p, const char *name, size_t len)
{
        struct router *r = p->r;
        struct client *c;

        /* The cached client is still registered under that name: a name
         * leaves the table (and its client may be freed) only with
         * names_gen bumped, and a client never changes its name. */
        if (p->dst && p->dst_gen == r->names_gen && p->dst_len == len &&
            memcmp(p->dst_name, name, len) == 0)
                return p->dst;
        c = router_client_by_name(r, name, len);
        if (c && len < sizeof(p->dst_name)) {
                p->dst = c;
                p->dst_gen = r->names_gen;
                p->dst_len = len;
                memcpy(p->dst_name, name, len);
        }
        return c;
}

void router_pass_free(struct router_pass *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->cap; i++)
                free(p->b[i].msg);
        free(p->b);
        free(p);
}

int batch_flush(struct router_pass *p, struct batch *b)
{
        int e;

        if (b->nrec == 0 && b->len == 0)
                return 0;
        e = deliver(p->r, b->dst,
                    &(struct delivery){ .msg = b->msg, .size = b->len, .nrec = b->nrec,
                                        .bulk = b->has_bulk ? &b->bulk : NULL,
                                        .flow_sender = b->flow_sender,
                                        .flow_group = b->flow_group,
                                        .flow_cost = b->flow_cost });
        b->flow_sender = 0;
        b->flow_group = 0;
        b->flow_cost = 0;
        b->len = 0;
        b->nrec = 0;
        b->has_bulk = false;
        return e;
}

static struct batch *batch_for(struct router_pass *p, struct client *dst)
{
        for (size_t i = 0; i < p->nb; i++)
                if (p->b[i].dst == dst)
                        return &p->b[i];
        if (p->nb == p->cap) {
                size_t ncap = p->cap ? p->cap * 2 : 16;
                struct batch *nb = realloc(p->b, ncap * sizeof(*nb));

                if (!nb)
                        return NULL;
                memset(nb + p->cap, 0, (ncap - p->cap) * sizeof(*nb));
                p->b = nb;
                p->cap = ncap;
        }
        p->b[p->nb].dst = dst;
        p->b[p->nb].len = 0;
        p->b[p->nb].nrec = 0;
        p->b[p->nb].has_bulk = false;
        p->b[p->nb].flow_sender = 0;
        p->b[p->nb].flow_group = 0;
        p->b[p->nb].flow_cost = 0;
        return &p->b[p->nb++];
}

void router_pass_end(struct router_pass *p)
{
        for (size_t i = 0; i < p->nb; i++)
                batch_flush(p, &p->b[i]);
        p->nb = 0;
}

static struct batch *batch_append_x(struct router_pass *p, struct client *dst, long type,
                                   const struct wire_out *h, const char *name, const char *topic,
                                   const void *payload, uint64_t sender_id, uint64_t group,
                                   uint64_t cost)
{
        struct batch *b = batch_for(p, dst);
        size_t need = wire_out_size(h->name_len, h->topic_len, h->len);

        if (!b)
                return NULL;
        /* One flow-controlled sender per batch (its credit, flow.c). */
        if (b->nrec && (b->msg[0] != type || b->len + need > dst->qmsg_max ||
                        b->flow_sender != sender_id || b->flow_group != group))
                batch_flush(p, b);
        if (b->cap < dst->qmsg_max) {
                long *m = realloc(b->msg, sizeof(long) + dst->qmsg_max);

                if (!m)
                        return NULL;
                b->msg = m;
                b->cap = dst->qmsg_max;
        }
        b->msg[0] = type;
        /* Never more than this destination's queue takes in one message. */
        if (wire_out_put((uint8_t *)(b->msg + 1), dst->qmsg_max, &b->len, h, name, topic, payload) < 0)
                return NULL;
        b->nrec++;
        b->flow_sender = sender_id;
        b->flow_group = group;
        b->flow_cost += cost;
        return b;
}

struct batch *batch_append(struct router_pass *p, struct client *dst, long type,
                           const struct wire_out *h, const char *name, const char *topic,
                           const void *payload)
{
        return batch_append_x(p, dst, type, h, name, topic, payload, 0, 0, 0);
}

struct batch *batch_append_flow(struct router_pass *p, struct client *dst, long type,
                                const struct wire_out *h, const char *name, const char *topic,
                                const void *payload, uint64_t sender_id, uint64_t group,
                                uint64_t cost)
{
        return batch_append_x(p, dst, type, h, name, topic, payload, sender_id, group, cost);
}

void pass_slice_begin(struct router_pass *p)
{
        p->slice_start_us = clock_now_us();
        p->slice_work = 0;
}

void pass_slice_check(struct router_pass *p)
{
        if (!p->yield)
                return;
        /* The clock every 16 records only: it was a tenth of the data
         * thread's time for batched records. */
        if (p->slice_work < PASS_SLICE_WORK &&
            ((p->slice_work & 15) || clock_now_us() - p->slice_start_us < PASS_SLICE_US))
                return;
        p->yield(p);
        pass_slice_begin(p);
}

void pass_reject(struct router_pass *p, struct client *c, const char *why)
{
        p->r->cnt.bad_inbound++;
        if (c) {
                c->garbage++;
                log_ratelimited(&bad_inbound_rl, LOG_NOTICE,
                                "client %llu (uid %u, pid %d): invalid request: %s",
                                (unsigned long long)c->id, (unsigned)c->uid, (int)c->pid, why);
        } else
                log_ratelimited(&bad_inbound_rl, LOG_NOTICE,
                                "inbound queue of uid %u: rejected record: %s",
                                (unsigned)p->uq->uid, why);
}

bool pass_client_is_garbage(const struct router_pass *p, const struct client *c)
{
        return p->r->lim.garbage_kick && c->garbage > p->r->lim.garbage_kick;
}
