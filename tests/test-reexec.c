/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-reexec - ipcd re-executes itself (`ipcdctl reexec`, SIGUSR2) and its
 * clients notice nothing (test-reexec.sh runs each mode against one ipcd).
 *
 *   identity  ids, names, subscriptions, a history, messages waiting in a
 *             client queue and in ipcd's backlog stay; `ipcdctl status`
 *             before and after agree on clients, names, subscriptions and
 *             counters; publishes after it reach both subscribers.
 *   stream    a sender streams inline messages (IPCD_MORE batches of 8) and
 *             1 MiB bulk payloads to a receiver and publishes to two
 *             reliable subscribers while ipcd re-executes three times:
 *             every send is accepted, every message arrives exactly once,
 *             in order; nothing is dropped.  Prints the longest gap the
 *             receiver saw (a figure, not a check).
 *   call      a call pending at the callee across a re-exec gets its
 *             reply; a client blocked in ipcd_recv(-1) across it gets the
 *             message sent after it.
 *   channel   a direct channel streams messages while ipcd re-executes
 *             twice: every message arrives once, in order, with the
 *             opener's identity; `ipcdctl status` lists the channel after
 *             each re-exec (same id, segment, ends) with its counters,
 *             which match what was sent and read in the end; the death of
 *             the receiver then closes it (-ECONNRESET to the sender) and
 *             its segment goes.  Prints the longest gap the receiver saw
 *             (a figure, not a check).
 *   corrupt   (ipcd hands over a bad state: IPCD_TEST_REEXEC_STATE) ipcd
 *             starts afresh and the client registers again by itself: a
 *             message to its own name arrives.
 */
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define BULK_LEN (1 << 20)

static unsigned stream_n(void)
{
        const char *s = getenv("IPCD_TEST_REEXEC_N");

        return s && atoi(s) > 0 ? (unsigned)atoi(s) : 100000;
}

/* Re-execute ipcd: `ipcdctl reexec` (waits for the new image), or
 * SIGUSR2 to pid. */
static void reexec(bool by_signal)
{
        char cmd[4096];
        char *out;
        int st;

        if (by_signal) {
                struct tl_status s;

                tl_status(&s);
                CHECK(kill(s.daemon.pid, SIGUSR2) == 0);
                tl_status_free(&s);
                return;
        }
        snprintf(cmd, sizeof(cmd), "'%s' --runtime-dir '%s' reexec", getenv("IPCDCTL"),
                 tl_rundir());
        out = tl_capture(cmd, &st);
        CHECK_MSG(out && st == 0 && strstr(out, "re-executed"), "ipcdctl reexec: status %d: %s",
                  st, out ? out : "");
        tl_log("%s", out);
        free(out);
}

static void wait_ok(pid_t pid, const char *what)
{
        int st;

        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %#x", what, st);
}

/* Status records that must not change across a re-exec. */
static void same_status(const struct tl_status *a, const struct tl_status *b)
{
        CHECK_EQ(a->daemon.pid, b->daemon.pid);
        CHECK_EQ(a->daemon.nclients, b->daemon.nclients);
        CHECK_EQ(a->daemon.accepted, b->daemon.accepted);
        CHECK_EQ(a->daemon.routed, b->daemon.routed);
        CHECK_EQ(a->daemon.dropped, b->daemon.dropped);
        CHECK_EQ(a->daemon.registrations, b->daemon.registrations);
        CHECK_EQ(a->daemon.published, b->daemon.published);
        CHECK_EQ(a->daemon.ntopics, b->daemon.ntopics);
        CHECK_EQ(a->daemon.backlog_bytes, b->daemon.backlog_bytes);
        CHECK_EQ(a->n_clients, b->n_clients);
        for (size_t i = 0; i < a->n_clients; i++) {
                const struct wire_status_client *x = &a->clients[i];
                const struct wire_status_client *y = tl_status_client_id(b, x->id);

                CHECK_MSG(y, "client %llu gone", (unsigned long long)x->id);
                CHECK_STREQ(x->name, y->name);
                CHECK(x->uid == y->uid && x->pid == y->pid && x->qid == y->qid);
                CHECK(x->inbound_qid == y->inbound_qid);
                CHECK_EQ(x->queued, y->queued);
                CHECK_EQ(x->sent, y->sent);
                CHECK_EQ(x->received, y->received);
                CHECK_EQ(x->backlog_bytes, y->backlog_bytes);
                CHECK_EQ(x->subscriptions, y->subscriptions);
                CHECK_EQ(x->reliable_subs, y->reliable_subs);
        }
}

