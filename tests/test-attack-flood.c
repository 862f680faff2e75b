/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-attack-flood - issue 10, finding 1 (blocker): one unprivileged
 * client freezes the daemon with operations that cost work under the
 * router lock.
 *
 * Setup, by a client of uid 65534: history depth 1 on N_TOPICS topics
 * a/b/N (nothing limits it per client today) and one message published to
 * each.  Then, for ATTACK_MS each, the attacker repeats one costly
 * operation as fast as ipcd answers it:
 *
 *   subscribe    SUBSCRIBE/UNSUBSCRIBE wildcard a/b/... pairs (the attack:
 *                each scans every topic and replays every history entry)
 *   subscribe_burst  the same pairs written by hand into the inbound queue,
 *                as many per message as fit and without waiting for the
 *                answers (which go unread), so one pass of ipcd's data
 *                thread meets hundreds of them
 *   set_history  ipcd_set_history on the topics in turn, depth 1 <-> 2
 *                (each re-allocates and copies that topic's history)
 *   status       STATUS requests, each read to its END (a snapshot of
 *                every topic)
 *   monitor      ipcd_monitor("*") (refused to uid 65534: -EACCES)
 *   lane_burst   LANE requests (beyond lanes_per_uid) and LANE_DROPs of every lane
 *                written by hand into the inbound queue, as many per
 *                message as fit, answers unread: the attacker is in the
 *                ring's group (test-attack-flood.sh gives the ring a group
 *                of its own, `users`, so the attacker stays unprivileged),
 *                so ipcd grants, refuses and takes back lanes all along
 *
 * Meanwhile a root client does IPCD_ACK round trips to itself and a root
 * process registers and closes anonymous clients, one after another.
 * ipcd runs with WATCHDOG_USEC and NOTIFY_SOCKET set to a datagram socket
 * this test reads, and every WATCHDOG=1 is timestamped.
 *
 * Must hold, for every variant: every round trip and every registration
 * of root succeeds, and no gap between two WATCHDOG=1 is longer than half
 * the watchdog interval (plus WATCHDOG_SLACK_MS, see below).  Round trip
 * and registration times are printed (worst and count) but not asserted.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define NOBODY 65534
#define N_TOPICS 16384 /* the issue used 65536: a quarter keeps the setup short */
#define ATTACK_MS 3000
#define WATCHDOG_MS 2000
/* ipcd feeds the watchdog every quarter interval (event.c) and its check
 * never waits for the router lock, so an idle ipcd shows gaps of
 * WATCHDOG_MS / 4 plus timer slack (the idle gap is printed for
 * comparison): the rule "no gap longer than half the interval"
 * holds as it stands, a quarter interval of margin left for a late timer
 * on a busy machine.  A freeze (the issue measured 3.4 s) is far beyond
 * it. */
#define WATCHDOG_SLACK_MS 0
#define RT_TYPE 7

static const char *const variants[] = { "subscribe", "subscribe_burst", "set_history", "status",
                                        "monitor", "lane_burst" };
#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

/* ---- the notify socket ---- */

struct wd {
        int fd;
        pthread_mutex_t lock;
        uint64_t last_ms, max_gap_ms;
        unsigned count;
};

static void *wd_thread(void *arg)
{
        struct wd *w = arg;
        char buf[4096];

        for (;;) {
                ssize_t n = recv(w->fd, buf, sizeof(buf) - 1, 0);
                uint64_t now = tl_now_ms();

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return NULL;
                }
                buf[n] = '\0';
                if (!strstr(buf, "WATCHDOG=1"))
                        continue;
                pthread_mutex_lock(&w->lock);
                if (w->last_ms && now - w->last_ms > w->max_gap_ms)
                        w->max_gap_ms = now - w->last_ms;
                w->last_ms = now;
                w->count++;
                pthread_mutex_unlock(&w->lock);
        }
}

/* Start a measurement window: forget gaps before now. */
static void wd_reset(struct wd *w)
{
        pthread_mutex_lock(&w->lock);
        w->max_gap_ms = 0;
        w->count = 0;
        pthread_mutex_unlock(&w->lock);
}

/* The longest gap of the window, counting the open one up to now. */
static uint64_t wd_max_gap(struct wd *w, unsigned *count)
{
        uint64_t g, now = tl_now_ms();

        pthread_mutex_lock(&w->lock);
        g = w->max_gap_ms;
        if (w->last_ms && now - w->last_ms > g)
                g = now - w->last_ms;
        *count = w->count;
        pthread_mutex_unlock(&w->lock);
        return g;
}

