/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-pubsub - topics: publish/subscribe, wildcards, history, slow
 * subscribers, monitoring, and what a reconnection restores.
 *
 * It starts ipcd itself (tl_ipcd_start) so that it can restart it for the
 * last part.  test-pubsub.sh sets queue_bytes = 16384, so that a
 * subscriber that does not read overflows after a few hundred messages.
 *
 * Asserts:
 *  - fan-out: 8 subscriber processes (an exact topic, "fan/x/" + "*" and
 *    "*")
 *    each get every one of 200 messages exactly once, in publish order,
 *    with the topic and the publisher's authenticated identity; no
 *    sleeping: ipcd_subscribe() returns once the subscription is in force;
 *    IPCD_ACK gives the number of subscribers reached;
 *  - wildcard semantics: "w/" + "*" matches "w/a" and "w/a/b", not "w"; "*"
 *    matches everything; a client whose several subscriptions match gets
 *    a message once; a topic nobody hears is counted as unheard;
 *  - unsubscribe stops delivery; a second one is -ENOENT; invalid
 *    patterns and names are -EINVAL; a killed subscriber's subscriptions
 *    vanish (ACK count drops, status forgets it);
 *  - history: ipcd_set_history returns the depth in effect (capped by the
 *    config); a late joiner gets the last N, oldest first, without
 *    IPCD_MSG_NOTICE, before anything newer; depth 0 forgets it;
 *  - a frozen subscriber (drop-new, backlog 4096, IPCD_NOTIFY_DROPS)
 *    neither blocks the publisher nor costs a live subscriber one message;
 *    what it reads is in order, a notice IPCD_NOTICE_DROPPED tells how many
 *    it missed, read + missed == published, status counts them as
 *    dropped; with drop-old the newest messages survive too;
 *  - monitor: root sees a known send and publish (type, sender, destination
 *    or topic, first bytes, full length; for a payload in the ring, its
 *    length and IPCD_MSG_BULK), a pattern filters; a nobody
 *    child gets -EACCES from ipcd_monitor and from subscribing to "*" or
 *    "x/" + "*", but may subscribe "x/y/" + "*" (second level);
 *  - after an ipcd restart, a client's subscriptions, history depth and
 *    overflow setting are back once it has reconnected.
 */
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define NOBODY 65534

struct seqmsg {
        uint32_t seq;
        char text[12];
};

static pid_t ipcd_pid;

/* tl_ipcd_start(): our ipcd dies with us (PR_SET_PDEATHSIG), also when
 * a check fails; the harness only stops a daemon it started itself. */

static struct seqmsg mk(uint32_t seq)
{
        struct seqmsg m;

        memset(&m, 0, sizeof(m));
        m.seq = seq;
        snprintf(m.text, sizeof(m.text), "m%u", seq);
        return m;
}

static void pub(ipcd_client *c, const char *topic, long type, uint32_t seq, int want_count)
{
        struct seqmsg m = mk(seq);
        int r = ipcd_publish(c, topic, type, &m, sizeof(m), want_count >= 0 ? IPCD_ACK : 0);

        CHECK_MSG(r >= 0, "publish %s seq %u: %d (%s)", topic, seq, r, tl_errname(r));
        if (want_count >= 0)
                CHECK_MSG(r == want_count, "publish %s seq %u reached %d subscribers, expected %d",
                          topic, seq, r, want_count);
}

/* Receive one published message and check it. */
static uint32_t expect_pub(ipcd_client *c, const char *topic, long type, const char *sender)
{
        struct seqmsg s;
        ipcd_msg m;
        int r;

        r = tl_recv(c, &m, 0, 30000);
        CHECK_MSG(r == 0, "%s: waiting for a message on %s: %d (%s)", ipcd_name(c), topic, r,
                  tl_errname(r));
        CHECK_MSG(strcmp(m.topic, topic) == 0, "%s: topic \"%s\", expected \"%s\"", ipcd_name(c),
                  m.topic, topic);
        CHECK_EQ(m.type, type);
        CHECK_EQ(m.len, sizeof(s));
        CHECK_STREQ(m.sender, sender);
        CHECK_EQ(m.sender_pid, getpid());
        CHECK_EQ(m.sender_uid, getuid());
        CHECK_EQ(m.flags & (IPCD_MSG_NOTICE | IPCD_MSG_REQUEST | IPCD_MSG_MONITOR), 0);
        memcpy(&s, m.data, sizeof(s));
        ipcd_msg_release(c, &m);
        return s.seq;
}