static void mode_identity(void)
{
        ipcd_client *a = tl_connect("id-a"), *b = tl_connect("id-b"), *s = tl_connect("id-s");
        uint64_t ida = ipcd_id(a), idb = ipcd_id(b);
        struct tl_status st1, st2;
        char buf[1000];
        ipcd_client *late;

        CHECK_OK(ipcd_subscribe(a, "news/*"));
        CHECK_OK(ipcd_subscribe_flags(b, "news/sport", IPCD_SUB_RELIABLE));
        CHECK_OK(ipcd_set_history(b, "news/sport", 4));
        CHECK_OK(ipcd_publish(s, "news/sport", 1, "h1", 2, 0));
        tl_expect(a, 0, 1, "h1", 2, "id-s");
        tl_expect(b, 0, 1, "h1", 2, "id-s");
        /* 40 KiB for a: more than its queue takes (the rest waits in ipcd). */
        for (int i = 0; i < 40; i++) {
                memset(buf, 'a' + i % 26, sizeof(buf));
                tl_send(s, "id-a", 2, buf, sizeof(buf), i == 39 ? IPCD_ACK : 0);
        }
        tl_status(&st1);
        CHECK(tl_status_client(&st1, "id-a")->backlog_bytes > 0);
        reexec(false);
        tl_status(&st2);
        same_status(&st1, &st2);
        tl_status_free(&st1);
        tl_status_free(&st2);
        CHECK_EQ(ipcd_id(a), ida);
        CHECK_EQ(ipcd_id(b), idb);
        for (int i = 0; i < 40; i++) {
                memset(buf, 'a' + i % 26, sizeof(buf));
                tl_expect(a, 2, 2, buf, sizeof(buf), "id-s");
        }
        /* Subscriptions and history came along. */
        CHECK_OK(ipcd_publish(s, "news/sport", 1, "h2", 2, IPCD_ACK));
        tl_expect(a, 0, 1, "h2", 2, "id-s");
        tl_expect(b, 0, 1, "h2", 2, "id-s");
        late = tl_connect("id-late");
        CHECK_OK(ipcd_subscribe(late, "news/sport"));
        tl_expect(late, 0, 1, "h1", 2, "id-s");
        tl_expect(late, 0, 1, "h2", 2, "id-s");
        tl_expect_empty(a);
        tl_expect_empty(b);
        ipcd_close(late);
        ipcd_close(a);
        ipcd_close(b);
        ipcd_close(s);
        tl_wait_clients(0);
}

/* ---- stream ---- */

struct rec {
        uint64_t seq;
        char fill[56];
};

static void bulk_fill(uint8_t *p, uint64_t seq)
{
        memcpy(p, &seq, sizeof(seq));
        for (size_t off = 4096; off < BULK_LEN; off += 4096)
                p[off] = (uint8_t)(seq + off / 4096);
}

static bool bulk_ok(const uint8_t *p, size_t len, uint64_t seq)
{
        uint64_t got;

        if (len != BULK_LEN)
                return false;
        memcpy(&got, p, sizeof(got));
        if (got != seq)
                return false;
        for (size_t off = 4096; off < BULK_LEN; off += 4096)
                if (p[off] != (uint8_t)(seq + off / 4096))
                        return false;
        return true;
}

/* A receiver of n messages (or of topic publishes, every 10th seq), in
 * order; type 9 ends it.  Prints the longest gap between two. */
