/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * flow.c - lossless unicast: a credit window per sender->destination pair.
 *
 * The library of a sender keeps, per destination name, the cost
 * (wire_flow_cost) of what it sent there and ipcd has not credited back;
 * it holds a send while that would pass its window (flow_window(), told
 * at registration).  ipcd keeps the same per pair (struct flow_pair, on
 * the destination's list): cost is charged when a SEND is routed, becomes
 * "due" when its queue message leaves ipcd (into the destination's queue,
 * or dropped by a policy the destination chose), and is credited back
 * with a WIRE_OUT_CREDIT record on the sender's WIRE_TYPE_CREDIT once a
 * quarter of the window is due, so a stream costs one credit record per
 * quarter window.  The library may send while less than half its window
 * is in flight, or while the message fits: so a blocked sender has half a
 * window in flight, and a quarter of it is always credited back.  Unicast bulk chunks are windowed the same way in ring
 * bytes, credited when the destination releases the chunk.
 *
 * So what waits in ipcd for one destination is bounded by the windows of
 * its senders (plus one message each), and the data threads never wait:
 * a sender whose window is full waits in its own library.  A sender that
 * ignores its window (a raw or modified client) is charged past it: past
 * twice the window its excess is dropped and counted as "ignored back
 * pressure" on the sender and the destination.  A destination that goes
 * away gives every pair's bytes back with status -ECONNRESET, which
 * wakes its blocked senders.
 *
 * flow.c and delivery.c call each other: delivery reports what left,
 * flow answers with credit through deliver().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/delivery.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/router.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/util.h"

#define FLOW_WINDOW_MIN (64 * 1024)
#define FLOW_HASH_MIN 64

uint64_t flow_window(const struct router *r)
{
        /* A window always takes a few of the largest messages. */
        uint64_t w = MAX(r->lim.flow_window ? r->lim.flow_window : r->lim.backlog_bytes,
                         (uint64_t)FLOW_WINDOW_MIN);

        return MAX(w, 4 * wire_flow_cost(r->lim.max_payload));
}

uint64_t flow_client_budget(const struct router *r)
{
        /* At least two windows: one stuck destination leaves a window for
         * the others. */
        uint64_t w = flow_window(r);

        return MAX(r->lim.flow_client ? r->lim.flow_client : 4 * w, 2 * w);
}

uint64_t flow_bulk_window(const struct router *r, uint64_t lane_size)
{
        /* By default a whole lane: two chunks of half a lane in flight, so
         * that the producer fills one while the receiver reads the other
         * (with half a lane, a 4 MiB stream went one chunk at a time). */
        return r->lim.held_bytes ? r->lim.held_bytes : lane_size;
}

/* The pairs: a hash of (destination id, sender id), grown by doubling. */
static size_t pair_slot(const struct router *r, uint64_t dst_id, uint64_t sender_id)
{
        uint64_t h = (dst_id * 0x9e3779b97f4a7c15ULL) ^ (sender_id * 0xc2b2ae3d27d4eb4fULL);

        return (size_t)(h ^ (h >> 29)) & (r->flow_hash_size - 1);
}

static struct flow_pair *pair_find(struct router *r, const struct client *dst,
                                   uint64_t sender_id)
{
        if (!r->flow_hash_size)
                return NULL;
        for (struct flow_pair *fp = r->flow_hash[pair_slot(r, dst->id, sender_id)]; fp;
             fp = fp->hnext)
                if (fp->dst == dst && fp->sender->id == sender_id)
                        return fp;
        return NULL;
}

static int pair_hash_grow(struct router *r)
{
        size_t n = r->flow_hash_size ? 2 * r->flow_hash_size : FLOW_HASH_MIN;
        struct flow_pair **old = r->flow_hash, **t = calloc(n, sizeof(*t));
        size_t oldn = r->flow_hash_size;

        if (!t)
                return -ENOMEM;
        r->flow_hash = t;
        r->flow_hash_size = n;
        for (size_t i = 0; i < oldn; i++)
                for (struct flow_pair *fp = old[i], *nx; fp; fp = nx) {
                        size_t k = pair_slot(r, fp->dst->id, fp->sender->id);

                        nx = fp->hnext;
                        fp->hnext = t[k];
                        t[k] = fp;
                }
        free(old);
        return 0;
}

static struct flow_pair *pair_get(struct router *r, struct client *dst, struct client *s)
{
        struct flow_pair *fp = pair_find(r, dst, s->id);
        size_t k;

        if (fp)
                return fp;
        if (r->flow_npairs >= r->flow_hash_size && pair_hash_grow(r) < 0 &&
            !r->flow_hash_size)
                return NULL;
        fp = calloc(1, sizeof(*fp));
        if (!fp)
                return NULL;
        fp->dst = dst;
        fp->sender = s;
        k = pair_slot(r, dst->id, s->id);
        fp->hnext = r->flow_hash[k];
        r->flow_hash[k] = fp;
        r->flow_npairs++;
        if ((fp->next = dst->flow_in))
                fp->next->pprev = &fp->next;
        fp->pprev = &dst->flow_in;
        dst->flow_in = fp;
        if ((fp->out_next = s->flow_out))
                fp->out_next->out_pprev = &fp->out_next;
        fp->out_pprev = &s->flow_out;
        s->flow_out = fp;
        return fp;
}

static void pair_free(struct router *r, struct flow_pair *fp)
{
        struct flow_pair **pp = &r->flow_hash[pair_slot(r, fp->dst->id, fp->sender->id)];

        while (*pp != fp)
                pp = &(*pp)->hnext;
        *pp = fp->hnext;
        r->flow_npairs--;
        if ((*fp->pprev = fp->next))
                fp->next->pprev = fp->pprev;
        if ((*fp->out_pprev = fp->out_next))
                fp->out_next->out_pprev = fp->out_pprev;
        fp->sender->flow_held -= MIN(fp->outstanding + fp->due, fp->sender->flow_held);
        free(fp);
}

/* A credit record for a sender about the destination name (0 or a
 * status); false when it could not be queued (kept due). */
static bool credit_send_x(struct router *r, struct client *s, const char *name, size_t name_len,
                          const char *topic, uint64_t cost, uint64_t bulk, int status)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_out) + WIRE_NAME_MAX + 8];
        } m = {.mtype = WIRE_TYPE_CREDIT};
        struct wire_out h = {
                .kind = WIRE_OUT_CREDIT,
                .name_len = (uint8_t)name_len,
                .topic_len = (uint8_t)(topic ? strlen(topic) : 0),
                .cookie = cost,
                .type = (int64_t)bulk,
                .status = status,
        };
        size_t off = 0;

        if (!s || s->removed)
                return true; /* nobody to tell: forget it */
        if (name_len >= WIRE_NAME_MAX ||
            wire_out_put(m.mtext, sizeof(m.mtext), &off, &h, name, topic, NULL) < 0)
                return true;
        return deliver(r, s, &(struct delivery){.msg = &m.mtype, .size = off, .control = true}) == 0;
}