/* ---- the attacker (uid 65534) ---- */

static void topic_name(char *buf, size_t size, unsigned i)
{
        snprintf(buf, size, "a/b/%u", i);
}

/* One message full of SUBSCRIBE/UNSUBSCRIBE pairs on the raw client. */
static int subscribe_burst(const struct tl_raw *raw)
{
        static uint8_t buf[8000];
        static size_t len;
        uint64_t cookie = 1;
        int r;

        while (!len) {
                struct wire_in h;
                size_t off = 0;

                for (;;) {
                        tl_raw_header(raw, &h, (cookie & 1) ? WIRE_OP_SUBSCRIBE : WIRE_OP_UNSUBSCRIBE,
                                      "a/b/*");
                        h.cookie = cookie;
                        if (wire_in_put(buf, sizeof(buf), &off, &h, "a/b/*", NULL) < 0)
                                break;
                        cookie++;
                }
                len = off;
        }
        r = tl_msgsnd(raw->reg.inbound_qid, WIRE_MTYPE_IN, buf, len);
        if (r == -EAGAIN) {
                tl_sleep_ms(1); /* the inbound queue is full: ipcd is busy with us */
                r = 0;
        }
        return r;
}

/* One message full of LANE requests and LANE_DROPs of every lane of the
 * first ring, on the raw client: in turn LANE_ASKS requests (the first for
 * a lane, the others for a spare one: more than lanes_per_uid, so some
 * are refused) and a drop of every lane (ipcd ignores those of others). */
#define LANE_ASKS 6
static int lane_burst(const struct tl_raw *raw, uint32_t nlanes)
{
        static uint8_t buf[8000];
        static size_t len;
        uint64_t cookie = 1;
        int r;

        while (!len) {
                struct wire_in h;
                size_t off = 0;

                for (uint32_t k = 0;; k++) {
                        uint32_t step = k % (nlanes + LANE_ASKS);
                        bool ask = step < LANE_ASKS;

                        tl_raw_header(raw, &h, ask ? WIRE_OP_LANE : WIRE_OP_LANE_DROP, NULL);
                        h.cookie = cookie;
                        /* LANE: 1 = a spare one; LANE_DROP: ring 0 << 32 | lane */
                        h.arg = ask ? step > 0 : (uint64_t)(step - LANE_ASKS);
                        if (wire_in_put(buf, sizeof(buf), &off, &h, NULL, NULL) < 0)
                                break;
                        cookie++;
                }
                len = off;
        }
        r = tl_msgsnd(raw->reg.inbound_qid, WIRE_MTYPE_IN, buf, len);
        if (r == -EAGAIN) {
                tl_sleep_ms(1); /* the inbound queue is full: ipcd is busy with us */
                r = 0;
        }
        return r;
}

static struct tl_raw attacker_raw;
/* The first ring's group (0: root's, which would make the attacker
 * privileged: then lane_burst is skipped) and its lanes. */
static gid_t ring_gid;
static uint32_t ring_lanes;

static unsigned attack(ipcd_client *c, const char *variant, int *last_err)
{
        uint64_t end = tl_now_ms() + ATTACK_MS;
        unsigned ops = 0, i = 0;
        char t[32];
        int r = 0;

        while (tl_now_ms() < end) {
                if (strcmp(variant, "subscribe") == 0) {
                        r = ipcd_subscribe(c, "a/b/*");
                        if (r == 0)
                                r = ipcd_unsubscribe(c, "a/b/*");
                } else if (strcmp(variant, "subscribe_burst") == 0) {
                        r = subscribe_burst(&attacker_raw);
                } else if (strcmp(variant, "set_history") == 0) {
                        topic_name(t, sizeof(t), i % N_TOPICS);
                        r = ipcd_set_history(c, t, (i / N_TOPICS) % 2 ? 1 : 2);
                        i++;
                } else if (strcmp(variant, "lane_burst") == 0) {
                        r = lane_burst(&attacker_raw, ring_lanes);
                } else if (strcmp(variant, "status") == 0) {
                        struct tl_status st;

                        r = tl_status_get(&st, 5000);
                        if (r == 0)
                                tl_status_free(&st);
                } else {
                        r = ipcd_monitor(c, "*");
                        if (r == -EACCES)
                                r = 0;
                }
                if (r < 0)
                        *last_err = r;
                ops++;
        }
        return ops;
}

