/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/router.h"
#include "ipcd/core/topics.h"
#include "shared/names.h"

static uint64_t hash_name(const char *s, size_t n)
{
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < n; i++) {
                h ^= (uint8_t)s[i];
                h *= 1099511628211ULL;
        }
        return h;
}

int topics_init(struct topics *ts)
{
        memset(ts, 0, sizeof(*ts));
        ts->nbuckets = 256;
        ts->buckets = calloc(ts->nbuckets, sizeof(*ts->buckets));
        return ts->buckets ? 0 : -ENOMEM;
}

/* n entries more (or fewer) in t, for the index. */
static void hist_below_add(struct topic *t, int64_t n)
{
        for (; t; t = t->parent)
                t->hist_below = (uint64_t)((int64_t)t->hist_below + n);
}

static void hist_clear(struct topics *ts, struct topic *t)
{
        hist_below_add(t, -(int64_t)t->hlen);
        for (uint32_t i = 0; i < t->hlen; i++) {
                struct hist_entry *e = t->hist[(t->hhead + i) % t->depth];

                ts->hist_count--;
                ts->hist_bytes -= e->len;
                free(e);
        }
        free(t->hist);
        t->hist = NULL;
        t->hlen = t->hhead = 0;
}

void topics_done(struct topics *ts)
{
        /* Everything goes: no index to keep up to date. */
        for (size_t b = 0; ts->buckets && b < ts->nbuckets; b++)
                for (struct topic *t = ts->buckets[b]; t; t = t->hnext)
                        t->parent = NULL;
        for (size_t b = 0; b < ts->nbuckets; b++) {
                struct topic *t, *n;

                for (t = ts->buckets ? ts->buckets[b] : NULL; t; t = n) {
                        n = t->hnext;
                        while (t->contribs) {
                                struct hist_contrib *hc = t->contribs;

                                t->contribs = hc->tnext;
                                hc->c->hist_contribs = NULL; /* all of them go */
                                free(hc);
                        }
                        hist_clear(ts, t);
                        free(t);
                }
        }
        free(ts->buckets);
        ts->buckets = NULL;
        for (size_t b = 0; b < TOPICS_UID_BUCKETS; b++)
                while (ts->shares[b]) {
                        struct uid_share *u = ts->shares[b];

                        ts->shares[b] = u->next;
                        free(u);
                }
}

struct topic *topics_find(struct topics *ts, const char *name, size_t len)
{
        for (struct topic *t = ts->buckets[hash_name(name, len) & (ts->nbuckets - 1)]; t; t = t->hnext)
                if (strncmp(t->name, name, len) == 0 && t->name[len] == '\0')
                        return t;
        return NULL;
}

static void grow(struct topics *ts)
{
        size_t n = ts->nbuckets * 2;
        struct topic **nb = calloc(n, sizeof(*nb));

        if (!nb)
                return; /* keep the longer chains */
        for (size_t b = 0; b < ts->nbuckets; b++) {
                struct topic *t, *next;

                for (t = ts->buckets[b]; t; t = next) {
                        size_t k = hash_name(t->name, strlen(t->name)) & (n - 1);

                        next = t->hnext;
                        t->hnext = nb[k];
                        nb[k] = t;
                }
        }
        free(ts->buckets);
        ts->buckets = nb;
        ts->nbuckets = n;
}

/* A topic status lists: not an index node. */
static bool topic_listed(const struct topic *t)
{
        return t->exact || t->wild || t->depth;
}

/* t may have changed between listed and not: keep ntopics right. */
static void topic_relist(struct topics *ts, struct topic *t, bool was)
{
        bool now = topic_listed(t);

        if (now && !was)
                ts->ntopics++;
        else if (was && !now)
                ts->ntopics--;
}

/* The length of name's parent in the index: its longest prefix that ends
 * before a '/' (not at 0), or 0 at the top. */
static size_t parent_len(const char *name, size_t len)
{
        for (size_t i = len; i-- > 1;)
                if (name[i] == '/')
                        return i;
        return 0;
}

static void topic_unlink(struct topics *ts, struct topic *t)
{
        struct topic **pp;

        for (pp = &ts->buckets[hash_name(t->name, strlen(t->name)) & (ts->nbuckets - 1)]; *pp;
             pp = &(*pp)->hnext)
                if (*pp == t) {
                        *pp = t->hnext;
                        break;
                }
        if (t->sib_prev)
                t->sib_prev->sib_next = t->sib_next;
        else if (t->parent)
                t->parent->child = t->sib_next;
        else
                ts->roots = t->sib_next;
        if (t->sib_next)
                t->sib_next->sib_prev = t->sib_prev;
        ts->nnodes--;
}

/* Free a topic nobody needs any more, and the index nodes above it that
 * only it kept. */