static bool credit_send(struct router *r, struct flow_pair *fp, uint64_t cost, uint64_t bulk,
                        int status)
{
        return credit_send_x(r, fp->sender, fp->dst->name, strlen(fp->dst->name), NULL, cost,
                             bulk, status);
}

void flow_unroutable(struct router *r, struct client *s, const char *name, size_t len)
{
        (void)credit_send_x(r, s, name, len, NULL, 0, 0, -ECONNRESET);
}

static void count_ignored(struct router *r, struct client *dst, struct client *s)
{
        s->dropped_ignored++;
        count_drop_why(r, dst, 1, WIRE_DROP_IGNORED);
}

static uint64_t flow_bulk_window_any(const struct router *r)
{
        return flow_bulk_window(r, r->nrings ? r->rings[0]->lane_size : 0);
}

/* Credit what is due (lock held): once a quarter of a window is, or, for
 * a sender waiting for its client budget (flow_wants), all of it once the
 * pair has nothing left in ipcd. */
static void credit_maybe(struct router *r, struct flow_pair *fp)
{
        bool drained = !fp->outstanding && fp->due && fp->sender->flow_wants;

        if ((drained || fp->due >= flow_window(r) / 4 ||
             (fp->bulk_due && fp->bulk_due >= flow_bulk_window_any(r) / 4)) &&
            credit_send(r, fp, fp->due, fp->bulk_due, 0)) {
                fp->sender->flow_held -= MIN(fp->due, fp->sender->flow_held);
                fp->due = fp->bulk_due = 0;
                /* Everything it sent is credited: it cannot be waiting. */
                if (!fp->outstanding && !fp->bulk_out)
                        fp->maybe_blocked = false;
        }
}