static _Noreturn void attacker(int out_fd, int in_fd)
{
        ipcd_client *c;
        uint64_t t0;
        char t[32], cmd, buf[128];
        int r;

        if (ring_gid)
                tl_become(NOBODY, &ring_gid, 1);
        else
                tl_become(NOBODY, NULL, 0);
        c = tl_connect("flooder");
        t0 = tl_now_ms();
        for (unsigned i = 0; i < N_TOPICS; i++) {
                topic_name(t, sizeof(t), i);
                r = ipcd_set_history(c, t, 1);
                CHECK_MSG(r >= 0, "set_history %s: %s", t, tl_errname(r)); /* the depth in effect */
        }
        for (unsigned i = 0; i < N_TOPICS; i++) {
                topic_name(t, sizeof(t), i);
                r = ipcd_publish(c, t, 1, "h", 1, 0);
                CHECK_MSG(r == 0, "publish %s: %s", t, tl_errname(r));
        }
        tl_sync(c);
        r = tl_raw_register(&attacker_raw, "flooder-raw", 0, 30000);
        CHECK_MSG(r == 0, "raw registration: %s", tl_errname(r));
        snprintf(buf, sizeof(buf), "setup of %u topics took %llu ms\n", N_TOPICS,
                 (unsigned long long)(tl_now_ms() - t0));
        CHECK(write(out_fd, buf, strlen(buf)) == (ssize_t)strlen(buf));

        while (read(in_fd, &cmd, 1) == 1) {
                int err = 0;
                unsigned ops;

                CHECK(cmd >= 0 && (size_t)cmd < N_VARIANTS);
                ops = attack(c, variants[(int)cmd], &err);
                snprintf(buf, sizeof(buf), "%u %d\n", ops, err);
                CHECK(write(out_fd, buf, strlen(buf)) == (ssize_t)strlen(buf));
        }
        tl_raw_close(&attacker_raw);
        ipcd_close(c);
        _exit(0);
}

/* ---- the victim (root) ---- */

struct victim {
        unsigned rt_ok, rt_failed, reg_ok, reg_failed;
        uint64_t rt_worst_ms, reg_worst_ms;
        int rt_err, reg_err;
};

static void victim_round(ipcd_client *rt, struct victim *v, bool *reg_turn)
{
        uint64_t t0 = tl_now_ms(), dt;
        int r;

        if (*reg_turn) {
                ipcd_client *c = NULL;

                r = ipcd_connect(NULL, &c);
                dt = tl_now_ms() - t0;
                if (r == 0) {
                        v->reg_ok++;
                        ipcd_close(c);
                } else {
                        v->reg_failed++;
                        v->reg_err = r;
                }
                if (dt > v->reg_worst_ms)
                        v->reg_worst_ms = dt;
        } else {
                ipcd_msg m;

                r = ipcd_send(rt, "flood-rt", RT_TYPE, "rt", 2, IPCD_ACK);
                if (r == 0) {
                        r = ipcd_recv(rt, &m, RT_TYPE, 30000);
                        if (r >= 0)
                                ipcd_msg_release(rt, &m);
                }
                dt = tl_now_ms() - t0;
                if (r >= 0) {
                        v->rt_ok++;
                } else {
                        v->rt_failed++;
                        v->rt_err = r;
                }
                if (dt > v->rt_worst_ms)
                        v->rt_worst_ms = dt;
        }
        *reg_turn = !*reg_turn;
        /* registrations stay under root's registration_rate */
        tl_sleep_ms(*reg_turn ? 5 : 20);
}