static void topic_maybe_free(struct topics *ts, struct topic *t)
{
        while (t && !t->exact && !t->wild && !t->depth && !t->contribs && !t->child) {
                struct topic *parent = t->parent;

                hist_clear(ts, t);
                topic_unlink(ts, t);
                free(t);
                t = parent;
        }
}

static struct topic *topic_get(struct topics *ts, const char *name, size_t len)
{
        struct topic *t = topics_find(ts, name, len), *parent = NULL;
        size_t b, plen;

        if (t)
                return t;
        if (len >= sizeof(t->name))
                return NULL;
        plen = parent_len(name, len);
        if (plen) {
                parent = topic_get(ts, name, plen);
                if (!parent)
                        return NULL;
        }
        t = calloc(1, sizeof(*t));
        if (!t) {
                topic_maybe_free(ts, parent);
                return NULL;
        }
        memcpy(t->name, name, len);
        if (ts->nnodes + 1 > ts->nbuckets)
                grow(ts);
        b = hash_name(name, len) & (ts->nbuckets - 1);
        t->hnext = ts->buckets[b];
        ts->buckets[b] = t;
        ts->nnodes++;
        t->parent = parent;
        {
                struct topic **head = parent ? &parent->child : &ts->roots;

                t->sib_next = *head;
                if (*head)
                        (*head)->sib_prev = t;
                *head = t;
        }
        return t;
}

int topics_subscribe(struct topics *ts, struct client *c, const char *pattern, struct sub **ret)
{
        size_t n = strlen(pattern);
        bool wild = n >= 2 && pattern[n - 1] == '*' && (n == 1 || pattern[n - 2] == '/');
        struct sub *s;
        struct topic *t = NULL;

        for (s = c->subs; s; s = s->client_next)
                if (strcmp(s->pattern, pattern) == 0)
                        return -EEXIST;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->c = c;
        snprintf(s->pattern, sizeof(s->pattern), "%s", pattern);
        if (strcmp(pattern, "*") == 0) {
                s->next = ts->all;
                ts->all = s;
                ts->nall++;
        } else {
                t = topic_get(ts, pattern, wild ? n - 2 : n);
                if (!t) {
                        free(s);
                        return -ENOMEM;
                }
                s->t = t;
                s->wildcard = wild;
                if (!topic_listed(t))
                        ts->ntopics++;
                if (wild) {
                        s->next = t->wild;
                        t->wild = s;
                        t->nwild++;
                } else {
                        s->next = t->exact;
                        t->exact = s;
                        t->nexact++;
                }
        }
        *ret = s;
        return 0;
}

static void list_remove(struct sub **head, struct sub *s)
{
        for (struct sub **pp = head; *pp; pp = &(*pp)->next)
                if (*pp == s) {
                        *pp = s->next;
                        return;
                }
}

void topics_unsubscribe(struct topics *ts, struct sub *s)
{
        struct topic *t = s->t;
        bool was = t && topic_listed(t);

        if (!t) {
                list_remove(&ts->all, s);
                ts->nall--;
        } else if (s->wildcard) {
                list_remove(&t->wild, s);
                t->nwild--;
        } else {
                list_remove(&t->exact, s);
                t->nexact--;
        }
        free(s);
        if (t) {
                topic_relist(ts, t, was);
                topic_maybe_free(ts, t);
        }
}

static unsigned visit(struct topics *ts, struct sub *list,
                      void (*fn)(struct client *c, void *userdata), void *userdata)
{
        unsigned n = 0;

        for (struct sub *s = list; s; s = s->next) {
                if (s->c->pub_gen == ts->gen || s->c->removed)
                        continue;
                s->c->pub_gen = ts->gen;
                fn(s->c, userdata);
                n++;
        }
        return n;
}

unsigned topics_match(struct topics *ts, const char *topic, size_t len,
                      void (*fn)(struct client *c, void *userdata), void *userdata)
{
        struct topic *t;
        unsigned n = 0;

        ts->gen++;
        t = topics_find(ts, topic, len);
        if (t)
                n += visit(ts, t->exact, fn, userdata);
        /* Wildcards on every proper prefix ending before a '/'. */
        for (size_t i = len; i-- > 0;)
                if (topic[i] == '/' && i > 0) {
                        t = topics_find(ts, topic, i);
                        if (t)
                                n += visit(ts, t->wild, fn, userdata);
                }
        n += visit(ts, ts->all, fn, userdata);
        return n;
}

static struct uid_share **share_slot(struct topics *ts, uint32_t uid)
{
        struct uid_share **pp = &ts->shares[uid % TOPICS_UID_BUCKETS];

        while (*pp && (*pp)->uid != uid)
                pp = &(*pp)->next;
        return pp;
}

uint64_t topics_uid_history(const struct topics *ts, uint32_t uid)
{
        for (const struct uid_share *u = ts->shares[uid % TOPICS_UID_BUCKETS]; u; u = u->next)
                if (u->uid == uid)
                        return u->depth;
        return 0;
}

