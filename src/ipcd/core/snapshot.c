/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot.c - the writer of ipcd's re-exec state (format: snapshot.h).
 * The reader is snapshot-read.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/flow.h"
#include "ipcd/core/snapshot-io.h"
#include "ipcd/core/snapshot.h"
#include "shared/macro.h"

uint64_t snap_fnv64(const uint8_t *p, size_t n)
{
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 1099511628211ULL;
        }
        return h;
}

static void put(struct snap_out *o, const void *p, size_t n)
{
        if (o->failed || n == 0)
                return;
        if (o->len + n > o->cap) {
                size_t ncap = MAX(o->cap * 2, o->len + n + 65536);
                uint8_t *np = realloc(o->p, ncap);

                if (!np) {
                        o->failed = true;
                        return;
                }
                o->p = np;
                o->cap = ncap;
        }
        memcpy(o->p + o->len, p, n);
        o->len += n;
}

static void put_u8(struct snap_out *o, uint8_t v)
{
        put(o, &v, 1);
}

static void put_u32(struct snap_out *o, uint32_t v)
{
        put(o, &v, 4);
}

static void put_u64(struct snap_out *o, uint64_t v)
{
        put(o, &v, 8);
}

/* A name field (a char array, NUL-terminated unless full) as a length and
 * its bytes.  The bound is the array's size, never more: put_str() only
 * takes arrays, which the static assertion checks. */
static void put_strn(struct snap_out *o, const char *s, size_t size)
{
        uint16_t n = (uint16_t)strnlen(s, size < 65535 ? size : 65535);

        put(o, &n, 2);
        put(o, s, n);
}

#define put_str(o, s) do { \
        _Static_assert(!__builtin_types_compatible_p(__typeof__(s), __typeof__(&(s)[0])), \
                       "put_str() takes a char array"); \
        put_strn((o), (s), sizeof(s)); \
} while (0)

static void edge_put(struct snap_out *o, const struct snapshot_edge *e, const struct router *r)
{
        put_u32(o, SNAP_TAG_EDGE);
        put_u32(o, (uint32_t)e->control_fd);
        put_u32(o, (uint32_t)e->lock_fd);
        put_u32(o, (uint32_t)e->state_fd);
        put_u32(o, (uint32_t)e->sentinel_fd);
        put_u32(o, (uint32_t)e->holder_fd);
        put_u32(o, (uint32_t)e->sentinel_pid);
        put_u32(o, (uint32_t)e->holder_pid);
        put_u8(o, e->control_created);
        put_u8(o, e->line_discard);
        put_u32(o, (uint32_t)e->line_len);
        put(o, e->line, e->line_len);
        put_u32(o, (uint32_t)e->rest_len);
        put(o, e->rest, e->rest_len);

        put_u32(o, SNAP_TAG_RTR);
        put_u64(o, r->next_id);
        put_u64(o, r->instance);
        put_u64(o, r->start_ms);
        /* all u64 (snapshot-io.h checks); version 1 has the counters up to
         * unroutable: the busy time and the call-latency histogram start
         * again at a re-exec */
        put(o, &r->cnt, SNAPSHOT_V1_COUNTERS);
        put_u64(o, flow_group_id_last());
        put_u64(o, r->reserved_until_ms);
        put_u32(o, (uint32_t)r->nreserved);
        for (size_t i = 0; i < r->nreserved; i++) {
                put_u32(o, r->reserved[i].uid);
                put_str(o, r->reserved[i].name);
        }
        /* version 2 */
        put_u64(o, r->next_channel_id);
        put_u32(o, WIRE_WHOIS_GONE);
        put_u32(o, r->gone_next);
        for (unsigned i = 0; i < WIRE_WHOIS_GONE; i++) {
                put_u64(o, r->gone[i].id);
                put_str(o, r->gone[i].unit);
        }
}

static void rings_uidqs_put(struct snap_out *o, const struct router *r)
{
        unsigned n = 0;

        put_u32(o, SNAP_TAG_RING);
        put_u32(o, r->nrings);
        for (unsigned i = 0; i < r->nrings; i++) {
                const struct ring *rg = r->rings[i];

                put_str(o, rg->name);
                put_u32(o, (uint32_t)rg->shmid);
                put_u64(o, rg->size);
                put_u64(o, rg->lane_size);
                put_u32(o, rg->gid);
        }
        put_u32(o, SNAP_TAG_UIDQ);
        for (const struct uidq *u = r->uidqs; u; u = u->next)
                n += !u->removed;
        put_u32(o, n);
        for (const struct uidq *u = r->uidqs; u; u = u->next)
                if (!u->removed) {
                        put_u32(o, u->uid);
                        put_u32(o, (uint32_t)u->qid);
                }
}

