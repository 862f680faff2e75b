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

uint64_t flow_window(const struct router *r)
{
        /* A window always takes a few of the largest messages. */
        uint64_t w = MAX(r->lim.flow_window ? r->lim.flow_window : r->lim.backlog_bytes,
                         (uint64_t)FLOW_WINDOW_MIN);

        return MAX(w, 4 * wire_flow_cost(r->lim.max_payload));
}

uint64_t flow_bulk_window(const struct router *r, uint64_t lane_size)
{
        return r->lim.held_bytes ? r->lim.held_bytes : lane_size / 2;
}

static struct flow_pair *pair_find(struct client *dst, uint64_t sender_id)
{
        for (struct flow_pair *fp = dst->flow_in; fp; fp = fp->next)
                if (fp->sender_id == sender_id)
                        return fp;
        return NULL;
}

static struct flow_pair *pair_get(struct client *dst, uint64_t sender_id)
{
        struct flow_pair *fp = pair_find(dst, sender_id);

        if (fp)
                return fp;
        fp = calloc(1, sizeof(*fp));
        if (!fp)
                return NULL;
        fp->sender_id = sender_id;
        fp->next = dst->flow_in;
        dst->flow_in = fp;
        return fp;
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

static bool credit_send_to(struct router *r, struct client *s, const char *name, size_t name_len,
                           uint64_t cost, uint64_t bulk, int status)
{
        return credit_send_x(r, s, name, name_len, NULL, cost, bulk, status);
}

static bool credit_send(struct router *r, struct client *dst, uint64_t sender_id, uint64_t cost,
                        uint64_t bulk, int status)
{
        return credit_send_to(r, router_client_by_id(r, sender_id), dst->name, strlen(dst->name),
                              cost, bulk, status);
}

void flow_unroutable(struct router *r, struct client *s, const char *name, size_t len)
{
        (void)credit_send_to(r, s, name, len, 0, 0, -ECONNRESET);
}

static void count_ignored(struct router *r, struct client *dst, struct client *s)
{
        s->dropped_ignored++;
        count_drop_why(r, dst, 1, WIRE_DROP_IGNORED);
}

int flow_charge(struct router *r, struct client *dst, struct client *s, uint64_t cost, bool full)
{
        struct flow_pair *fp = pair_get(dst, s->id);
        uint64_t w = flow_window(r);

        if (!fp)
                return -ENOMEM;
        /* Its library keeps the window it was told at registration, even
         * if a reload lowered it since. */
        if (!s->flow_told)
                s->flow_told = w;
        w = MAX(w, s->flow_told);
        /* An honest library has at most a window, or half a window and
         * one message, in flight; an unread credit may add one more. */
        if (fp->outstanding + fp->due + cost > 2 * w + wire_flow_cost(r->lim.max_payload)) {
                count_ignored(r, dst, s);
                return ROUTER_E_FULL;
        }
        fp->outstanding += cost;
        fp->maybe_blocked |= full;
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

static uint64_t bulk_window_any(const struct router *r)
{
        return flow_bulk_window(r, r->nrings ? r->rings[0]->lane_size : 0);
}

int flow_charge_bulk(struct router *r, struct client *dst, struct client *s, uint64_t len,
                     bool full)
{
        struct flow_pair *fp = pair_get(dst, s->id);

        if (!fp)
                return -ENOMEM;
        /* An honest library has at most a window, or half a window and a
         * chunk, in flight; an unread credit may add one more window. */
        if (fp->bulk_out + fp->bulk_due + len > 2 * bulk_window_any(r) + lane_max(r)) {
                count_ignored(r, dst, s);
                return ROUTER_E_FULL;
        }
        fp->bulk_out += len;
        fp->maybe_blocked |= full;
        return 0;
}

/* Credit what is due once a quarter of a window is (lock held). */
static void credit_maybe(struct router *r, struct client *dst, struct flow_pair *fp)
{
        if ((fp->due >= flow_window(r) / 4 ||
             (fp->bulk_due && fp->bulk_due >= bulk_window_any(r) / 4)) &&
            credit_send(r, dst, fp->sender_id, fp->due, fp->bulk_due, 0)) {
                fp->due = fp->bulk_due = 0;
                /* Everything it sent is credited: it cannot be waiting. */
                if (!fp->outstanding && !fp->bulk_out)
                        fp->maybe_blocked = false;
        }
}

void flow_bulk_unwindowed(struct router *r, struct client *dst, struct client *s, uint64_t len)
{
        struct flow_pair *fp = pair_get(dst, s->id);

        if (!fp)
                return;
        fp->bulk_due += len;
        credit_maybe(r, dst, fp);
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
        if (!sender_id || !(fp = pair_find(dst, sender_id)))
                return;
        fp->outstanding -= MIN(cost, fp->outstanding);
        fp->due += cost;
        credit_maybe(r, dst, fp);
}

void flow_bulk_released(struct router *r, struct client *dst, uint64_t sender_id, uint64_t len)
{
        struct flow_pair *fp;

        if (!sender_id || !(fp = pair_find(dst, sender_id)))
                return;
        fp->bulk_out -= MIN(len, fp->bulk_out);
        fp->bulk_due += len;
        credit_maybe(r, dst, fp);
}

static void topics_client_left(struct router *r, struct client *c);

void flow_client_gone(struct router *r, struct client *c)
{
        struct flow_pair *fp, *n, **pp;

        topics_client_left(r, c);

        for (fp = c->flow_in; fp; fp = n) {
                n = fp->next;
                /* Only a sender that may wait needs to hear it (a record
                 * nobody reads would sit in its queue). */
                if (fp->maybe_blocked || fp->bulk_out || fp->bulk_due)
                        (void)credit_send(r, c, fp->sender_id, 0, 0, -ECONNRESET);
                free(fp);
        }
        c->flow_in = NULL;
        /* Its pairs as a sender. */
        for (struct client *d = r->clients; d; d = d->next)
                for (pp = &d->flow_in; *pp;)
                        if ((*pp)->sender_id == c->id) {
                                fp = *pp;
                                *pp = fp->next;
                                free(fp);
                        } else
                                pp = &(*pp)->next;
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