/* uid contributes delta more (or less); -ENOMEM only when it grows. */
static int share_add(struct topics *ts, uint32_t uid, int64_t delta)
{
        struct uid_share **pp = share_slot(ts, uid), *u = *pp;

        if (!u) {
                if (delta <= 0)
                        return 0;
                u = calloc(1, sizeof(*u));
                if (!u)
                        return -ENOMEM;
                u->uid = uid;
                *pp = u;
        }
        u->depth = (uint64_t)((int64_t)u->depth + delta);
        if (!u->depth) {
                *pp = u->next;
                free(u);
        }
        return 0;
}

/* The largest contribution to t, leaving out skip. */
static uint32_t contrib_max(const struct topic *t, const struct hist_contrib *skip)
{
        uint32_t m = 0;

        for (const struct hist_contrib *hc = t->contribs; hc; hc = hc->tnext)
                if (hc != skip && hc->depth > m)
                        m = hc->depth;
        return m;
}

static void hist_pop(struct topics *ts, struct topic *t);

/* Reverse slots [i, j) of a. */
static void slots_reverse(struct hist_entry **a, uint32_t i, uint32_t j)
{
        while (i + 1 < j) {
                struct hist_entry *x = a[i];

                a[i++] = a[--j];
                a[j] = x;
        }
}

/*
 * Make depth the depth in effect of t, keeping its newest entries.  Only
 * growing allocates (and may fail with -ENOMEM, nothing changed):
 * shrinking works in place, so a client's leaving always gives its share
 * back.
 */
static int topic_resize(struct topics *ts, struct topic *t, uint32_t depth)
{
        bool was = topic_listed(t);

        if (depth == t->depth)
                return 0;
        if (depth > t->depth) {
                struct hist_entry **nh = calloc(depth, sizeof(*nh));

                if (!nh)
                        return -ENOMEM;
                for (uint32_t i = 0; i < t->hlen; i++)
                        nh[i] = t->hist[(t->hhead + i) % t->depth];
                free(t->hist);
                t->hist = nh;
        } else {
                while (t->hlen > depth)
                        hist_pop(ts, t);
                if (t->hist && t->hhead) {
                        /* Rotate the oldest to slot 0. */
                        slots_reverse(t->hist, 0, t->hhead);
                        slots_reverse(t->hist, t->hhead, t->depth);
                        slots_reverse(t->hist, 0, t->depth);
                }
                if (!depth) {
                        free(t->hist);
                        t->hist = NULL;
                } else {
                        struct hist_entry **nh = realloc(t->hist, depth * sizeof(*nh));

                        if (nh) /* else the larger array serves */
                                t->hist = nh;
                }
        }
        t->hhead = 0;
        ts->depth_total = ts->depth_total - t->depth + depth;
        t->depth = depth;
        topic_relist(ts, t, was);
        return 0;
}

static void contrib_unlink(struct hist_contrib *hc)
{
        struct hist_contrib **pp;

        for (pp = &hc->t->contribs; *pp; pp = &(*pp)->tnext)
                if (*pp == hc) {
                        *pp = hc->tnext;
                        break;
                }
        for (pp = &hc->c->hist_contribs; *pp; pp = &(*pp)->cnext)
                if (*pp == hc) {
                        *pp = hc->cnext;
                        break;
                }
}

int topics_set_history(struct topics *ts, struct client *c, const char *name, size_t len,
                       uint32_t depth, uint64_t max_total, uint64_t max_per_uid,
                       uint32_t *in_effect)
{
        struct topic *t = topics_find(ts, name, len);
        struct hist_contrib *hc = NULL, *fresh = NULL;
        uint32_t old = 0, others, now, cur = t ? t->depth : 0;
        uint32_t uid = (uint32_t)c->uid;
        int64_t delta;
        int e;

        if (t)
                for (hc = t->contribs; hc && hc->c != c; hc = hc->tnext)
                        ;
        if (hc)
                old = hc->depth;
        others = t ? contrib_max(t, hc) : 0;
        now = depth > others ? depth : others;
        delta = (int64_t)depth - (int64_t)old;
        /* Each limit is checked only when asked for more: giving back
         * always works. */
        if (delta > 0 && topics_uid_history(ts, uid) + (uint64_t)delta > max_per_uid)
                return -EDQUOT;
        if (now > cur && ts->depth_total - cur + now > max_total)
                return -EDQUOT;
        if (delta == 0) {
                *in_effect = cur;
                return 0;
        }
        if (!t) {
                t = topic_get(ts, name, len);
                if (!t)
                        return -ENOMEM;
        }
        if (!hc) {
                fresh = hc = calloc(1, sizeof(*hc));
                if (!hc) {
                        topic_maybe_free(ts, t);
                        return -ENOMEM;
                }
        }
        e = share_add(ts, uid, delta);
        if (e == 0) {
                e = topic_resize(ts, t, now);
                if (e < 0)
                        (void)share_add(ts, uid, -delta); /* giving back never allocates */
        }
        if (e < 0) {
                free(fresh);
                topic_maybe_free(ts, t);
                return e;
        }
        if (fresh) {
                hc->t = t;
                hc->c = c;
                hc->tnext = t->contribs;
                t->contribs = hc;
                hc->cnext = c->hist_contribs;
                c->hist_contribs = hc;
        }
        if (depth)
                hc->depth = depth;
        else {
                contrib_unlink(hc);
                free(hc);
        }
        *in_effect = now;
        topic_maybe_free(ts, t);
        return 0;
}