static _Noreturn void stream_receiver(const char *name, const char *topic, int ready)
{
        ipcd_client *c = tl_connect(name);
        uint64_t want = 0, last = 0, gap = 0;
        unsigned bulks = 0;
        ipcd_msg m;

        if (topic)
                CHECK_OK(ipcd_subscribe_flags(c, topic, IPCD_SUB_RELIABLE));
        CHECK(write(ready, "r", 1) == 1);
        for (;;) {
                uint64_t seq, now;
                int r = tl_recv(c, &m, 0, -1);

                CHECK_MSG(r >= 0, "%s: ipcd_recv: %s", name, tl_errname(r));
                now = tl_now_ms();
                if (last && now - last > gap)
                        gap = now - last;
                last = now;
                if (m.type == 9) {
                        ipcd_msg_release(c, &m);
                        break;
                }
                CHECK(m.len >= sizeof(seq));
                memcpy(&seq, m.data, sizeof(seq));
                CHECK_MSG(seq == want, "%s: message %llu where %llu was due", name,
                          (unsigned long long)seq, (unsigned long long)want);
                if (m.flags & IPCD_MSG_BULK) {
                        CHECK_MSG(bulk_ok(m.data, m.len, seq), "%s: bulk %llu differs", name,
                                  (unsigned long long)seq);
                        bulks++;
                }
                ipcd_msg_release(c, &m);
                want += topic ? 10 : 1;
        }
        tl_log("%s: %llu messages (%u bulk) in order; longest gap %llu ms", name,
               (unsigned long long)(topic ? want / 10 : want), bulks, (unsigned long long)gap);
        ipcd_close(c);
        _exit(0); /* a failed CHECK exits 1 */
}

static void stream_one(ipcd_client *c, uint64_t i)
{
        struct rec r = { .seq = i };

        if (i % 500 == 499) {
                void *buf;

                CHECK_OK(ipcd_buf_alloc(c, BULK_LEN, 0, &buf));
                bulk_fill(buf, i);
                CHECK_OK(ipcd_send_buf(c, "st-r", 1, buf, BULK_LEN, 0));
        } else {
                memset(r.fill, (int)(i & 0x7f), sizeof(r.fill));
                CHECK_OK(ipcd_send(c, "st-r", 1, &r, sizeof(r), i % 8 != 7 ? IPCD_MORE : 0));
        }
        if (i % 10 == 0)
                CHECK_OK(ipcd_publish(c, "st/topic", 1, &i, sizeof(i), 0));
}

/* Streams n; writes a byte to progress at 20%, 50% and 80%. */
static _Noreturn void stream_sender(unsigned n, int progress)
{
        ipcd_client *c = tl_connect("st-x");

        for (uint64_t i = 0; i < n; i++) {
                if (i == n / 5 || i == n / 2 || i == n * 4 / 5)
                        CHECK(write(progress, "p", 1) == 1);
                stream_one(c, i);
        }
        CHECK_OK(ipcd_send(c, "st-r", 9, "end", 3, IPCD_ACK));
        CHECK_OK(ipcd_publish(c, "st/topic", 9, "end", 3, IPCD_ACK));
        ipcd_close(c);
        _exit(0); /* a failed CHECK exits 1 */
}

static pid_t spawn_receiver(const char *name, const char *topic)
{
        int p[2];
        pid_t pid;
        char x;

        CHECK(pipe(p) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                stream_receiver(name, topic, p[1]);
        }
        close(p[1]);
        CHECK(read(p[0], &x, 1) == 1);
        close(p[0]);
        return pid;
}

static void mode_stream(void)
{
        unsigned n = stream_n();
        pid_t rx = spawn_receiver("st-r", NULL);
        pid_t s1 = spawn_receiver("st-s1", "st/topic");
        pid_t s2 = spawn_receiver("st-s2", "st/*");
        pid_t tx;
        struct tl_status st;
        int p[2];
        char x;

        CHECK(pipe(p) == 0);
        tx = fork();
        CHECK(tx >= 0);
        if (tx == 0) {
                close(p[0]);
                stream_sender(n, p[1]);
        }
        close(p[1]);
        for (int k = 0; k < 3; k++) {
                CHECK(read(p[0], &x, 1) == 1);
                reexec(k == 1);
        }
        close(p[0]);
        wait_ok(tx, "sender");
        wait_ok(rx, "receiver");
        wait_ok(s1, "subscriber 1");
        wait_ok(s2, "subscriber 2");
        tl_status(&st);
        CHECK_EQ(st.daemon.dropped, 0);
        tl_status_free(&st);
        tl_wait_clients(0);
}

