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
 * subscriptions.  A topic object exists while it has subscriptions or a
 * history depth.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;

struct sub {
        struct sub *next;         /* in the topic's (or the "*") list */
        struct sub *client_next;  /* in the client's list */
        struct client *c;
        struct topic *t;          /* NULL for "*" */
        bool wildcard;
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
        char name[64];
        struct sub *exact;
        struct sub *wild;
        uint32_t nexact, nwild;
        uint32_t depth;           /* history depth */
        uint32_t hlen, hhead;     /* entries kept, index of the oldest */
        struct hist_entry **hist;
        uint64_t published, delivered;
};

struct topics {
        struct topic **buckets;
        size_t nbuckets, ntopics;
        struct sub *all;          /* subscriptions to "*" */
        uint32_t nall;
        uint64_t hist_count;      /* history entries kept in all */
        uint64_t hist_bytes;
        uint64_t gen;             /* publish generation, for once-per-client delivery */
        uint64_t depth_total;     /* sum of every topic's history depth */
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

/* History. depth capped by the caller.  The depths of all topics add up
 * to at most max_total (-EDQUOT beyond: a client cannot make ipcd keep
 * history slots, or topics, without bound).  -ENOMEM. */
int topics_set_history(struct topics *ts, const char *name, size_t len, uint32_t depth,
                       uint64_t max_total);
/* Keep a published message; drops the oldest entry beyond the depth or
 * when the totals would be exceeded (max_count/max_bytes). */
void topics_history_add(struct topics *ts, struct topic *t, const struct hist_entry *e,
                        const void *data, uint64_t max_count, uint64_t max_bytes);
/* Call fn for each history entry of each topic matching pattern, oldest first. */
void topics_history_replay(struct topics *ts, const char *pattern,
                           void (*fn)(struct topic *t, const struct hist_entry *e, void *userdata),
                           void *userdata);
/* Iterate all topics (status). */
void topics_foreach(struct topics *ts, void (*fn)(struct topic *t, void *userdata), void *userdata);
