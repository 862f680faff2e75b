/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-topics.c - subscriptions and topic history without a daemon:
 * exact and wildcard matching, one delivery per client however many of its
 * subscriptions match, unsubscribe, history depth, order and global caps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/router.h"
#include "ipcd/core/topics.h"

#define CHECK(x)                                                                                   \
        do {                                                                                       \
                if (!(x)) {                                                                        \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
                        exit(1);                                                                   \
                }                                                                                  \
        } while (0)

static struct client *hits[16];
static unsigned nhits;

static void hit(struct client *c, void *userdata)
{
        (void)userdata;
        CHECK(nhits < 16);
        hits[nhits++] = c;
}

static bool got(struct client *c)
{
        for (unsigned i = 0; i < nhits; i++)
                if (hits[i] == c)
                        return true;
        return false;
}

static unsigned match(struct topics *ts, const char *topic)
{
        nhits = 0;
        return topics_match(ts, topic, strlen(topic), hit, NULL);
}

static struct sub *sub(struct topics *ts, struct client *c, const char *pattern)
{
        struct sub *s;

        CHECK(topics_subscribe(ts, c, pattern, &s) == 0);
        s->client_next = c->subs;
        c->subs = s;
        return s;
}

static char replayed[64][64];
static unsigned nreplayed;

static void replay(struct topic *t, const struct hist_entry *e, void *userdata)
{
        (void)userdata;
        size_t n = strlen(t->name);
        char *out = replayed[nreplayed++];

        CHECK(n + 1 + e->len < 64);
        memcpy(out, t->name, n);
        out[n] = ':';
        memcpy(out + n + 1, e->data, e->len);
        out[n + 1 + e->len] = '\0';
}

static void keep(struct topics *ts, const char *topic, const char *text, uint64_t max_count,
                 uint64_t max_bytes)
{
        struct topic *t = topics_find(ts, topic, strlen(topic));
        struct hist_entry e = { .type = 1, .len = (uint32_t)strlen(text) };

        CHECK(t);
        topics_history_add(ts, t, &e, text, max_count, max_bytes);
}

int main(void)
{
        struct topics ts;
        struct client a = { .id = 1 }, b = { .id = 2 }, c = { .id = 3 };
        struct sub *s;

        CHECK(topics_init(&ts) == 0);
        sub(&ts, &a, "sensors/temp");
        sub(&ts, &a, "sensors/*");
        sub(&ts, &b, "sensors/temp/*");
        sub(&ts, &c, "*");
        CHECK(topics_subscribe(&ts, &a, "sensors/*", &s) == -EEXIST);

        /* a matches twice but is delivered once. */
        CHECK(match(&ts, "sensors/temp") == 2 && got(&a) && got(&c) && !got(&b));
        CHECK(match(&ts, "sensors/temp/kitchen") == 3 && got(&a) && got(&b) && got(&c));
        /* "x/" then "*" is below x, not x itself. */
        CHECK(match(&ts, "sensors") == 1 && got(&c));
        CHECK(match(&ts, "sensorsX/temp") == 1 && got(&c));
        CHECK(match(&ts, "other") == 1 && got(&c));

        /* Unsubscribe c from everything: "other" reaches nobody. */
        for (struct sub **pp = &c.subs; *pp;) {
                struct sub *x = *pp;

                *pp = x->client_next;
                topics_unsubscribe(&ts, x);
        }
        CHECK(match(&ts, "other") == 0);
        /* A topic nobody needs is gone. */
        CHECK(topics_find(&ts, "other", 5) == NULL);

        /* History: depth 3 keeps the last 3, replayed oldest first. */
        CHECK(topics_set_history(&ts, "news", 4, 3, 100000) == 0);
        keep(&ts, "news", "1", 100, 1000);
        keep(&ts, "news", "2", 100, 1000);
        keep(&ts, "news", "3", 100, 1000);
        keep(&ts, "news", "4", 100, 1000);
        CHECK(topics_set_history(&ts, "news/sport", 10, 2, 100000) == 0);
        keep(&ts, "news/sport", "s1", 100, 1000);
        nreplayed = 0;
        topics_history_replay(&ts, "news", replay, NULL);
        CHECK(nreplayed == 3 && strcmp(replayed[0], "news:2") == 0 &&
              strcmp(replayed[2], "news:4") == 0);
        nreplayed = 0;
        topics_history_replay(&ts, "news/*", replay, NULL);
        CHECK(nreplayed == 1 && strcmp(replayed[0], "news/sport:s1") == 0);
        nreplayed = 0;
        topics_history_replay(&ts, "*", replay, NULL);
        CHECK(nreplayed == 4);

        /* Shrinking keeps the newest. */
        CHECK(topics_set_history(&ts, "news", 4, 1, 100000) == 0);
        nreplayed = 0;
        topics_history_replay(&ts, "news", replay, NULL);
        CHECK(nreplayed == 1 && strcmp(replayed[0], "news:4") == 0);
        CHECK(ts.hist_count == 2);

        /* Global caps: at most 2 entries in all; the topic gives up its own oldest. */
        CHECK(topics_set_history(&ts, "news", 4, 5, 100000) == 0);
        keep(&ts, "news", "5", 2, 1000);
        CHECK(ts.hist_count == 2);
        nreplayed = 0;
        topics_history_replay(&ts, "news", replay, NULL);
        CHECK(nreplayed == 1 && strcmp(replayed[0], "news:5") == 0);
        /* A message larger than the byte cap is not kept. */
        keep(&ts, "news", "too long for the cap", 100, 10);
        nreplayed = 0;
        topics_history_replay(&ts, "news", replay, NULL);
        CHECK(nreplayed == 0 || strcmp(replayed[nreplayed - 1], "news:too long for the cap") != 0);

        /* Depth 0 drops the history and, without subscribers, the topic. */
        CHECK(topics_set_history(&ts, "news/sport", 10, 0, 100000) == 0);
        CHECK(topics_find(&ts, "news/sport", 10) == NULL);

        /* Many topics: the table grows and still finds them. */
        for (int i = 0; i < 2000; i++) {
                char name[32];

                snprintf(name, sizeof(name), "t/%d", i);
                CHECK(topics_set_history(&ts, name, strlen(name), 1, 100000) == 0);
        }
        CHECK(topics_find(&ts, "t/1999", 6) != NULL && topics_find(&ts, "t/0", 3) != NULL);

        /* The depths add up to a bound: no topics without end. */
        CHECK(topics_set_history(&ts, "cap/a", 5, 10, ts.depth_total + 5) == -EDQUOT);
        CHECK(topics_find(&ts, "cap/a", 5) == NULL);
        CHECK(topics_set_history(&ts, "cap/a", 5, 5, ts.depth_total + 5) == 0);

        /* As the router does when clients leave. */
        for (struct client *x = &a; x; x = x == &a ? &b : NULL)
                while (x->subs) {
                        struct sub *sb = x->subs;

                        x->subs = sb->client_next;
                        topics_unsubscribe(&ts, sb);
                }
        topics_done(&ts);
        printf("test-topics: ok\n");
        return 0;
}
