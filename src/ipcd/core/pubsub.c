/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pubsub.c - publish/subscribe: WIRE_OP_PUBLISH to every subscriber of a
 * topic (topics.c matches), the topic's history for late joiners,
 * WIRE_OP_SUBSCRIBE (with the history replayed ahead of what follows),
 * WIRE_OP_UNSUBSCRIBE and WIRE_OP_SET_HISTORY.
 */
#include <errno.h>
#include <string.h>

#include "ipcd/core/bulk.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/message.h"
#include "ipcd/core/monitor.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/pubsub.h"
#include "ipcd/core/router.h"
#include "shared/macro.h"
#include "shared/names.h"

struct publish_ctx {
        struct router_pass *p;
        struct client *s;
        const struct wire_out *o;
        const char *topic;
        const void *payload;
        const struct wire_bulk *bulk; /* NULL: inline */
        uint64_t group;               /* reliable copies made: the publisher's group */
        unsigned denied;              /* subscribers the rules keep it from */
};

static bool publish_allowed(struct router *r, const struct client *s, const struct client *c,
                            const char *topic)
{
        struct policy_peer peer = { s->name, s->uid, s->unit };
        struct policy_subject who;
        const struct policy_rule *ru;

        if (!policy_may_hear(r, c, topic))
                return false;
        policy_subject_of(c, &who);
        ru = policy_rules_decide(&r->policy, POLICY_RECEIVE, &who, topic, &peer);
        return !ru || ru->allow;
}

static void publish_one(struct client *c, void *userdata)
{
        struct publish_ctx *x = userdata;
        bool reliable;

        /* A wildcard subscription hears only the topics its client may
         * subscribe to, and a receive rule may refuse the publisher. */
        if (x->p->r->policy.n && !publish_allowed(x->p->r, x->s, c, x->topic)) {
                x->denied++;
                return;
        }
        reliable = c->nreliable && flow_sub_reliable(c, x->topic);

        /* A reliable subscriber holds the publisher back instead of
         * dropping: inline publishes by the topic's window (flow.c), bulk
         * ones by the publisher's lane, where the chunk stays until the
         * subscriber releases it. */
        if (!x->bulk && reliable) {
                uint64_t g = flow_topic_copy(x->p->r, x->s, x->topic, c);

                if (!g)
                        return; /* counted */
                x->group = g;
                if (!batch_append_flow(x->p, c, x->o->type, x->o, x->s->name, x->topic,
                                       x->payload, x->s->id, g, wire_flow_cost(x->o->len)))
                        count_drop(x->p->r, c, 1);
                return;
        }
        if (x->bulk)
                (void)bulk_deliver(x->p, c, x->bulk, x->o, x->s->name, x->topic, reliable);
        else if (!batch_append(x->p, c, x->o->type, x->o, x->s->name, x->topic, x->payload))
                count_drop(x->p->r, c, 1);
}

/* History keeps inline messages: a ring chunk is not pinned for late
 * joiners. */
static void publish_history(struct router *r, struct topic *t, const struct op_call *x,
                            const struct wire_out *o)
{
        struct hist_entry e = {
                .type = x->h->type,
                .sender_id = x->s->id,
                .sender_uid = (uint32_t)x->s->uid,
                .sender_pid = x->s->pid,
                .name_len = o->name_len,
                .len = x->h->len,
        };

        memcpy(e.name, x->s->name, o->name_len);
        topics_history_add(&r->topics, t, &e, x->payload, r->lim.history_total,
                           r->lim.history_total_bytes);
}

/*
 * A publish from another host (WIRE_IN_REMOTE, sent by ipcd-bridge): only
 * a privileged client may claim one, and its payload must start with a
 * well-formed struct wire_origin (for a bulk payload, only the chunk's
 * length can be checked here, not the record's, which is the descriptor's:
 * the ring is the sender's to write, so the library checks the copy it
 * hands out, ipcd_msg_origin()).
 */