static void client_scalars_put(struct snap_out *o, const struct client *c)
{
#define X(f) put_u64(o, (uint64_t)c->f);
        SNAP_CLIENT_U64(X)
#undef X
#define X(f) put_u32(o, (uint32_t)c->f);
        SNAP_CLIENT_U32(X)
#undef X
#define X(f) put_u8(o, c->f);
        SNAP_CLIENT_BOOL(X)
#undef X
        for (int i = 0; i < WIRE_DROP_REASONS; i++) {
                put_u64(o, c->dropped_by[i]);
                put_u64(o, c->missed_by[i]);
        }
        put(o, c->token, sizeof(c->token));
        put_str(o, c->name);
        put_str(o, c->monitor_pattern);
}

static void client_lists_put(struct snap_out *o, const struct client *c)
{
        uint32_t n = 0;

        put_u32(o, (uint32_t)c->nheld);
        for (size_t i = 0; i < c->nheld; i++) {
                put_u32(o, c->held[i].ring);
                put_u32(o, c->held[i].lane);
                put_u64(o, c->held[i].pos);
                put_u64(o, c->held[i].len);
                put_u64(o, c->held[i].sender_id);
        }
        put_u32(o, (uint32_t)c->ncalls);
        for (size_t i = 0; i < c->ncalls; i++) {
                put_u64(o, c->calls[i].caller_id);
                put_u64(o, c->calls[i].cookie);
        }
        put_u32(o, c->nsubs);
        for (const struct sub *s = c->subs; s; s = s->client_next) {
                put_str(o, s->pattern);
                put_u8(o, s->reliable);
        }
        for (const struct hist_contrib *hc = c->hist_contribs; hc; hc = hc->cnext)
                n++;
        put_u32(o, n);
        /* Oldest first: the reader adds each in front, as ipcd did. */
        {
                const struct hist_contrib **v = n ? malloc(n * sizeof(*v)) : NULL;
                uint32_t k = 0;

                if (n && !v) {
                        o->failed = true;
                        return;
                }
                for (const struct hist_contrib *hc = c->hist_contribs; hc; hc = hc->cnext)
                        v[k++] = hc;
                while (k-- > 0) {
                        put_str(o, v[k]->t->name);
                        put_u32(o, v[k]->depth);
                }
                free(v);
        }
}

static void client_flow_backlog_put(struct snap_out *o, const struct client *c)
{
        uint32_t n = 0;

        for (const struct flow_topic *g = c->flow_topics; g; g = g->next)
                n++;
        put_u32(o, n);
        for (const struct flow_topic *g = c->flow_topics; g; g = g->next) {
                put_u64(o, g->id);
                put_str(o, g->topic);
                put_u64(o, g->charged);
                put_u64(o, g->credited);
                put_u32(o, (uint32_t)g->nmembers);
                for (size_t i = 0; i < g->nmembers; i++) {
                        put_u64(o, g->members[i].client_id);
                        put_u64(o, g->members[i].done);
                }
        }
        n = 0;
        for (const struct backlog_entry *e = c->bl_head; e; e = e->next)
                n++;
        put_u32(o, n);
        for (const struct backlog_entry *e = c->bl_head; e; e = e->next) {
                put_u32(o, e->size);
                put_u32(o, e->nrec);
                put_u8(o, e->control);
                put_u8(o, e->has_bulk);
                put_u64(o, e->flow_sender);
                put_u64(o, e->flow_group);
                put_u64(o, e->flow_cost);
                put_u32(o, e->bulk.ring);
                put_u32(o, e->bulk.lane);
                put_u64(o, e->bulk.pos);
                put_u64(o, e->bulk.len);
                put_u64(o, e->bulk.sender_id);
                put_u64(o, (uint64_t)e->msg[0]);
                put(o, &e->msg[1], e->size);
        }
}

/* Version 2: who it is beyond its uid, as read at its registration. */
static void client_identity_put(struct snap_out *o, const struct client *c)
{
        put_u32(o, c->gid);
        put_u32(o, c->ngroups);
        for (uint32_t i = 0; i < c->ngroups; i++)
                put_u32(o, c->groups[i]);
        put_str(o, c->unit);
}