int main(int argc, char **argv)
{
        struct wd w = { .lock = PTHREAD_MUTEX_INITIALIZER };
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *tmp = getenv("IPCD_TEST_TMP");
        int to_parent[2], to_child[2], status;
        bool failed = false;
        char env[64], buf[256];
        ipcd_client *rt;
        pthread_t th;
        pid_t ipcd, pid;
        FILE *from_child;
        uint64_t idle_gap;
        unsigned n;

        tl_init(argc, argv);
        tl_require_uids(NOBODY, 1);
        CHECK_MSG(tmp && *tmp, "$IPCD_TEST_TMP is not set");

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", tmp);
        w.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        CHECK(w.fd >= 0);
        CHECK_MSG(bind(w.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s: %s",
                  sa.sun_path, strerror(errno));
        CHECK(pthread_create(&th, NULL, wd_thread, &w) == 0);
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        snprintf(env, sizeof(env), "%llu", (unsigned long long)WATCHDOG_MS * 1000);
        setenv("WATCHDOG_USEC", env, 1);
        ipcd = tl_ipcd_start();
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");

        {
                struct tl_status st;

                tl_status(&st);
                if (st.n_rings > 0) {
                        ring_gid = st.rings[0].gid;
                        ring_lanes = st.rings[0].lanes;
                }
                tl_status_free(&st);
        }
        rt = tl_connect("flood-rt");
        CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(to_parent[0]);
                close(to_child[1]);
                attacker(to_parent[1], to_child[0]);
        }
        close(to_parent[1]);
        close(to_child[0]);
        from_child = fdopen(to_parent[0], "r");
        CHECK(from_child);
        CHECK_MSG(fgets(buf, sizeof(buf), from_child), "the attacker died during setup");
        printf("%s", buf);

        /* the idle baseline */
        wd_reset(&w);
        tl_sleep_ms(WATCHDOG_MS * 2);
        idle_gap = wd_max_gap(&w, &n);
        printf("idle: watchdog longest gap %llu ms (%u WATCHDOG=1), interval %d ms\n",
               (unsigned long long)idle_gap, n, WATCHDOG_MS);
        CHECK_MSG(n > 0, "ipcd sends no WATCHDOG=1 at all (NOTIFY_SOCKET, WATCHDOG_USEC)");

        for (size_t k = 0; k < N_VARIANTS; k++) {
                struct victim v = { 0 };
                struct pollfd p = { .fd = to_parent[0], .events = POLLIN };
                char cmd = (char)k;
                bool reg_turn = false;
                unsigned ops = 0, wds;
                int err = 0;
                bool lanes = strcmp(variants[k], "lane_burst") == 0;
                uint64_t gap, limit_hits = 0;
                struct tl_status st;

                if (lanes && (!ring_gid || !ring_lanes)) {
                        printf("%s flood: SKIP (no ring with a group of its own)\n", variants[k]);
                        continue;
                }
                if (lanes) {
                        tl_status(&st);
                        limit_hits = st.daemon.limit_hits;
                        tl_status_free(&st);
                }
                wd_reset(&w);
                CHECK(write(to_child[1], &cmd, 1) == 1);
                while (poll(&p, 1, 0) == 0)
                        victim_round(rt, &v, &reg_turn);
                gap = wd_max_gap(&w, &wds);
                CHECK_MSG(fgets(buf, sizeof(buf), from_child) &&
                                  sscanf(buf, "%u %d", &ops, &err) == 2,
                          "the attacker died during %s", variants[k]);
                printf("%s flood (%u ops by uid %d, last error %s): root round trips %u ok "
                       "%u failed (%s) worst %llu ms; registrations %u ok %u failed (%s) worst "
                       "%llu ms; watchdog longest gap %llu ms (%u WATCHDOG=1)\n",
                       variants[k], ops, NOBODY, tl_errname(err), v.rt_ok, v.rt_failed,
                       tl_errname(v.rt_err), (unsigned long long)v.rt_worst_ms, v.reg_ok,
                       v.reg_failed, tl_errname(v.reg_err), (unsigned long long)v.reg_worst_ms,
                       (unsigned long long)gap, wds);
                if (lanes) {
                        tl_status(&st);
                        printf("%s flood: %llu requests refused by a limit (lanes_per_uid), "
                               "%u of %u lanes in use after it\n",
                               variants[k], (unsigned long long)(st.daemon.limit_hits - limit_hits),
                               st.rings[0].lanes_used, st.rings[0].lanes);
                        tl_status_free(&st);
                }
                if (v.rt_failed || v.reg_failed || v.rt_ok == 0 || v.reg_ok == 0) {
                        tl_log("FAIL: %s flood: root's round trips or registrations failed",
                               variants[k]);
                        failed = true;
                }
                if (gap > WATCHDOG_MS / 2 + WATCHDOG_SLACK_MS) {
                        tl_log("FAIL: %s flood: watchdog gap %llu ms > %d ms (half the "
                               "interval %d ms + %d ms slack)",
                               variants[k], (unsigned long long)gap,
                               WATCHDOG_MS / 2 + WATCHDOG_SLACK_MS, WATCHDOG_MS / 2,
                               WATCHDOG_SLACK_MS);
                        failed = true;
                }
        }

        close(to_child[1]);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attacker failed (%#x)",
                  status);
        fclose(from_child);
        ipcd_close(rt);
        status = tl_ipcd_stop(ipcd, SIGTERM);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_MSG(!failed, "the flood froze ipcd for another uid (see above)");
        return 0;
}