/* s says it is near its client budget: what its drained pairs have due
 * is credited now, and the others' as they drain. */
static void wants_credit(struct router *r, struct client *s)
{
        s->flow_wants = true;
        for (struct flow_pair *fp = s->flow_out; fp; fp = fp->out_next)
                credit_maybe(r, fp);
}

int flow_charge(struct router *r, struct client *dst, struct client *s, uint64_t cost,
                uint16_t wflags)
{
        bool full = wflags & WIRE_IN_FLOW_FULL, wants = wflags & WIRE_IN_FLOW_WANTS;
        struct flow_pair *fp = pair_get(r, dst, s);
        uint64_t w = flow_window(r), t = flow_client_budget(r), m = wire_flow_cost(r->lim.max_payload);

        if (!fp)
                return -ENOMEM;
        /* Its library keeps the window it was told at registration, even
         * if a reload lowered it since. */
        if (!s->flow_told) {
                s->flow_told = w;
                s->flow_told_client = t;
        }
        w = MAX(w, s->flow_told);
        t = MAX(t, s->flow_told_client);
        /* An honest library has at most a window, or half a window and
         * one message, in flight; an unread credit may add one more.  The
         * same for its client budget. */
        if (fp->outstanding + fp->due + cost > 2 * w + m || s->flow_held + cost > 2 * t + m) {
                count_ignored(r, dst, s);
                return ROUTER_E_FULL;
        }
        fp->outstanding += cost;
        s->flow_held += cost;
        fp->maybe_blocked |= full;
        if (wants && !s->flow_wants)
                wants_credit(r, s);
        else if (!wants)
                s->flow_wants = false;
        return 0;
}

/* The largest lane: one chunk always fits an honest window. */
static uint64_t lane_max(const struct router *r)
{
        uint64_t m = 0;

        for (unsigned i = 0; i < r->nrings; i++)
                m = MAX(m, r->rings[i]->lane_size);
        return m;
}

int flow_charge_bulk(struct router *r, struct client *dst, struct client *s, uint64_t len,
                     bool full)
{
        struct flow_pair *fp = pair_get(r, dst, s);

        if (!fp)
                return -ENOMEM;
        /* An honest library has at most a window, or half a window and a
         * chunk, in flight; an unread credit may add one more window. */
        if (fp->bulk_out + fp->bulk_due + len > 2 * flow_bulk_window_any(r) + lane_max(r)) {
                count_ignored(r, dst, s);
                return ROUTER_E_FULL;
        }
        fp->bulk_out += len;
        fp->maybe_blocked |= full;
        return 0;
}

void flow_bulk_unwindowed(struct router *r, struct client *dst, struct client *s, uint64_t len)
{
        struct flow_pair *fp = pair_get(r, dst, s);

        if (!fp)
                return;
        fp->bulk_due += len;
        credit_maybe(r, fp);
}

static void topic_delivered(struct router *r, struct client *dst, uint64_t sender_id,
                            uint64_t group, uint64_t cost);