static int publish_remote_check(struct op_call *x, const struct wire_bulk *bulk)
{
        struct wire_origin og;

        if (!(x->h->flags & WIRE_IN_REMOTE))
                return 0;
        if (policy_check_remote(x->s) != 0)
                return ROUTER_E_DENIED;
        if ((bulk ? bulk->len : x->h->len) < sizeof(og)) {
                pass_reject(x->p, x->s, "remote publish without its origin");
                return ROUTER_E_INVALID;
        }
        if (bulk)
                return 0;
        memcpy(&og, x->payload, sizeof(og));
        if (wire_origin_check(&og) < 0) {
                pass_reject(x->p, x->s, "remote publish with a malformed origin");
                return ROUTER_E_INVALID;
        }
        return 0;
}

/* Answered when asked with the number of subscribers it reached. */
int op_publish(struct op_call *x)
{
        struct router *r = x->p->r;
        const struct wire_in *h = x->h;
        char topic[WIRE_NAME_MAX];
        bool bulk = h->flags & WIRE_IN_BULK;
        struct publish_ctx pc;
        struct wire_bulk d;
        struct wire_out o;
        struct topic *t;
        unsigned n;
        int e;

        e = message_accept(x, &d, &bulk);
        if (e != 0)
                return e;
        message_dst_cstr(topic, x->dst, h->dst_len);
        e = policy_check_publish(r, x->s, topic);
        if (e == 0)
                e = publish_remote_check(x, bulk ? &d : NULL);
        if (e != 0) {
                if (bulk)
                        bulk_done(r, &d);
                return e;
        }
        x->s->sent++;
        r->cnt.accepted++;
        r->cnt.published++;
        o = (struct wire_out){
                .kind = WIRE_OUT_MSG,
                .topic_len = h->dst_len,
                .type = h->type,
                .len = h->len,
                .flags = (h->flags & WIRE_IN_REMOTE) ? WIRE_OUT_REMOTE : 0,
        };
        stamp_sender(&o, x->s);
        pc = (struct publish_ctx){ x->p, x->s, &o, topic, x->payload, bulk ? &d : NULL, 0, 0 };
        n = topics_match(&r->topics, topic, h->dst_len, publish_one, &pc);
        /* Those the rules kept it from are not reached, and counted. */
        n -= pc.denied;
        r->cnt.policy_denied += pc.denied;
        if (pc.group)
                flow_topic_charge(r, x->s, pc.group, wire_flow_cost(h->len));
        if (n == 0)
                r->cnt.unheard++;
        t = topics_find(&r->topics, topic, h->dst_len);
        if (t) {
                t->published++;
                t->delivered += n;
                /* history keeps no origin: a remote message is not replayed */
                if (t->depth && !bulk && !(o.flags & WIRE_OUT_REMOTE))
                        publish_history(r, t, x, &o);
        }
        if (r->nmonitors)
                monitor_copy(x->p, x->s, h, topic, true, x->payload);
        if (bulk)
                bulk_done(r, &d);
        x->value = (int32_t)MIN(n, (unsigned)INT32_MAX);
        return 0;
}

struct replay_ctx {
        struct router_pass *p;
        struct client *c;
};

static void replay_one(struct topic *t, const struct hist_entry *e, void *userdata)
{
        struct replay_ctx *x = userdata;
        struct wire_out o;

        /* History is traffic too: only of topics it may hear. */
        if (x->p->r->policy.n && !policy_may_hear(x->p->r, x->c, t->name))
                return;
        o = (struct wire_out){
                .kind = WIRE_OUT_MSG,
                .flags = WIRE_OUT_HISTORY,
                .name_len = e->name_len,
                .topic_len = (uint8_t)strlen(t->name),
                .type = e->type,
                .sender_id = e->sender_id,
                .sender_uid = e->sender_uid,
                .sender_pid = e->sender_pid,
                .len = e->len,
        };

        if (!batch_append(x->p, x->c, e->type, &o, e->name, t->name, e->data))
                count_drop(x->p->r, x->c, 1);
}

