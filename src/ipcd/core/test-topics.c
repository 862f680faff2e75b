/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-topics.c - subscriptions and topic history without a daemon:
 * exact and wildcard matching, one delivery per client however many of its
 * subscriptions match, unsubscribe, history depth, order and global caps,
 * the prefix index (replay visits only what it replays; index nodes come
 * and go with their children), and history contributions (largest live
 * depth wins, nobody lowers another's, leaving gives the share back, the
 * per-uid share).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/router.h"
#include "ipcd/core/topics.h"

/* Later checks build on earlier ones: the first failure ends the test. */
#define TEST_CHECK_EXITS
#include "shared/test-util.h"

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

static uint32_t in_effect;

/* c sets its depth on topic, the global cap max_total, no per-uid cap. */
static int set_hist(struct topics *ts, struct client *c, const char *topic, size_t len,
                    uint32_t depth, uint64_t max_total)
{
        return topics_set_history(ts, c, topic, len, depth, max_total, UINT64_MAX, &in_effect);
}

static void count_topic(struct topic *t, void *userdata)
{
        (void)t;
        ++*(unsigned *)userdata;
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
        CHECK(set_hist(&ts, &a, "news", 4, 3, 100000) == 0);
        keep(&ts, "news", "1", 100, 1000);
        keep(&ts, "news", "2", 100, 1000);
        keep(&ts, "news", "3", 100, 1000);
        keep(&ts, "news", "4", 100, 1000);
        CHECK(set_hist(&ts, &a, "news/sport", 10, 2, 100000) == 0);
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
        CHECK(set_hist(&ts, &a, "news", 4, 1, 100000) == 0);
        nreplayed = 0;
        topics_history_replay(&ts, "news", replay, NULL);
        CHECK(nreplayed == 1 && strcmp(replayed[0], "news:4") == 0);
        CHECK(ts.hist_count == 2);

        /* Global caps: at most 2 entries in all; the topic gives up its own oldest. */
        CHECK(set_hist(&ts, &a, "news", 4, 5, 100000) == 0);
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
        CHECK(set_hist(&ts, &a, "news/sport", 10, 0, 100000) == 0);
        CHECK(topics_find(&ts, "news/sport", 10) == NULL);

        /* Many topics: the table grows and still finds them. */
        for (int i = 0; i < 2000; i++) {
                char name[32];

                snprintf(name, sizeof(name), "t/%d", i);
                CHECK(set_hist(&ts, &a, name, strlen(name), 1, 100000) == 0);
        }
        CHECK(topics_find(&ts, "t/1999", 6) != NULL && topics_find(&ts, "t/0", 3) != NULL);

        /* The depths add up to a bound: no topics without end. */
        CHECK(set_hist(&ts, &a, "cap/a", 5, 10, ts.depth_total + 5) == -EDQUOT);
        CHECK(topics_find(&ts, "cap/a", 5) == NULL);
        CHECK(set_hist(&ts, &a, "cap/a", 5, 5, ts.depth_total + 5) == 0);

        /* Prefix index: "a/b/" then "*" replays the subtree of a/b only,
         * deeper levels included, and not a/b itself nor a/bc. */
        topics_client_gone(&ts, &a);
        CHECK(ts.depth_total == 0 && ts.hist_count == 0 && topics_uid_history(&ts, 0) == 0);
        CHECK(topics_find(&ts, "t/0", 3) == NULL && topics_find(&ts, "t", 1) == NULL);
        CHECK(set_hist(&ts, &a, "a/b", 3, 2, 1000) == 0);
        CHECK(set_hist(&ts, &a, "a/b/c", 5, 2, 1000) == 0);
        CHECK(set_hist(&ts, &a, "a/b/c/d/e", 9, 2, 1000) == 0);
        CHECK(set_hist(&ts, &a, "a/bc", 4, 2, 1000) == 0);
        /* the index nodes a and a/b/c/d exist for the index only */
        CHECK(topics_find(&ts, "a", 1) != NULL && topics_find(&ts, "a/b/c/d", 7) != NULL);
        CHECK(topics_find(&ts, "a/b/c/d", 7)->parent == topics_find(&ts, "a/b/c", 5));
        keep(&ts, "a/b", "x", 100, 1000);
        keep(&ts, "a/b/c", "y", 100, 1000);
        keep(&ts, "a/b/c/d/e", "z", 100, 1000);
        keep(&ts, "a/bc", "w", 100, 1000);
        CHECK(topics_find(&ts, "a", 1)->hist_below == 4);
        CHECK(topics_find(&ts, "a/b", 3)->hist_below == 3);
        nreplayed = 0;
        CHECK(topics_history_replay(&ts, "a/b/*", replay, NULL) == 2);
        CHECK(nreplayed == 2 && strcmp(replayed[0], "a/b/c:y") == 0 &&
              strcmp(replayed[1], "a/b/c/d/e:z") == 0);
        nreplayed = 0;
        CHECK(topics_history_replay(&ts, "a/*", replay, NULL) == 4);
        nreplayed = 0;
        CHECK(topics_history_replay(&ts, "*", replay, NULL) == 4);
        nreplayed = 0;
        CHECK(topics_history_replay(&ts, "a/b/c/d/*", replay, NULL) == 1 &&
              strcmp(replayed[0], "a/b/c/d/e:z") == 0);
        /* Status lists the topics, not the index nodes. */
        {
                unsigned n = 0;

                topics_foreach(&ts, count_topic, &n);
                CHECK(n == 6); /* a/b a/b/c a/b/c/d/e a/bc, and sensors sensors/temp */
                CHECK(ts.ntopics == 6 && ts.nnodes == 8); /* and a, a/b/c/d */
        }
        /* Gone with the last topic below them. */
        CHECK(set_hist(&ts, &a, "a/b/c/d/e", 9, 0, 1000) == 0);
        CHECK(topics_find(&ts, "a/b/c/d", 7) == NULL && topics_find(&ts, "a/b/c/d/e", 9) == NULL);
        CHECK(topics_find(&ts, "a/b", 3)->hist_below == 2);
        CHECK(ts.hist_count == 3);
        topics_client_gone(&ts, &a);
        CHECK(ts.ntopics == 2 && ts.hist_count == 0); /* sensors, sensors/temp: a's subscriptions */

        /* Contributions: the largest depth of a live client is in effect. */
        {
                struct client o = { .id = 10, .uid = 0 }, x = { .id = 11, .uid = 65534 },
                              y = { .id = 12, .uid = 65534 };

                CHECK(topics_set_history(&ts, &o, "news/root", 9, 4, 100, 100, &in_effect) == 0 &&
                      in_effect == 4);
                keep(&ts, "news/root", "1", 100, 1000);
                keep(&ts, "news/root", "2", 100, 1000);
                keep(&ts, "news/root", "3", 100, 1000);
                /* x cannot lower it: its own contribution was 0 already. */
                CHECK(topics_set_history(&ts, &x, "news/root", 9, 0, 100, 100, &in_effect) == 0 &&
                      in_effect == 4);
                /* x raises it and lowers it back: o's 4 and its 3 entries stay. */
                CHECK(topics_set_history(&ts, &x, "news/root", 9, 6, 100, 100, &in_effect) == 0 &&
                      in_effect == 6);
                CHECK(topics_uid_history(&ts, 65534) == 6 && ts.depth_total == 6);
                CHECK(topics_set_history(&ts, &x, "news/root", 9, 1, 100, 100, &in_effect) == 0 &&
                      in_effect == 4);
                nreplayed = 0;
                topics_history_replay(&ts, "news/root", replay, NULL);
                CHECK(nreplayed == 3 && strcmp(replayed[0], "news/root:1") == 0);
                /* The per-uid share counts what each of the uid's clients set. */
                CHECK(topics_set_history(&ts, &y, "hoard/1", 7, 8, 100, 10, &in_effect) == 0);
                CHECK(topics_uid_history(&ts, 65534) == 9);
                CHECK(topics_set_history(&ts, &y, "hoard/2", 7, 2, 100, 10, &in_effect) ==
                      -EDQUOT);
                CHECK(topics_find(&ts, "hoard/2", 7) == NULL);
                CHECK(topics_set_history(&ts, &y, "hoard/2", 7, 1, 100, 10, &in_effect) == 0);
                /* Another uid is not held back by it. */
                CHECK(topics_set_history(&ts, &o, "hoard/3", 7, 10, 100, 100, &in_effect) == 0);
                /* The global cap counts depths in effect: o's 4 on news/root,
                 * 8 + 1 + 10 on hoard/: 23 of 25. */
                CHECK(ts.depth_total == 23);
                CHECK(topics_set_history(&ts, &o, "more", 4, 3, 25, 100, &in_effect) == -EDQUOT);
                /* Leaving gives the share back; o's depths stay. */
                topics_client_gone(&ts, &y);
                CHECK(topics_uid_history(&ts, 65534) == 1 && ts.depth_total == 14);
                CHECK(topics_find(&ts, "hoard/1", 7) == NULL);
                CHECK(topics_set_history(&ts, &o, "more", 4, 3, 25, 100, &in_effect) == 0);
                /* x leaves: news/root keeps o's depth and its entries. */
                topics_client_gone(&ts, &x);
                CHECK(topics_uid_history(&ts, 65534) == 0);
                CHECK(topics_find(&ts, "news/root", 9)->depth == 4 &&
                      topics_find(&ts, "news/root", 9)->hlen == 3);
                /* o leaves: news/root shrinks to nothing, from a rotated ring. */
                keep(&ts, "news/root", "4", 100, 1000);
                keep(&ts, "news/root", "5", 100, 1000);
                CHECK(topics_set_history(&ts, &x, "news/root", 9, 2, 100, 100, &in_effect) == 0);
                topics_client_gone(&ts, &o);
                nreplayed = 0;
                topics_history_replay(&ts, "news/root", replay, NULL);
                CHECK(nreplayed == 2 && strcmp(replayed[0], "news/root:4") == 0 &&
                      strcmp(replayed[1], "news/root:5") == 0);
                topics_client_gone(&ts, &x);
                CHECK(ts.depth_total == 0 && ts.hist_count == 0 && ts.hist_bytes == 0);
                CHECK(topics_find(&ts, "news", 4) == NULL);
        }

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