/* ------------------------------------------------------------------ */

#define FAN_CHILDREN 8
#define FAN_N 200

static void fan_child(int i, int ready_fd)
{
        static const char *const patterns[] = {"fan/x/y", "fan/x/*", "*"};
        const char *pattern = patterns[i % 3];
        ipcd_client *c = tl_connect(NULL);
        pid_t parent = getppid();
        uint32_t next = 0;

        CHECK_R(ipcd_subscribe(c, pattern), 0);
        CHECK(write(ready_fd, "r", 1) == 1);
        for (;;) {
                struct seqmsg s;
                ipcd_msg m;
                int r = tl_recv(c, &m, 0, 30000);

                CHECK_MSG(r == 0, "fan child %d (%s): %d (%s) after %u messages", i, pattern, r,
                          tl_errname(r), next);
                CHECK_STREQ(m.topic, "fan/x/y");
                CHECK_STREQ(m.sender, "pub");
                CHECK_EQ(m.sender_pid, parent);
                CHECK_EQ(m.len, sizeof(s));
                memcpy(&s, m.data, sizeof(s));
                ipcd_msg_release(c, &m);
                if (m.type == 2) {
                        /* the end marker: nothing missing, nothing twice */
                        CHECK_MSG(next == FAN_N, "fan child %d: %u messages before the end", i,
                                  next);
                        break;
                }
                CHECK_EQ(m.type, 1);
                CHECK_MSG(s.seq == next, "fan child %d (%s): seq %u, expected %u", i, pattern,
                          s.seq, next);
                next++;
        }
        ipcd_close(c);
        _exit(0);
}

static void test_fanout(ipcd_client *p)
{
        pid_t pids[FAN_CHILDREN];
        int fds[2], status;
        char x;

        CHECK(pipe(fds) == 0);
        for (int i = 0; i < FAN_CHILDREN; i++) {
                pids[i] = fork();
                CHECK(pids[i] >= 0);
                if (pids[i] == 0) {
                        close(fds[0]);
                        fan_child(i, fds[1]);
                }
        }
        close(fds[1]);
        /* subscribed (in force) once each child said so: no sleep */
        for (int i = 0; i < FAN_CHILDREN; i++)
                CHECK(read(fds[0], &x, 1) == 1);
        close(fds[0]);

        for (uint32_t i = 0; i < FAN_N; i++)
                pub(p, "fan/x/y", 1, i, i % 50 == 0 ? FAN_CHILDREN : -1);
        pub(p, "fan/x/y", 2, FAN_N, FAN_CHILDREN);
        for (int i = 0; i < FAN_CHILDREN; i++) {
                CHECK(waitpid(pids[i], &status, 0) == pids[i]);
                CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "fan child %d failed (%#x)", i, status);
        }
        tl_log("fan-out: %d subscribers x %d messages, each once and in order", FAN_CHILDREN,
               FAN_N);
}

/* ------------------------------------------------------------------ */

