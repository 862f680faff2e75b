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

static void hist_clear(struct topics *ts, struct topic *t)
{
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
        for (size_t b = 0; b < ts->nbuckets; b++) {
                struct topic *t, *n;

                for (t = ts->buckets ? ts->buckets[b] : NULL; t; t = n) {
                        n = t->hnext;
                        hist_clear(ts, t);
                        free(t);
                }
        }
        free(ts->buckets);
        ts->buckets = NULL;
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

static struct topic *topic_get(struct topics *ts, const char *name, size_t len)
{
        struct topic *t = topics_find(ts, name, len);
        size_t b;

        if (t)
                return t;
        if (len >= sizeof(t->name))
                return NULL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        memcpy(t->name, name, len);
        if (ts->ntopics + 1 > ts->nbuckets)
                grow(ts);
        b = hash_name(name, len) & (ts->nbuckets - 1);
        t->hnext = ts->buckets[b];
        ts->buckets[b] = t;
        ts->ntopics++;
        return t;
}

/* Free a topic nobody needs any more. */
static void topic_maybe_free(struct topics *ts, struct topic *t)
{
        struct topic **pp;

        if (t->exact || t->wild || t->depth)
                return;
        for (pp = &ts->buckets[hash_name(t->name, strlen(t->name)) & (ts->nbuckets - 1)]; *pp;
             pp = &(*pp)->hnext)
                if (*pp == t) {
                        *pp = t->hnext;
                        break;
                }
        hist_clear(ts, t);
        ts->ntopics--;
        free(t);
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
        if (t)
                topic_maybe_free(ts, t);
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

int topics_set_history(struct topics *ts, const char *name, size_t len, uint32_t depth,
                       uint64_t max_total)
{
        struct topic *t = topics_find(ts, name, len);
        struct hist_entry **nh = NULL;
        uint32_t keep;

        if (depth > (t ? t->depth : 0) && ts->depth_total - (t ? t->depth : 0) + depth > max_total)
                return -EDQUOT;
        if (!t && depth)
                t = topic_get(ts, name, len);
        if (!t)
                return depth ? -ENOMEM : 0;
        if (depth == t->depth)
                return 0;
        if (depth) {
                nh = calloc(depth, sizeof(*nh));
                if (!nh)
                        return -ENOMEM;
        }
        /* Keep the newest min(hlen, depth) entries. */
        keep = t->hlen < depth ? t->hlen : depth;
        for (uint32_t i = 0; i < t->hlen; i++) {
                struct hist_entry *e = t->hist[(t->hhead + i) % t->depth];

                if (i >= t->hlen - keep)
                        nh[i - (t->hlen - keep)] = e;
                else {
                        ts->hist_count--;
                        ts->hist_bytes -= e->len;
                        free(e);
                }
        }
        free(t->hist);
        t->hist = nh;
        t->hlen = keep;
        t->hhead = 0;
        ts->depth_total = ts->depth_total - t->depth + depth;
        t->depth = depth;
        topic_maybe_free(ts, t);
        return 0;
}

/* Drop the oldest entry of t. */
static void hist_pop(struct topics *ts, struct topic *t)
{
        struct hist_entry *e = t->hist[t->hhead];

        t->hist[t->hhead] = NULL;
        t->hhead = (t->hhead + 1) % t->depth;
        t->hlen--;
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
        ts->hist_count++;
        ts->hist_bytes += e->len;
}

void topics_history_replay(struct topics *ts, const char *pattern,
                           void (*fn)(struct topic *t, const struct hist_entry *e, void *userdata),
                           void *userdata)
{
        for (size_t b = 0; b < ts->nbuckets; b++)
                for (struct topic *t = ts->buckets[b]; t; t = t->hnext) {
                        if (!t->hlen || !topic_pattern_match(pattern, t->name))
                                continue;
                        for (uint32_t i = 0; i < t->hlen; i++)
                                fn(t, t->hist[(t->hhead + i) % t->depth], userdata);
                }
}

void topics_foreach(struct topics *ts, void (*fn)(struct topic *t, void *userdata), void *userdata)
{
        for (size_t b = 0; b < ts->nbuckets; b++)
                for (struct topic *t = ts->buckets[b]; t; t = t->hnext)
                        fn(t, userdata);
}
