/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bulk.c - payloads in a shared-memory ring: a producer's descriptor is
 * checked against ring.c's state and holds one routing reference while it
 * is routed; each receiver gets a descriptor record and a reference of its
 * own (held.c) that its RELEASE drops.  Lanes are granted and given back
 * here (WIRE_OP_LANE, WIRE_OP_LANE_DROP).
 */
#include <errno.h>
#include <string.h>

#include "ipcd/core/bulk.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/held.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/answers.h"
#include "ipcd/core/policy.h"

/* Check a producer's descriptor and record its chunk with one reference
 * for the routing in progress (dropped by bulk_done()). */
int bulk_accept(struct router *r, struct client *s, const struct wire_in *h,
                       const void *payload, struct wire_bulk *d)
{
        struct ring *rg;
        int e;

        if (h->len != sizeof(*d))
                return ROUTER_E_INVALID;
        memcpy(d, payload, sizeof(*d));
        if (d->ring >= r->nrings || !(s->ring_access & (1u << d->ring)))
                return ROUTER_E_DENIED;
        rg = r->rings[d->ring];
        e = ring_chunk_add(rg, s, d);
        if (e == -EINVAL)
                return ROUTER_E_INVALID;
        if (e < 0)
                return e;
        ring_chunk_ref(rg, d->lane, d->pos);
        s->bulk_sent += d->len;
        return 0;
}

void bulk_done(struct router *r, const struct wire_bulk *d)
{
        chunk_unref(r, d->ring, d->lane, d->pos);
}

/*
 * Deliver a chunk to c: a descriptor record through its queue, and a
 * reference that c's release (or death) drops.  A receiver that cannot map
 * the ring, or already holds its share, gets nothing: the drop is counted.
 */
static int bulk_deliver_x(struct router_pass *p, struct client *c, const struct wire_bulk *d,
                          const struct wire_out *tmpl, const char *name, const char *topic,
                          uint64_t sender_id, bool unlimited);

int bulk_deliver(struct router_pass *p, struct client *c, const struct wire_bulk *d,
                 const struct wire_out *tmpl, const char *name, const char *topic,
                 bool reliable)
{
        return bulk_deliver_x(p, c, d, tmpl, name, topic, 0, reliable);
}

int bulk_deliver_flow(struct router_pass *p, struct client *c, const struct wire_bulk *d,
                      const struct wire_out *tmpl, const char *name, uint64_t sender_id)
{
        int e = bulk_deliver_x(p, c, d, tmpl, name, NULL, sender_id, sender_id != 0);

        /* Not delivered: its window bytes come back. */
        if (e != 0 && sender_id)
                flow_bulk_released(p->r, c, sender_id, d->len);
        return e;
}

static int bulk_deliver_x(struct router_pass *p, struct client *c, const struct wire_bulk *d,
                          const struct wire_out *tmpl, const char *name, const char *topic,
                          uint64_t sender_id, bool unlimited)
{
        struct router *r = p->r;
        struct ring *rg = r->rings[d->ring];
        struct held_chunk hc = { d->ring, d->lane, d->pos, d->len, sender_id };
        struct wire_bulk_out bo = {
                .shmid = rg->shmid,
                .ring = d->ring,
                .lane = d->lane,
                .offset = rg->data_off + (uint64_t)d->lane * rg->lane_size + d->pos % rg->lane_size,
                .len = d->len,
                .pos = d->pos,
        };
        struct wire_out o = *tmpl;
        struct batch *b;
        int e;

        if (!(c->ring_access & (1u << d->ring))) {
                count_drop_why(r, c, 1, WIRE_DROP_RING);
                return ROUTER_E_DENIED;
        }
        /* Half a lane at most; one chunk of any size when it holds nothing.
         * A unicast chunk under flow control is bounded by its sender's
         * window instead, a reliable subscriber's copy by its publisher's
         * lane: the limit is back pressure, not a drop. */
        if ((!unlimited && c->held_bytes &&
             c->held_bytes + d->len > (r->lim.held_bytes ? r->lim.held_bytes : rg->lane_size / 2)) ||
            c->nheld >= r->lim.max_held_chunks) {
                count_drop_why(r, c, 1, WIRE_DROP_OVERFLOW);
                return ROUTER_E_FULL;
        }
        if (held_add(c, &hc) < 0) {
                count_drop(r, c, 1);
                return -ENOMEM;
        }
        ring_chunk_ref(rg, d->lane, d->pos);
        o.flags |= WIRE_OUT_BULK;
        o.len = sizeof(bo);
        b = batch_append(p, c, o.type, &o, name, topic, &bo);
        if (b) {
                /* The descriptor closes the batch: one per queue message. */
                b->has_bulk = true;
                b->bulk = hc;
        }
        e = b ? batch_flush(p, b) : -ENOMEM;
        if (e != 0) {
                if (!b)
                        count_drop(r, c, 1);
                held_take(c, d->ring, d->lane, d->pos);
                chunk_unref(r, d->ring, d->lane, d->pos);
                return e;
        }
        c->bulk_received += d->len;
        return 0;
}