void flow_delivered(struct router *r, struct client *dst, uint64_t sender_id, uint64_t group,
                    uint64_t cost)
{
        struct flow_pair *fp;

        if (group) {
                topic_delivered(r, dst, sender_id, group, cost);
                return;
        }
        if (!sender_id || !(fp = pair_find(r, dst, sender_id)))
                return;
        cost = MIN(cost, fp->outstanding);
        fp->outstanding -= cost;
        fp->due += cost;
        credit_maybe(r, fp);
}

void flow_bulk_released(struct router *r, struct client *dst, uint64_t sender_id, uint64_t len)
{
        struct flow_pair *fp;

        if (!sender_id || !(fp = pair_find(r, dst, sender_id)))
                return;
        fp->bulk_out -= MIN(len, fp->bulk_out);
        fp->bulk_due += len;
        credit_maybe(r, fp);
}

static void topics_client_left(struct router *r, struct client *c);

void flow_client_gone(struct router *r, struct client *c)
{
        topics_client_left(r, c);
        while (c->flow_in) {
                struct flow_pair *fp = c->flow_in;

                /* Only a sender that may wait needs to hear it (a record
                 * nobody reads would sit in its queue). */
                if (fp->maybe_blocked || fp->bulk_out || fp->bulk_due || fp->sender->flow_wants)
                        (void)credit_send(r, fp, 0, 0, -ECONNRESET);
                pair_free(r, fp);
        }
        /* Its pairs as a sender. */
        while (c->flow_out)
                pair_free(r, c->flow_out);
}

/* ------------------------------------------------------------------ */
/* Reliable topics.                                                     */

/*
 * A publisher to a topic with reliable subscribers has a window for that
 * topic (struct flow_topic, on its list): each publish is charged once,
 * each reliable subscriber's copy counts as done when it leaves ipcd, and
 * what every member has done is credited back (a WIRE_OUT_CREDIT record
 * with the topic).  The library charges a topic only between the
 * WIRE_CREDIT_TOPIC_ON record ipcd sends when the group forms and the
 * WIRE_CREDIT_TOPIC_OFF one when its last member leaves.
 */
static uint64_t next_group_id;

bool flow_sub_reliable(const struct client *c, const char *topic)
{
        if (!c->nreliable)
                return false;
        for (const struct sub *sb = c->subs; sb; sb = sb->client_next)
                if (sb->reliable && topic_pattern_match(sb->pattern, topic))
                        return true;
        return false;
}

static struct flow_topic *group_find(struct client *s, const char *topic, uint64_t id)
{
        for (struct flow_topic *g = s->flow_topics; g; g = g->next)
                if (id ? g->id == id : topic && strcmp(g->topic, topic) == 0)
                        return g;
        return NULL;
}

static struct flow_member *member_find(struct flow_topic *g, uint64_t client_id)
{
        for (size_t i = 0; i < g->nmembers; i++)
                if (g->members[i].client_id == client_id)
                        return &g->members[i];
        return NULL;
}

/* Credit what every member has done, once a quarter window is (or all of
 * it when forced). */
static void group_progress(struct router *r, struct client *s, struct flow_topic *g, bool force)
{
        uint64_t level = g->charged;

        for (size_t i = 0; i < g->nmembers; i++)
                level = MIN(level, g->members[i].done);
        if (level <= g->credited || (!force && level - g->credited < flow_window(r) / 4))
                return;
        if (credit_send_x(r, s, NULL, 0, g->topic, level - g->credited, 0, 0))
                g->credited = level;
}

static void group_free(struct router *r, struct client *s, struct flow_topic *g, bool tell)
{
        struct flow_topic **pp;

        if (tell)
                (void)credit_send_x(r, s, NULL, 0, g->topic, g->charged - g->credited, 0,
                                    WIRE_CREDIT_TOPIC_OFF);
        for (pp = &s->flow_topics; *pp && *pp != g; pp = &(*pp)->next)
                ;
        if (*pp)
                *pp = g->next;
        free(g->members);
        free(g);
}