/* ---- call ---- */

static void mode_call(void)
{
        int got[2], go[2];
        pid_t callee, caller, blocked;
        int rdy[2];
        char x;

        CHECK(pipe(got) == 0 && pipe(go) == 0 && pipe(rdy) == 0);
        callee = fork();
        CHECK(callee >= 0);
        if (callee == 0) {
                ipcd_client *c = tl_connect("cl-e");
                ipcd_msg m;

                CHECK(write(rdy[1], "e", 1) == 1);
                CHECK(tl_recv(c, &m, 0, -1) >= 0);
                CHECK(m.len == 4 && memcmp(m.data, "ping", 4) == 0);
                CHECK(write(got[1], "g", 1) == 1);
                CHECK(read(go[0], &x, 1) == 1); /* ipcd re-executed meanwhile */
                CHECK_OK(ipcd_reply(c, &m, 2, "pong", 4));
                ipcd_msg_release(c, &m);
                ipcd_close(c);
                _exit(0); /* a failed CHECK exits 1 */
        }
        CHECK(read(rdy[0], &x, 1) == 1);
        blocked = fork();
        CHECK(blocked >= 0);
        if (blocked == 0) {
                ipcd_client *c = tl_connect("cl-r");

                CHECK(write(rdy[1], "r", 1) == 1);
                tl_expect(c, 0, 3, "after", 5, NULL);
                ipcd_close(c);
                _exit(0); /* a failed CHECK exits 1 */
        }
        CHECK(read(rdy[0], &x, 1) == 1);
        caller = fork();
        CHECK(caller >= 0);
        if (caller == 0) {
                ipcd_client *c = tl_connect("cl-c");
                ipcd_msg reply;

                CHECK_R(ipcd_call(c, "cl-e", 1, "ping", 4, &reply, 60000), 0);
                CHECK(reply.len == 4 && memcmp(reply.data, "pong", 4) == 0);
                ipcd_msg_release(c, &reply);
                ipcd_close(c);
                _exit(0); /* a failed CHECK exits 1 */
        }
        CHECK(read(got[0], &x, 1) == 1);
        {
                struct tl_status st;

                reexec(false);
                tl_status(&st);
                CHECK_EQ(tl_status_client(&st, "cl-e")->pending_calls, 1);
                tl_status_free(&st);
        }
        CHECK(write(go[1], "g", 1) == 1);
        wait_ok(caller, "caller");
        wait_ok(callee, "callee");
        {
                ipcd_client *s = tl_connect(NULL);

                tl_send(s, "cl-r", 3, "after", 5, IPCD_ACK);
                ipcd_close(s);
        }
        wait_ok(blocked, "blocked receiver");
        tl_wait_clients(0);
}

/* ---- channel ---- */

static size_t chan_len(uint64_t i)
{
        return sizeof(i) + i % 200;
}

/* Accepts the offer, says so on ready, reads until the terminator (type
 * 2, carrying the count sent), checking each message; writes the count
 * read on ready, then dies (no close) when told on quit. */