static void lanes_put(struct snap_out *o, const struct router *r)
{
        put_u32(o, SNAP_TAG_LANE);
        for (unsigned i = 0; i < r->nrings; i++) {
                const struct ring *rg = r->rings[i];

                put_u32(o, rg->nlanes);
                for (uint32_t k = 0; k < rg->nlanes; k++) {
                        const struct ring_lane *l = &rg->lanes[k];

                        put_u64(o, l->owner ? l->owner->id : 0);
                        put_u32(o, l->uid);
                        put_u8(o, l->busy);
                        put_u64(o, l->free_pos);
                        put_u64(o, l->hold);
                        put_u64(o, l->end);
                        put_u32(o, (uint32_t)l->nchunks);
                        for (size_t j = 0; j < l->nchunks; j++) {
                                put_u64(o, l->chunks[j].pos);
                                put_u64(o, l->chunks[j].len);
                                put_u32(o, l->chunks[j].refs);
                        }
                }
        }
}

struct topics_out {
        struct snap_out *o;
        uint32_t n;
        bool count;
};

static void topic_put(struct topic *t, void *userdata)
{
        struct topics_out *to = userdata;
        struct snap_out *o = to->o;

        if (to->count) {
                to->n++;
                return;
        }
        put_str(o, t->name);
        put_u64(o, t->published);
        put_u64(o, t->delivered);
        put_u32(o, t->hlen);
        for (uint32_t i = 0; i < t->hlen; i++) {
                const struct hist_entry *e = t->hist[(t->hhead + i) % t->depth];

                put_u64(o, (uint64_t)e->type);
                put_u64(o, e->sender_id);
                put_u32(o, e->sender_uid);
                put_u32(o, (uint32_t)e->sender_pid);
                put_str(o, e->name);
                put_u32(o, e->len);
                put(o, e->data, e->len);
        }
}

static void topics_flow_put(struct snap_out *o, const struct router *r)
{
        struct topics_out to = { .o = o, .count = true };
        uint32_t n = 0;

        put_u32(o, SNAP_TAG_TOPH);
        topics_foreach((struct topics *)&r->topics, topic_put, &to);
        put_u32(o, to.n);
        to.count = false;
        topics_foreach((struct topics *)&r->topics, topic_put, &to);

        put_u32(o, SNAP_TAG_FLOW);
        for (const struct client *c = r->clients; c; c = c->next)
                for (const struct flow_pair *fp = c->flow_in; fp; fp = fp->next)
                        n++;
        put_u32(o, n);
        for (const struct client *c = r->clients; c; c = c->next)
                for (const struct flow_pair *fp = c->flow_in; fp; fp = fp->next) {
                        put_u64(o, fp->dst->id);
                        put_u64(o, fp->sender->id);
                        put_u64(o, fp->outstanding);
                        put_u64(o, fp->due);
                        put_u64(o, fp->bulk_out);
                        put_u64(o, fp->bulk_due);
                        put_u8(o, fp->maybe_blocked);
                }
}

/* Version 2: the direct channels, in the router's order. */
static void channels_put(struct snap_out *o, const struct router *r)
{
        put_u32(o, SNAP_TAG_CHAN);
        put_u32(o, r->nchannels);
        for (const struct channel *ch = r->channels; ch; ch = ch->next) {
                put_u64(o, ch->id);
                put_u32(o, (uint32_t)ch->shmid);
                put_u64(o, ch->dir_bytes);
                put_u8(o, (uint8_t)ch->phase);
                put_u64(o, ch->opener->id);
                put_u64(o, ch->acceptor->id);
                put_u32(o, ch->charged_uid);
        }
}

int snapshot_write(const struct router *r, const struct snapshot_edge *edge, uint8_t **ret,
                   size_t *len)
{
        struct snap_out o = { 0 };
        struct snap_header h = { .version = SNAPSHOT_VERSION };

        memcpy(h.magic, SNAPSHOT_MAGIC, sizeof(h.magic));
        put(&o, &h, sizeof(h));
        edge_put(&o, edge, r);
        rings_uidqs_put(&o, r);
        put_u32(&o, SNAP_TAG_CLNT);
        put_u32(&o, r->nclients);
        for (const struct client *c = r->clients; c; c = c->next) {
                client_scalars_put(&o, c);
                client_lists_put(&o, c);
                client_flow_backlog_put(&o, c);
                client_identity_put(&o, c);
        }
        lanes_put(&o, r);
        topics_flow_put(&o, r);
        channels_put(&o, r);
        put_u32(&o, SNAP_TAG_END);
        if (o.failed) {
                free(o.p);
                return -ENOMEM;
        }
        h.body_len = o.len - sizeof(h);
        h.checksum = snap_fnv64(o.p + sizeof(h), h.body_len);
        memcpy(o.p, &h, sizeof(h));
        *ret = o.p;
        *len = o.len;
        return 0;
}