void topics_client_gone(struct topics *ts, struct client *c)
{
        while (c->hist_contribs) {
                struct hist_contrib *hc = c->hist_contribs;
                struct topic *t = hc->t;

                contrib_unlink(hc);
                (void)share_add(ts, (uint32_t)c->uid, -(int64_t)hc->depth);
                free(hc);
                (void)topic_resize(ts, t, contrib_max(t, NULL)); /* shrinks: cannot fail */
                topic_maybe_free(ts, t);
        }
}

/* Drop the oldest entry of t. */
static void hist_pop(struct topics *ts, struct topic *t)
{
        struct hist_entry *e = t->hist[t->hhead];

        t->hist[t->hhead] = NULL;
        t->hhead = (t->hhead + 1) % t->depth;
        t->hlen--;
        hist_below_add(t, -1);
        ts->hist_count--;
        ts->hist_bytes -= e->len;
        free(e);
}

void topics_history_add(struct topics *ts, struct topic *t, const struct hist_entry *e,
                        const void *data, uint64_t max_count, uint64_t max_bytes)
{
        struct hist_entry *n;

        if (!t->depth)
                return;
        if (t->hlen == t->depth)
                hist_pop(ts, t);
        /* Over the global totals: this topic gives up its oldest first; if
         * it has none, the message is not kept. */
        while (t->hlen && (ts->hist_count + 1 > max_count || ts->hist_bytes + e->len > max_bytes))
                hist_pop(ts, t);
        if (ts->hist_count + 1 > max_count || ts->hist_bytes + e->len > max_bytes)
                return;
        n = malloc(sizeof(*n) + e->len);
        if (!n)
                return;
        *n = *e;
        memcpy(n->data, data, e->len);
        t->hist[(t->hhead + t->hlen) % t->depth] = n;
        t->hlen++;
        hist_below_add(t, 1);
        ts->hist_count++;
        ts->hist_bytes += e->len;
}

static uint64_t replay_topic(struct topic *t,
                             void (*fn)(struct topic *t, const struct hist_entry *e, void *userdata),
                             void *userdata)
{
        for (uint32_t i = 0; i < t->hlen; i++)
                fn(t, t->hist[(t->hhead + i) % t->depth], userdata);
        return t->hlen;
}

/* t and below, every branch without history skipped. */
static uint64_t replay_below(struct topic *t, const char *pattern,
                             void (*fn)(struct topic *t, const struct hist_entry *e, void *userdata),
                             void *userdata)
{
        uint64_t n = 0;

        if (!t->hist_below)
                return 0;
        if (t->hlen && topic_pattern_match(pattern, t->name))
                n += replay_topic(t, fn, userdata);
        for (struct topic *k = t->child; k; k = k->sib_next)
                n += replay_below(k, pattern, fn, userdata);
        return n;
}

uint64_t topics_history_replay(struct topics *ts, const char *pattern,
                               void (*fn)(struct topic *t, const struct hist_entry *e,
                                          void *userdata),
                               void *userdata)
{
        size_t n = strlen(pattern);
        struct topic *t;
        uint64_t count = 0;

        if (n == 1 && pattern[0] == '*') {
                /* Every top-level topic and what is below it. */
                for (t = ts->roots; t; t = t->sib_next)
                        count += replay_below(t, pattern, fn, userdata);
                return count;
        }
        if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '/') {
                t = topics_find(ts, pattern, n - 2);
                if (t)
                        for (struct topic *k = t->child; k; k = k->sib_next)
                                count += replay_below(k, pattern, fn, userdata);
                return count;
        }
        t = topics_find(ts, pattern, n);
        return t ? replay_topic(t, fn, userdata) : 0;
}

void topics_foreach(struct topics *ts, void (*fn)(struct topic *t, void *userdata), void *userdata)
{
        for (size_t b = 0; b < ts->nbuckets; b++)
                for (struct topic *t = ts->buckets[b]; t; t = t->hnext)
                        if (topic_listed(t))
                                fn(t, userdata);
}