static void test_wildcards(ipcd_client *p)
{
        ipcd_client *exact = tl_connect("s-exact"), *w = tl_connect("s-w"),
                    *deep = tl_connect("s-deep"), *all = tl_connect("s-all"),
                    *v = tl_connect("s-v");
        struct tl_status st;
        uint64_t unheard;

        CHECK_R(ipcd_subscribe(exact, "w/a"), 0);
        CHECK_R(ipcd_subscribe(w, "w/*"), 0);
        CHECK_R(ipcd_subscribe(w, "w/*"), 0); /* twice: still one subscription */
        CHECK_R(ipcd_subscribe(deep, "w/a/*"), 0);
        CHECK_R(ipcd_subscribe(all, "w/a"), 0);
        CHECK_R(ipcd_subscribe(all, "w/*"), 0);
        CHECK_R(ipcd_subscribe(all, "*"), 0);
        CHECK_R(ipcd_subscribe(v, "v/*"), 0);

        tl_status(&st);
        CHECK_EQ(tl_status_client(&st, "s-w")->subscriptions, 1);
        CHECK_EQ(tl_status_client(&st, "s-all")->subscriptions, 3);
        unheard = st.daemon.unheard;
        tl_status_free(&st);

        pub(p, "w/a", 3, 1, 3);   /* exact, w, all */
        pub(p, "w/a/b", 3, 2, 3); /* w, deep, all */
        pub(p, "w", 3, 3, 1);     /* all (the wildcard under w is not w) */
        pub(p, "w/b", 3, 4, 2);   /* w, all */
        pub(p, "v", 3, 5, 1);     /* all */
        pub(p, "x/y", 3, 6, 1);   /* all (not the wildcard under v) */

        CHECK_EQ(expect_pub(exact, "w/a", 3, "pub"), 1);
        CHECK_EQ(expect_pub(w, "w/a", 3, "pub"), 1);
        CHECK_EQ(expect_pub(w, "w/a/b", 3, "pub"), 2);
        CHECK_EQ(expect_pub(w, "w/b", 3, "pub"), 4);
        CHECK_EQ(expect_pub(deep, "w/a/b", 3, "pub"), 2);
        CHECK_EQ(expect_pub(all, "w/a", 3, "pub"), 1);
        CHECK_EQ(expect_pub(all, "w/a/b", 3, "pub"), 2);
        CHECK_EQ(expect_pub(all, "w", 3, "pub"), 3);
        CHECK_EQ(expect_pub(all, "w/b", 3, "pub"), 4);
        CHECK_EQ(expect_pub(all, "v", 3, "pub"), 5);
        CHECK_EQ(expect_pub(all, "x/y", 3, "pub"), 6);

        /* nothing else for anyone (tl_sync orders after the publishes) */
        ipcd_client *cs[] = {exact, w, deep, all, v};
        for (size_t i = 0; i < ELEMENTSOF(cs); i++) {
                tl_sync(cs[i]);
                tl_expect_empty(cs[i]);
        }

        /* unsubscribe */
        CHECK_R(ipcd_unsubscribe(w, "w/*"), 0);
        CHECK_R(ipcd_unsubscribe(w, "w/*"), -ENOENT);
        CHECK_R(ipcd_unsubscribe(w, "never/subscribed"), -ENOENT);
        CHECK_R(ipcd_unsubscribe(all, "*"), 0);
        pub(p, "w/a", 3, 7, 2); /* exact, all (two matches, one copy) */
        pub(p, "nobody/hears", 3, 8, 0);
        CHECK_EQ(expect_pub(exact, "w/a", 3, "pub"), 7);
        CHECK_EQ(expect_pub(all, "w/a", 3, "pub"), 7);
        tl_sync(w);
        tl_expect_empty(w);
        tl_sync(all);
        tl_expect_empty(all);

        /* invalid arguments */
        CHECK_R(ipcd_subscribe(w, ""), -EINVAL);
        CHECK_R(ipcd_subscribe(w, NULL), -EINVAL);
        CHECK_R(ipcd_subscribe(w, "a/*/b"), -EINVAL);
        CHECK_R(ipcd_subscribe(w, "/*x"), -EINVAL);
        CHECK_R(ipcd_subscribe(w, "a/**"), -EINVAL);
        CHECK_R(ipcd_subscribe(w, "a*"), -EINVAL);
        CHECK_R(ipcd_subscribe(w, "a b"), -EINVAL);
        CHECK_R(ipcd_subscribe(NULL, "a"), -EINVAL);
        CHECK_R(ipcd_unsubscribe(w, "a/*/"), -EINVAL);
        CHECK_R(ipcd_publish(p, "w/*", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_publish(p, "*", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_publish(p, "", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_publish(p, "w/a", 0, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_publish(p, "w/a", IPCD_TYPE_MAX + 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_publish(p, "w/a", 1, NULL, 1, 0), -EINVAL);
        CHECK_R(ipcd_publish(p, "w/a", 1, "x", 1, 1 << 5), -EINVAL);
        CHECK_R(ipcd_set_history(p, "w/*", 1), -EINVAL);
        CHECK_R(ipcd_set_overflow(p, 0, 0, 0), -EINVAL);
        CHECK_R(ipcd_set_overflow(p, 3, 0, 0), -EINVAL);
        CHECK_R(ipcd_set_overflow(p, IPCD_OVERFLOW_DROP_NEW, 0, 1 << 4), -EINVAL);
        CHECK_R(ipcd_monitor(p, "a/*/b"), -EINVAL);

        /* an empty publish is a message too */
        CHECK_R(ipcd_publish(p, "w/a", 4, NULL, 0, IPCD_ACK), 2);
        {
                ipcd_msg m;

                CHECK_OK(tl_recv(exact, &m, 4, 30000));
                CHECK_EQ(m.len, 0);
                CHECK_STREQ(m.topic, "w/a");
                ipcd_msg_release(exact, &m);
                CHECK_OK(tl_recv(all, &m, 4, 30000));
                ipcd_msg_release(all, &m);
        }

        tl_status(&st);
        CHECK_MSG(st.daemon.unheard >= unheard + 1, "unheard %llu, before %llu",
                  (unsigned long long)st.daemon.unheard, (unsigned long long)unheard);
        CHECK_EQ(tl_status_client(&st, "s-w")->subscriptions, 0);
        tl_status_free(&st);

        ipcd_close(exact);
        ipcd_close(w);
        ipcd_close(deep);
        ipcd_close(all);
        ipcd_close(v);
        tl_log("wildcards, unsubscribe, invalid arguments: ok");
}

/* ------------------------------------------------------------------ */

static void test_death(ipcd_client *p)
{
        struct tl_status st;
        int fds[2], status;
        pid_t pid;
        char x;

        CHECK(pipe(fds) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *c = tl_connect("doomed");
                ipcd_msg m;

                CHECK_R(ipcd_subscribe(c, "death/t"), 0);
                CHECK_R(ipcd_subscribe(c, "death/*"), 0);
                CHECK(write(fds[1], "r", 1) == 1);
                ipcd_recv(c, &m, 100, -1);
                _exit(1);
        }
        close(fds[1]);
        CHECK(read(fds[0], &x, 1) == 1);
        close(fds[0]);
        pub(p, "death/t", 1, 1, 1);
        CHECK(kill(pid, SIGKILL) == 0);
        CHECK(waitpid(pid, &status, 0) == pid);

        /* ipcd notices within milliseconds; 10 s is a hang guard */
        for (uint64_t deadline = tl_now_ms() + 10000;; tl_sleep_ms(10)) {
                bool gone;

                tl_status(&st);
                gone = !tl_status_client(&st, "doomed");
                tl_status_free(&st);
                if (gone)
                        break;
                CHECK_MSG(tl_now_ms() < deadline, "killed subscriber still listed after 10 s");
        }
        pub(p, "death/t", 1, 2, 0);
        tl_log("a killed subscriber's subscriptions vanish: ok");
}

/* ------------------------------------------------------------------ */

static void test_history(ipcd_client *p)
{
        ipcd_client *late, *wild;
        ipcd_msg m;
        int r;

        CHECK_R(ipcd_set_history(p, "h/t", 5), 5);
        CHECK_R(ipcd_set_history(p, "h/capped", 1000), 64); /* history_per_topic */
        CHECK_R(ipcd_set_history(p, "h/capped", 0), 0);
        for (uint32_t i = 1; i <= 8; i++)
                pub(p, "h/t", 5, i, 0);

        /* a late joiner: the last five, oldest first, before anything newer */
        late = tl_connect("late");
        CHECK_R(ipcd_subscribe(late, "h/t"), 0);
        pub(p, "h/t", 5, 9, 1);
        for (uint32_t i = 4; i <= 9; i++) {
                r = ipcd_recv(late, &m, 0, 30000);
                CHECK_MSG(r == 0, "history %u: %d (%s)", i, r, tl_errname(r));
                CHECK_EQ(m.flags & IPCD_MSG_NOTICE, 0);
                CHECK_STREQ(m.topic, "h/t");
                CHECK_STREQ(m.sender, "pub");
                CHECK_EQ(((const struct seqmsg *)m.data)->seq, i);
                ipcd_msg_release(late, &m);
        }
        tl_sync(late);
        tl_expect_empty(late);

        /* through a wildcard too */
        wild = tl_connect("late-wild");
        CHECK_R(ipcd_subscribe(wild, "h/*"), 0);
        for (uint32_t i = 5; i <= 9; i++)
                CHECK_EQ(expect_pub(wild, "h/t", 5, "pub"), i);

        /* depth 0: forgotten */
        CHECK_R(ipcd_set_history(p, "h/t", 0), 0);
        ipcd_close(wild);
        wild = tl_connect("late-wild");
        CHECK_R(ipcd_subscribe(wild, "h/t"), 0);
        tl_sync(wild);
        tl_expect_empty(wild);
        ipcd_close(wild);
        ipcd_close(late);
        tl_log("history replay to late joiners: ok");
}

/* ------------------------------------------------------------------ */

#define FROZEN_N 2000

struct live {
        ipcd_client *c;
        uint32_t got;
};

static void *live_reader(void *arg)
{
        struct live *l = arg;

        for (uint32_t i = 0; i < FROZEN_N; i++) {
                uint32_t seq = expect_pub(l->c, "load", 1, "pub");

                CHECK_MSG(seq == i, "live subscriber: seq %u, expected %u", seq, i);
                l->got++;
        }
        return NULL;
}

struct frozen {
        ipcd_client *c;
        uint32_t read, firstseq, last;
        uint64_t missed;
        bool first;
};

/* One message of a frozen subscriber's stream: false for the end marker. */
static bool frozen_one(struct frozen *f, ipcd_msg *m)
{
        bool more = true;

        if (m->flags & IPCD_MSG_NOTICE) {
                CHECK_EQ(m->type, IPCD_NOTICE_DROPPED);
                CHECK_MSG(m->id > 0, "drop notice with count 0");
                CHECK_MSG(m->len > 0 && memmem(m->data, m->len, "missed", 6) != NULL,
                          "drop notice text: %.*s", (int)m->len, (const char *)m->data);
                f->missed += m->id;
        } else if (m->type == 2)
                more = false;
        else {
                uint32_t seq = ((const struct seqmsg *)m->data)->seq;

                CHECK_MSG(f->first || seq > f->last, "%s: seq %u after %u", ipcd_name(f->c), seq,
                          f->last);
                if (f->first)
                        f->firstseq = seq;
                f->first = false;
                f->last = seq;
                f->read++;
        }
        ipcd_msg_release(f->c, m);
        return more;
}

/* Read what a frozen subscriber has, until ipcd holds nothing for it. */
static void frozen_drain(struct frozen *f)
{
        for (uint64_t deadline = tl_now_ms() + 60000;;) {
                ipcd_msg m;
                int r = ipcd_recv(f->c, &m, 0, 0);

                if (r == 0) {
                        CHECK_MSG(frozen_one(f, &m), "end marker too early");
                        continue;
                }
                CHECK_MSG(r == -EAGAIN, "%s: %d (%s)", ipcd_name(f->c), r, tl_errname(r));
                {
                        struct tl_status st;
                        uint64_t queued;

                        tl_status(&st);
                        queued = tl_status_client(&st, ipcd_name(f->c))->queued;
                        tl_status_free(&st);
                        if (queued == 0)
                                return;
                }
                CHECK_MSG(tl_now_ms() < deadline, "%s: backlog not drained in 60 s",
                          ipcd_name(f->c));
                tl_sleep_ms(5);
        }
}

/* Then the end marker: a drop notice still owed comes before it. */
static void frozen_finish(struct frozen *f)
{
        for (;;) {
                ipcd_msg m;
                int r = ipcd_recv(f->c, &m, 0, 30000);

                CHECK_MSG(r == 0, "%s: waiting for the end marker: %d (%s)", ipcd_name(f->c), r,
                          tl_errname(r));
                if (!frozen_one(f, &m))
                        return;
        }
}

static void test_frozen(ipcd_client *p)
{
        struct frozen fnew = {.c = tl_connect("frozen-new"), .first = true},
                      fold = {.c = tl_connect("frozen-old"), .first = true};
        struct live live = {.c = tl_connect("live")};
        const struct wire_status_client *sc;
        struct tl_status st;
        uint64_t dropped_new, dropped_old;
        pthread_t t;

        /* (A batch larger than the backlog limit is dropped whole, under any
         * policy: drop-old gets room for the largest batch, 8 KiB.) */
        CHECK_R(ipcd_set_overflow(fnew.c, IPCD_OVERFLOW_DROP_NEW, 4096, IPCD_NOTIFY_DROPS), 0);
        CHECK_R(ipcd_set_overflow(fold.c, IPCD_OVERFLOW_DROP_OLD, 16384, IPCD_NOTIFY_DROPS), 0);
        CHECK_R(ipcd_subscribe(fnew.c, "load"), 0);
        CHECK_R(ipcd_subscribe(fold.c, "load"), 0);
        CHECK_R(ipcd_subscribe(live.c, "load"), 0);
        CHECK(pthread_create(&t, NULL, live_reader, &live) == 0);

        /* the publisher is never refused nor stuck: every publish returns */
        for (uint32_t i = 0; i < FROZEN_N; i++)
                pub(p, "load", 1, i, i % 500 == 0 ? 3 : -1);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK_EQ(live.got, FROZEN_N);

        tl_status(&st);
        sc = tl_status_client(&st, "frozen-new");
        CHECK(sc);
        dropped_new = sc->dropped;
        sc = tl_status_client(&st, "frozen-old");
        CHECK(sc);
        dropped_old = sc->dropped;
        CHECK_EQ(tl_status_client(&st, "live")->dropped, 0);
        tl_status_free(&st);
        CHECK_MSG(dropped_new > 0 && dropped_old > 0, "no drops: %llu %llu",
                  (unsigned long long)dropped_new, (unsigned long long)dropped_old);

        /* now they read: in order, gaps told by notices, nothing lost silently */
        frozen_drain(&fnew);
        frozen_drain(&fold);
        pub(p, "load", 2, FROZEN_N, 3);
        frozen_finish(&fnew);
        frozen_finish(&fold);
        CHECK_EQ(expect_pub(live.c, "load", 2, "pub"), FROZEN_N);
        tl_log("frozen drop-new: read %u, missed %llu; drop-old: read %u, missed %llu", fnew.read,
               (unsigned long long)fnew.missed, fold.read, (unsigned long long)fold.missed);
        CHECK_EQ(fnew.read + fnew.missed, FROZEN_N);
        CHECK_EQ(fold.read + fold.missed, FROZEN_N);
        CHECK_EQ(fnew.missed, dropped_new);
        CHECK_EQ(fold.missed, dropped_old);
        /* both kept the oldest (in the queue); drop-old also the newest
         * (drop-new may keep a late one that happened to fit) */
        CHECK_EQ(fnew.firstseq, 0);
        CHECK_EQ(fold.firstseq, 0);
        CHECK_EQ(fold.last, FROZEN_N - 1);

        ipcd_close(fnew.c);
        ipcd_close(fold.c);
        ipcd_close(live.c);
        tl_log("slow subscribers: ok");
}

/* ------------------------------------------------------------------ */

static void expect_monitor(ipcd_client *m, long type, const char *sender, const char *dst,
                           const void *data, size_t shown, uint64_t full)
{
        ipcd_msg g;
        int r = ipcd_recv(m, &g, 0, 30000);

        CHECK_MSG(r == 0, "monitor: %d (%s)", r, tl_errname(r));
        CHECK_MSG(g.flags & IPCD_MSG_MONITOR, "not flagged IPCD_MSG_MONITOR (flags %#x)",
                  g.flags);
        CHECK_EQ(g.type, type);
        CHECK_STREQ(g.sender, sender);
        CHECK_EQ(g.sender_pid, getpid());
        CHECK_STREQ(g.topic, dst);
        CHECK_EQ(g.len, shown);
        CHECK(memcmp(g.data, data, shown) == 0);
        CHECK_EQ(g.id, full);
        ipcd_msg_release(m, &g);
}

static void nobody_child(int result_fd)
{
        ipcd_client *c;
        int res[4];

        if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
                _exit(3);
        c = tl_connect(NULL);
        res[0] = ipcd_monitor(c, NULL);
        res[1] = ipcd_subscribe(c, "*");
        res[2] = ipcd_subscribe(c, "x/*");
        res[3] = ipcd_subscribe(c, "x/y/*");
        CHECK(write(result_fd, res, sizeof(res)) == (ssize_t)sizeof(res));
        ipcd_close(c);
        _exit(0);
}

static bool nobody_possible(void)
{
        FILE *f;
        unsigned a, b, n;
        bool mapped = false;

        if (geteuid() != 0)
                return false;
        f = fopen("/proc/self/uid_map", "re");
        while (f && fscanf(f, "%u %u %u", &a, &b, &n) == 3)
                if (a <= NOBODY && NOBODY < a + n)
                        mapped = true;
        if (f)
                fclose(f);
        return mapped;
}

static void test_monitor(ipcd_client *p)
{
        ipcd_client *mon = tl_connect("mon"), *mt = tl_connect("mon-t"), *dst = tl_connect("dst");
        char big[100];

        memset(big, 'b', sizeof(big));
        CHECK_R(ipcd_monitor(mon, NULL), 0);
        CHECK_R(ipcd_monitor(mt, "t/*"), 0);

        tl_send(p, "dst", 5, "hello", 5, IPCD_ACK);
        CHECK_R(ipcd_publish(p, "t/x", 6, big, sizeof(big), IPCD_ACK), 0);
        tl_expect(dst, 0, 5, "hello", 5, "pub");

        expect_monitor(mon, 5, "pub", "dst", "hello", 5, 5);
        expect_monitor(mon, 6, "pub", "t/x", big, WIRE_MONITOR_BYTES, sizeof(big));
        expect_monitor(mt, 6, "pub", "t/x", big, WIRE_MONITOR_BYTES, sizeof(big));
        /* a payload in the ring: its size only */
        {
                size_t n = ipcd_max_inline(p) + 1000;
                char *huge = calloc(1, n);
                ipcd_msg g;

                CHECK(huge);
                CHECK_R(ipcd_publish(p, "t/huge", 7, huge, n, IPCD_ACK), 0);
                free(huge);
                CHECK_OK(ipcd_recv(mt, &g, 0, 30000));
                CHECK_EQ(g.flags, IPCD_MSG_MONITOR | IPCD_MSG_BULK | IPCD_MSG_TOPIC);
                CHECK_EQ(g.type, 7);
                CHECK_STREQ(g.topic, "t/huge");
                CHECK_EQ(g.len, 0);
                CHECK_EQ(g.id, n);
                ipcd_msg_release(mt, &g);
                CHECK_OK(ipcd_recv(mon, &g, 0, 30000));
                CHECK_EQ(g.id, n);
                ipcd_msg_release(mon, &g);
        }
        tl_sync(mt);
        tl_expect_empty(mt); /* the send to "dst" is not under t/ */

        if (nobody_possible()) {
                int fds[2], res[4], status;
                pid_t pid;

                CHECK(pipe(fds) == 0);
                pid = fork();
                CHECK(pid >= 0);
                if (pid == 0) {
                        close(fds[0]);
                        nobody_child(fds[1]);
                }
                close(fds[1]);
                CHECK(read(fds[0], res, sizeof(res)) == (ssize_t)sizeof(res));
                close(fds[0]);
                CHECK(waitpid(pid, &status, 0) == pid);
                CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody child %#x",
                          status);
                CHECK_R(res[0], -EACCES);
                CHECK_R(res[1], -EACCES);
                CHECK_R(res[2], -EACCES);
                CHECK_R(res[3], 0);
                tl_log("monitor: unprivileged uid refused: ok");
        } else
                tl_log("monitor: cannot become nobody here: refusal not checked");

        ipcd_close(mon);
        ipcd_close(mt);
        ipcd_close(dst);
        tl_log("monitor: ok");
}

/* ------------------------------------------------------------------ */

/* ipcd restarts: what the clients asked for comes back. */
static void test_restart(ipcd_client *p)
{
        ipcd_client *s = tl_connect("resub"), *late;
        ipcd_msg m;
        int r, status;

        CHECK_R(ipcd_subscribe(s, "r/t"), 0);
        CHECK_R(ipcd_subscribe(s, "r/w/*"), 0);
        CHECK_R(ipcd_set_overflow(s, IPCD_OVERFLOW_DROP_OLD, 8192, 0), 0);
        CHECK_R(ipcd_set_history(p, "r/t", 3), 3);

        status = tl_ipcd_stop(ipcd_pid, SIGTERM);
        ipcd_pid = 0;
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ipcd exit %#x", status);
        ipcd_pid = tl_ipcd_start();

        /* the first call meets the loss, the next one reconnects (and
         * subscribes again before it goes on) */
        r = ipcd_recv(s, &m, 0, 0);
        CHECK_MSG(r == -ECONNRESET || r == -EAGAIN, "recv after restart: %d (%s)", r,
                  tl_errname(r));
        if (r == -ECONNRESET)
                CHECK_R(ipcd_recv(s, &m, 0, 0), -EAGAIN);
        r = ipcd_publish(p, "r/t", 1, "x", 1, IPCD_ACK);
        if (r == -ECONNRESET)
                r = ipcd_publish(p, "r/t", 1, "x", 1, IPCD_ACK);
        CHECK_R(r, 1);
        CHECK_R(ipcd_publish(p, "r/w/deep", 1, "y", 1, IPCD_ACK), 1);
        tl_expect(s, 0, 1, "x", 1, "pub");
        tl_expect(s, 0, 1, "y", 1, "pub");
        {
                struct tl_status st;

                tl_status(&st);
                CHECK_EQ(tl_status_client(&st, "resub")->subscriptions, 2);
                tl_status_free(&st);
        }
        /* the publisher's history depth came back with it */
        late = tl_connect("late-r");
        CHECK_R(ipcd_subscribe(late, "r/t"), 0);
        tl_expect(late, 0, 1, "x", 1, "pub");
        ipcd_close(late);
        ipcd_close(s);
        tl_log("restart: subscriptions and history restored: ok");
}

int main(int argc, char **argv)
{
        ipcd_client *p;
        int status;

        tl_init(argc, argv);
        ipcd_pid = tl_ipcd_start();
        p = tl_connect("pub");

        test_fanout(p);
        test_wildcards(p);
        test_death(p);
        test_history(p);
        test_frozen(p);
        test_monitor(p);
        test_restart(p);

        ipcd_close(p);
        status = tl_ipcd_stop(ipcd_pid, SIGTERM);
        ipcd_pid = 0;
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ipcd exit %#x", status);
        return 0;
}