static void member_remove(struct router *r, struct client *s, struct flow_topic *g, size_t i)
{
        g->members[i] = g->members[--g->nmembers];
        if (g->nmembers == 0)
                group_free(r, s, g, true);
        else
                group_progress(r, s, g, true);
}

uint64_t flow_topic_copy(struct router *r, struct client *s, const char *topic,
                         struct client *c)
{
        struct flow_topic *g = group_find(s, topic, 0);
        struct flow_member *m;

        if (!g) {
                g = calloc(1, sizeof(*g));
                if (!g) {
                        count_drop(r, c, 1);
                        return 0;
                }
                g->id = ++next_group_id;
                snprintf(g->topic, sizeof(g->topic), "%s", topic);
                g->next = s->flow_topics;
                s->flow_topics = g;
                /* Its library starts charging this topic from now on. */
                (void)credit_send_x(r, s, NULL, 0, g->topic, 0, 0, WIRE_CREDIT_TOPIC_ON);
        } else if (g->charged - g->credited >
                   2 * flow_window(r) + wire_flow_cost(r->lim.max_payload)) {
                /* Far past its window: it ignores the back pressure. */
                count_ignored(r, c, s);
                return 0;
        }
        m = member_find(g, c->id);
        if (!m) {
                if (util_array_reserve(&g->members, &g->cap, g->nmembers + 1,
                                       sizeof(*g->members), 4) < 0) {
                        count_drop(r, c, 1);
                        return 0;
                }
                m = &g->members[g->nmembers++];
                *m = (struct flow_member){.client_id = c->id, .done = g->charged};
        }
        return g->id;
}

void flow_topic_charge(struct router *r, struct client *s, uint64_t group, uint64_t cost)
{
        struct flow_topic *g = group_find(s, NULL, group);

        if (g)
                g->charged += cost;
}

static void topic_delivered(struct router *r, struct client *dst, uint64_t sender_id,
                            uint64_t group, uint64_t cost)
{
        struct client *s = router_client_by_id(r, sender_id);
        struct flow_topic *g;
        struct flow_member *m;

        if (!s || !(g = group_find(s, NULL, group)) || !(m = member_find(g, dst->id)))
                return;
        m->done += cost;
        group_progress(r, s, g, false);
}

void flow_topic_recheck(struct router *r, struct client *c)
{
        for (struct client *s = r->clients; s; s = s->next)
                for (struct flow_topic *g = s->flow_topics, *gn; g; g = gn) {
                        gn = g->next;
                        for (size_t i = 0; i < g->nmembers; i++)
                                if (g->members[i].client_id == c->id &&
                                    !flow_sub_reliable(c, g->topic)) {
                                        member_remove(r, s, g, i);
                                        break;
                                }
                }
}

static void topics_client_left(struct router *r, struct client *c)
{
        /* As a publisher: its groups go (nobody to tell). */
        while (c->flow_topics)
                group_free(r, c, c->flow_topics, false);
        /* As a member: what its copies held back goes. */
        for (struct client *s = r->clients; s; s = s->next)
                for (struct flow_topic *g = s->flow_topics, *gn; g; g = gn) {
                        gn = g->next;
                        for (size_t i = 0; i < g->nmembers; i++)
                                if (g->members[i].client_id == c->id) {
                                        member_remove(r, s, g, i);
                                        break;
                                }
                }
}

uint64_t flow_group_id_last(void)
{
        return next_group_id;
}

void flow_group_id_set(uint64_t last)
{
        next_group_id = last;
}

int flow_pair_restore(struct router *r, struct client *dst, struct client *s,
                      const struct flow_pair *v)
{
        struct flow_pair *fp;

        if (pair_find(r, dst, s->id))
                return -EEXIST;
        fp = pair_get(r, dst, s);
        if (!fp)
                return -ENOMEM;
        fp->outstanding = v->outstanding;
        fp->due = v->due;
        fp->bulk_out = v->bulk_out;
        fp->bulk_due = v->bulk_due;
        fp->maybe_blocked = v->maybe_blocked;
        return 0; /* s->flow_held is restored with the client */
}
