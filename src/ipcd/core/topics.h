/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topics.h - subscriptions, topic matching and topic history.  Part of the
 * routing state: every function here is called with router->lock held.
 *
 * One hash table maps a name to a struct topic, which holds the exact
 * subscriptions to that name ("a/b"), the wildcard subscriptions below it
 * ("a/b/" then "*"), and its history.  Subscriptions to "*" live in one list.
 * A publish on "a/b/c" therefore looks up "a/b/c" (exact), "a/b" and "a"
 * (wildcards) and the "*" list: depth + 1 lookups, whatever the number of
 * subscriptions.
 *
 * The prefix index: every topic is linked to its parent, the longest
 * prefix of its name that ends before a '/' ("a/b" for "a/b/c"; the same
 * prefixes topics_match() looks up), and each knows how many history
 * entries its subtree holds (hist_below).  A replay for "a/b/" then "*"
 * walks the subtree of "a/b", skipping every branch without history, so
 * it costs what it replays, never a scan of all topics.  A topic object
 * exists while it has subscriptions, a history contribution or children
 * (an index node: a prefix only, which status does not list).
 *
 * History depth belongs to whoever set it: each client's depth on a topic
 * is its contribution (struct hist_contrib, in the topic's and the
 * client's lists), the topic keeps the largest contribution of a live
 * client, and a client's contributions go with it (topics_client_gone).
 * The contributions of one uid add up to at most max_per_uid, and the
 * depths in effect of all topics to at most max_total.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct topic;

/* One client's history depth on one topic. */
struct hist_contrib {
        struct hist_contrib *tnext; /* in the topic's list */
        struct hist_contrib *cnext; /* in the client's list (client->hist_contribs) */
        struct topic *t;
        struct client *c;
        uint32_t depth;             /* > 0 */
};

/* The sum of one uid's contributions. */
struct uid_share {
        struct uid_share *next;
        uint32_t uid;
        uint64_t depth;
};
#define TOPICS_UID_BUCKETS 64

struct sub {
        struct sub *next;         /* in the topic's (or the "*") list */
        struct sub *client_next;  /* in the client's list */
        struct client *c;
        struct topic *t;          /* NULL for "*" */
        bool wildcard;
        bool reliable;            /* IPCD_SUB_RELIABLE: never dropped (flow.c) */
        char pattern[64];
};

struct hist_entry {
        long type;
        uint64_t sender_id;
        uint32_t sender_uid;
        int32_t sender_pid;
        uint8_t name_len;
        char name[64];
        uint32_t len;
        uint8_t data[];
};

struct topic {
        struct topic *hnext;
        struct topic *parent;     /* prefix index: NULL at the top */
        struct topic *child;      /* first child */
        struct topic *sib_next, *sib_prev;
        uint64_t hist_below;      /* history entries here and below */
        struct hist_contrib *contribs;
        char name[64];
        struct sub *exact;
        struct sub *wild;
        uint32_t nexact, nwild;
        uint32_t depth;           /* history depth in effect: the largest contribution */
        uint32_t hlen, hhead;     /* entries kept, index of the oldest */
        struct hist_entry **hist;
        uint64_t published, delivered;
};

struct topics {
        struct topic **buckets;
        size_t nbuckets;
        size_t nnodes;            /* in the table, index nodes included */
        size_t ntopics;           /* of which with subscriptions or a depth (status) */
        struct topic *roots;      /* prefix index: the top-level topics */
        struct sub *all;          /* subscriptions to "*" */
        uint32_t nall;
        uint64_t hist_count;      /* history entries kept in all */
        uint64_t hist_bytes;
        uint64_t gen;             /* publish generation, for once-per-client delivery */
        uint64_t depth_total;     /* sum of every topic's history depth */
        struct uid_share *shares[TOPICS_UID_BUCKETS];
};

int topics_init(struct topics *ts);
void topics_done(struct topics *ts);

struct topic *topics_find(struct topics *ts, const char *name, size_t len);

/* Add a subscription of c to pattern (valid); -EEXIST if c has it,
 * -ENOMEM.  *ret the new subscription (linked into c's list by the caller). */
int topics_subscribe(struct topics *ts, struct client *c, const char *pattern, struct sub **ret);
/* Remove one subscription (unlinked from the client's list by the caller). */
void topics_unsubscribe(struct topics *ts, struct sub *s);

/*
 * Call fn for every client subscribed to topic (valid, no wildcard), once
 * per client however many of its subscriptions match.  The client's
 * pub_gen field is used for that.  Returns the number of clients.
 */
unsigned topics_match(struct topics *ts, const char *topic, size_t len,
                      void (*fn)(struct client *c, void *userdata), void *userdata);

/*
 * History: set c's contribution to the depth of topic name (0 withdraws
 * it; depth capped by the caller) and store the depth now in effect (the
 * largest contribution of a live client) in *in_effect.  -EDQUOT when c's
 * uid would contribute more than max_per_uid in all, or the depths in
 * effect of all topics would exceed max_total (a client cannot make ipcd
 * keep history slots, or topics, without bound); nothing changes then.
 * -ENOMEM.
 */
int topics_set_history(struct topics *ts, struct client *c, const char *name, size_t len,
                       uint32_t depth, uint64_t max_total, uint64_t max_per_uid,
                       uint32_t *in_effect);
/* c leaves: its contributions go, each topic's depth becomes the largest
 * of those left (its history shrinks to it, keeping the newest). */
void topics_client_gone(struct topics *ts, struct client *c);
/* What uid contributes in all. */
uint64_t topics_uid_history(const struct topics *ts, uint32_t uid);
/* Keep a published message; drops the oldest entry beyond the depth or
 * when the totals would be exceeded (max_count/max_bytes). */
void topics_history_add(struct topics *ts, struct topic *t, const struct hist_entry *e,
                        const void *data, uint64_t max_count, uint64_t max_bytes);
/* Call fn for each history entry of each topic matching pattern, oldest
 * first within a topic; returns the number of entries.  Through the prefix
 * index: the cost is the entries replayed (bounded by max_total), not the
 * number of topics. */
uint64_t topics_history_replay(struct topics *ts, const char *pattern,
                               void (*fn)(struct topic *t, const struct hist_entry *e,
                                          void *userdata),
                               void *userdata);
/* Iterate all topics with subscriptions or history (status), not the
 * index nodes. */
void topics_foreach(struct topics *ts, void (*fn)(struct topic *t, void *userdata), void *userdata);