int op_release(struct op_call *x)
{
        struct wire_release rel;

        if (x->h->len % sizeof(rel)) {
                pass_reject(x->p, x->s, "malformed release");
                return ROUTER_E_INVALID;
        }
        for (size_t off = 0; off < x->h->len; off += sizeof(rel)) {
                memcpy(&rel, (const uint8_t *)x->payload + off, sizeof(rel));
                /* Only what was delivered to it, once. */
                struct held_chunk hc;

                if (!held_take_get(x->s, rel.ring, rel.lane, rel.pos, &hc)) {
                        pass_reject(x->p, x->s, "release of a chunk it does not hold");
                        continue;
                }
                chunk_unref(x->p->r, rel.ring, rel.lane, rel.pos);
                flow_bulk_released(x->p->r, x->s, hc.sender_id, hc.len);
        }
        return 0;
}

/* Lanes of rg one uid may hold: lanes_per_uid, or by default (0) an equal
 * share of the ring among BULK_LANE_SHARES uids, at least one.  Lanes are
 * not taken back from an idle producer (its library may hold a buffer in
 * one), so the share is what keeps a lane free for others: four uids at
 * their maximum fit any ring (issue 10, finding 8). */
#define BULK_LANE_SHARES 4

unsigned bulk_lanes_per_uid(const struct router *r, const struct ring *rg)
{
        if (r->lim.lanes_per_uid)
                return r->lim.lanes_per_uid;
        return rg->nlanes >= BULK_LANE_SHARES ? rg->nlanes / BULK_LANE_SHARES : 1;
}

static int lane_grant(struct router *r, struct client *s, struct wire_lane_grant *g)
{
        for (unsigned i = 0; i < r->nrings; i++) {
                struct ring *rg = r->rings[i];
                int lane;

                if (!(s->ring_access & (1u << i)) || policy_check_bulk(r, s, rg->name) != 0)
                        continue;
                if (ring_lanes_of(rg, s->uid) >= bulk_lanes_per_uid(r, rg) ||
                    unit_lanes_full(rg, s)) {
                        r->cnt.limit_hits++;
                        return ROUTER_E_QUOTA;
                }
                lane = ring_lane_acquire(rg, s, s->uid);
                if (lane == -EAGAIN)
                        return ROUTER_E_FULL;
                if (lane < 0)
                        return lane;
                *g = (struct wire_lane_grant){
                        .shmid = rg->shmid,
                        .ring = i,
                        .lane = (uint32_t)lane,
                        .nlanes = rg->nlanes,
                        .lane_size = rg->lane_size,
                        .data_off = rg->data_off,
                        .size = rg->size,
                        .free_pos = rg->lanes[lane].free_pos,
                };
                return 0;
        }
        return ROUTER_E_DENIED;
}

/* The grant is the ACK's payload; a refusal is answered by the dispatcher. */
int op_lane(struct op_call *x)
{
        struct wire_lane_grant g;
        int e = lane_grant(x->p->r, x->s, &g);

        if (e != 0)
                return e;
        send_answer_data(x->p->r, x->s, WIRE_OUT_ACK, x->h->cookie, 0, &g, sizeof(g));
        x->answered = true;
        return 0;
}

int op_lane_drop(struct op_call *x)
{
        struct router *r = x->p->r;
        uint32_t ring = (uint32_t)(x->h->arg >> 32), lane = (uint32_t)x->h->arg;

        if (ring < r->nrings && lane < r->rings[ring]->nlanes &&
            r->rings[ring]->lanes[lane].owner == x->s)
                ring_lane_disown(r->rings[ring], lane);
        return 0;
}