static int subscribe(struct op_call *x)
{
        struct router *r = x->p->r;
        struct client *s = x->s;
        char pattern[WIRE_NAME_MAX];
        struct replay_ctx rc = { x->p, s };
        struct sub *sb;
        int e;

        message_dst_cstr(pattern, x->dst, x->h->dst_len);
        if (!topic_pattern_is_valid(pattern))
                return ROUTER_E_INVALID;
        e = policy_check_subscribe(r, s, pattern);
        if (e != 0)
                return e;
        if (s->nsubs >= r->lim.max_subscriptions) {
                r->cnt.limit_hits++;
                return ROUTER_E_QUOTA;
        }
        if (x->h->arg & ~(uint64_t)WIRE_SUB_RELIABLE)
                return ROUTER_E_INVALID;
        e = topics_subscribe(&r->topics, s, pattern, &sb);
        if (e == -EEXIST) {
                /* Again, maybe with another reliability (flow.c). */
                for (sb = s->subs; sb && strcmp(sb->pattern, pattern) != 0; sb = sb->client_next)
                        ;
                if (sb && sb->reliable != !!(x->h->arg & WIRE_SUB_RELIABLE)) {
                        sb->reliable = !sb->reliable;
                        s->nreliable += sb->reliable ? 1 : -1;
                        if (!sb->reliable)
                                flow_topic_recheck(r, s);
                }
                return 0;
        }
        if (e < 0)
                return e;
        sb->reliable = x->h->arg & WIRE_SUB_RELIABLE;
        s->nreliable += sb->reliable;
        sb->client_next = s->subs;
        s->subs = sb;
        s->nsubs++;
        /* Late joiner: the history of what it now hears, oldest first,
         * ahead of anything published from now on. */
        x->p->slice_work += topics_history_replay(&r->topics, pattern, replay_one, &rc);
        return 0;
}

int op_subscribe(struct op_call *x)
{
        int e = subscribe(x);

        /* The answer follows whatever it caused (history) in its queue. */
        router_pass_end(x->p);
        return e;
}

int op_unsubscribe(struct op_call *x)
{
        struct client *s = x->s;
        char pattern[WIRE_NAME_MAX];

        message_dst_cstr(pattern, x->dst, x->h->dst_len);
        for (struct sub **pp = &s->subs; *pp; pp = &(*pp)->client_next)
                if (strcmp((*pp)->pattern, pattern) == 0) {
                        pubsub_drop(x->p->r, s, pp);
                        return 0;
                }
        return ROUTER_E_NOT_FOUND;
}

void pubsub_drop(struct router *r, struct client *c, struct sub **pp)
{
        struct sub *sb = *pp;
        bool reliable = sb->reliable;

        *pp = sb->client_next;
        c->nsubs--;
        if (reliable)
                c->nreliable--;
        topics_unsubscribe(&r->topics, sb);
        if (reliable)
                flow_topic_recheck(r, c);
}

/* Answered with the depth in effect. */
int op_set_history(struct op_call *x)
{
        struct router *r = x->p->r;
        uint32_t depth, in_effect = 0;
        int e;

        if (!name_is_valid_n(x->dst, x->h->dst_len))
                return ROUTER_E_INVALID;
        depth = (uint32_t)MIN(x->h->arg, (uint64_t)r->lim.history_per_topic);
        /* Only the sender's own contribution: the topic keeps the largest
         * depth a live client asked for. */
        e = topics_set_history(&r->topics, x->s, x->dst, x->h->dst_len, depth,
                               r->lim.history_total, r->lim.history_per_uid, &in_effect);
        if (e == -EDQUOT) {
                r->cnt.limit_hits++;
                return ROUTER_E_QUOTA;
        }
        if (e < 0)
                return e;
        x->value = (int32_t)MIN(in_effect, (uint32_t)INT32_MAX);
        return 0;
}