static _Noreturn void chan_receiver(int ready, int quit)
{
        ipcd_client *c = tl_connect("ch-rx");
        uint8_t want[sizeof(uint64_t) + 200];
        ipcd_channel *ch;
        uint64_t n = 0, told, last = 0, gap = 0;
        ipcd_msg m;
        char x;

        CHECK(write(ready, "r", 1) == 1);
        CHECK_OK(ipcd_recv(c, &m, 0, 10000));
        CHECK(m.type == IPCD_NOTICE_CHANNEL && strcmp(m.sender, "ch-tx") == 0);
        CHECK_OK(ipcd_channel_accept(c, &m, &ch));
        ipcd_msg_release(c, &m);
        CHECK(write(ready, "a", 1) == 1);
        for (;;) {
                int r = ipcd_channel_recv(ch, &m, 30000);

                CHECK_MSG(r == 0, "channel receive: %s", tl_errname(r));
                if (last && tl_now_ms() - last > gap)
                        gap = tl_now_ms() - last;
                last = tl_now_ms();
                CHECK(strcmp(m.sender, "ch-tx") == 0 && m.flags == IPCD_MSG_CHANNEL);
                if (m.type == 2)
                        break;
                CHECK_EQ(m.type, 1);
                CHECK_MSG(m.len == chan_len(n), "message %llu: %zu bytes",
                          (unsigned long long)n, m.len);
                memcpy(want, &n, sizeof(n));
                memset(want + sizeof(n), (int)(n & 0xff), m.len - sizeof(n));
                CHECK_MSG(memcmp(m.data, want, m.len) == 0, "message %llu where %llu was due",
                          (unsigned long long)*(const uint64_t *)m.data, (unsigned long long)n);
                n++;
        }
        CHECK(m.len == sizeof(told));
        memcpy(&told, m.data, sizeof(told));
        CHECK_EQ(told, n);
        tl_log("ch-rx: %llu messages in order; longest gap %llu ms", (unsigned long long)n,
               (unsigned long long)gap);
        /* An empty ring publishes the counter ipcd shows. */
        CHECK_R(ipcd_channel_recv(ch, &m, 0), -EAGAIN);
        CHECK(write(ready, &n, sizeof(n)) == sizeof(n));
        CHECK(read(quit, &x, 1) == 1);
        _exit(0); /* a death: no close */
}

/* Opens the channel, streams until told on stop (a byte after the first
 * 1000 on progress), sends the terminator, writes the count on progress;
 * then waits for the receiver's death. */
static _Noreturn void chan_sender(int progress, int stop)
{
        ipcd_client *c = tl_connect("ch-tx");
        uint8_t buf[sizeof(uint64_t) + 200];
        struct pollfd pf = { .fd = stop, .events = POLLIN };
        ipcd_channel *ch;
        ipcd_msg m;
        uint64_t i;

        CHECK_OK(ipcd_channel_open(c, "ch-rx", 0, &ch));
        for (i = 0;; i++) {
                if (i == 1000)
                        CHECK(write(progress, "p", 1) == 1);
                if (i % 256 == 255) {
                        if (poll(&pf, 1, 0) == 1)
                                break;
                        tl_sleep_ms(1); /* a stream, not a flood: the receiver checks each */
                }
                memcpy(buf, &i, sizeof(i));
                memset(buf + sizeof(i), (int)(i & 0xff), chan_len(i) - sizeof(i));
                CHECK_OK(ipcd_channel_send(ch, 1, buf, chan_len(i), 0));
        }
        CHECK_OK(ipcd_channel_send(ch, 2, &i, sizeof(i), 0));
        CHECK(write(progress, &i, sizeof(i)) == sizeof(i));
        CHECK_R(ipcd_channel_recv(ch, &m, -1), -ECONNRESET);
        CHECK_R(ipcd_channel_send(ch, 1, buf, 8, 0), -ECONNRESET);
        ipcd_channel_close(ch);
        ipcd_close(c);
        _exit(0); /* a failed CHECK exits 1 */
}

/* The one channel ipcd lists: the same as *was (if set), its counters
 * not below. */
static void chan_listed(struct wire_status_channel *was)
{
        struct tl_status st;
        struct wire_status_channel *ch;

        tl_status(&st);
        CHECK_EQ(st.n_channels, 1);
        ch = &st.channels[0];
        CHECK(ch->state == 1);
        CHECK(ch->opener_id == tl_status_client(&st, "ch-tx")->id);
        CHECK(ch->acceptor_id == tl_status_client(&st, "ch-rx")->id);
        if (was->id) {
                CHECK(ch->id == was->id && ch->shmid == was->shmid);
                CHECK(ch->opener_id == was->opener_id && ch->acceptor_id == was->acceptor_id);
                CHECK(ch->dir_bytes == was->dir_bytes);
                CHECK(ch->sent[0] >= was->sent[0] && ch->received[0] >= was->received[0]);
        }
        tl_log("channel %llu (segment %d): sent %llu, received %llu",
               (unsigned long long)ch->id, ch->shmid, (unsigned long long)ch->sent[0],
               (unsigned long long)ch->received[0]);
        *was = *ch;
        tl_status_free(&st);
}

static void mode_channel(void)
{
        unsigned shm_base = tl_sysv_count("shm");
        struct wire_status_channel was = { 0 };
        int rdy[2], quit[2], prog[2], stop[2];
        uint64_t sent, got;
        pid_t rx, tx;
        char x;

        CHECK(pipe(rdy) == 0 && pipe(quit) == 0 && pipe(prog) == 0 && pipe(stop) == 0);
        /* The ends stream to each other without ipcd: they must not
         * outlive a failed test. */
        rx = fork();
        CHECK(rx >= 0);
        if (rx == 0) {
                CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() != 1);
                close(rdy[0]);
                close(quit[1]);
                close(stop[1]);
                chan_receiver(rdy[1], quit[0]);
        }
        CHECK(read(rdy[0], &x, 1) == 1);
        tx = fork();
        CHECK(tx >= 0);
        if (tx == 0) {
                CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() != 1);
                close(rdy[0]);
                close(quit[1]);
                close(stop[1]);
                close(prog[0]);
                chan_sender(prog[1], stop[0]);
        }
        CHECK(read(rdy[0], &x, 1) == 1 && x == 'a');
        CHECK(read(prog[0], &x, 1) == 1);
        CHECK_EQ(tl_sysv_count("shm"), shm_base + 1);
        chan_listed(&was);
        for (int k = 0; k < 2; k++) {
                reexec(false);
                chan_listed(&was);
        }
        CHECK(write(stop[1], "s", 1) == 1);
        CHECK(read(prog[0], &sent, sizeof(sent)) == sizeof(sent));
        CHECK(read(rdy[0], &got, sizeof(got)) == sizeof(got));
        tl_log("channel: %llu messages sent, %llu received in order across 2 re-execs",
               (unsigned long long)sent, (unsigned long long)got);
        CHECK_EQ(got, sent);
        chan_listed(&was);
        CHECK(was.sent[0] == sent + 1 && was.received[0] == sent + 1);
        /* The receiver dies: the channel closes, its segment goes. */
        CHECK(write(quit[1], "q", 1) == 1);
        wait_ok(rx, "channel receiver");
        wait_ok(tx, "channel sender");
        tl_wait_clients(0);
        for (int i = 0; i < 1000 && tl_sysv_count("shm") != shm_base; i++)
                tl_sleep_ms(10);
        CHECK_EQ(tl_sysv_count("shm"), shm_base);
        {
                struct tl_status st;

                tl_status(&st);
                CHECK_EQ(st.n_channels, 0);
                tl_status_free(&st);
        }
}

/* ---- corrupt ---- */

static void mode_corrupt(void)
{
        ipcd_client *c = tl_connect("cr-a");
        uint64_t deadline;
        int r;

        tl_send(c, "cr-a", 1, "before", 6, IPCD_ACK);
        tl_expect(c, 0, 1, "before", 6, "cr-a");
        reexec(false);
        /* The old objects are gone: the library notices and registers again. */
        deadline = tl_now_ms() + 30000;
        while ((r = ipcd_send(c, "cr-a", 1, "again", 5, IPCD_ACK)) != 0) {
                CHECK_MSG(r == -ECONNRESET || r == -ECONNREFUSED || r == -EHOSTUNREACH ||
                                  r == -ENOENT,
                          "send after a fresh start: %s", tl_errname(r));
                CHECK_MSG(tl_now_ms() < deadline, "not registered again");
                tl_sleep_ms(10);
        }
        tl_expect(c, 0, 1, "again", 5, "cr-a");
        ipcd_close(c);
        tl_wait_clients(0);
}

int main(int argc, char **argv)
{
        tl_init(argc, argv);
        CHECK_MSG(argc == 2, "usage: test-reexec identity|stream|call|channel|corrupt");
        if (strcmp(argv[1], "identity") == 0)
                mode_identity();
        else if (strcmp(argv[1], "stream") == 0)
                mode_stream();
        else if (strcmp(argv[1], "call") == 0)
                mode_call();
        else if (strcmp(argv[1], "channel") == 0)
                mode_channel();
        else if (strcmp(argv[1], "corrupt") == 0)
                mode_corrupt();
        else
                CHECK_MSG(false, "unknown mode %s", argv[1]);
        return 0;
}
