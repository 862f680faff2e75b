/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * soak-load SECONDS - the load generator and the judge of tests/soak.sh
 * (which gives it a private IPC namespace, a runtime dir and an ipcd).
 *
 * Processes (forked; all share one anonymous shared mapping of counters):
 *   sink     "soak-sink", never killed: receives every unicast (inline,
 *            IPCD_MORE batches, bulk through the ring), answers every call,
 *            holds a reliable subscription to "soak/news"; keeps the
 *            default overflow policy (lossless: senders are paused, never
 *            dropped; choosing drop-new would opt out).  Checks every message: its
 *            stream, its sequence number (exactly once, in order), its
 *            payload.
 *   workers  SOAK_WORKERS (default 12) slots; each connects (named
 *            "soak-wN" or anonymous, in turn), sends to the sink, calls it,
 *            publishes to "soak/news", sets a history on "soak/hist" and
 *            publishes there; one session in four subscribes for a moment
 *            instead of calling (not reliably: those copies may be
 *            dropped, with a reason), then
 *            leaves and connects again.  One connection = one stream: a
 *            message carries its stream number and sequence number, and
 *            the worker counts a send as accepted once ipcd_send* returned
 *            0 (after the call: a kill between the two makes one more
 *            arrive than counted, never fewer).
 *   parent   every 3 s SIGKILLs a worker (its stream is marked killed) and
 *            starts another in its slot; every 10 s samples ipcd's RSS,
 *            open descriptors, System V objects and clients; every 60 s
 *            runs `ipcdctl reexec` (timed).
 *
 * At the end the workers leave cleanly, the sink drains, and it fails
 * (exit 1) if:
 *   - a stream that was closed cleanly lost a message: accepted unicasts
 *     (and publishes: the sink's subscription is reliable) not all
 *     delivered, or anything delivered twice or out of order, or a payload
 *     damaged, in any stream (killed ones included);
 *   - a send, call or publish of a worker that was not killed failed;
 *   - ipcd's books do not hold: its drops do not add up by reason, bytes
 *     remain in its backlog or ring;
 *   - after the first minute, ipcd's RSS grew beyond 25 % + 4 MiB of the
 *     first minute's peak, or its descriptors or objects (each less two
 *     per client connected: a client's reply FIFO and pidfd, its queue and
 *     semaphore) beyond that peak + 2 per worker;
 *   - a re-exec failed.
 * The summary gives every figure.  Timings are printed, never judged.
 */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tlib.h"

#define MAX_WORKERS 64
#define MAX_STREAMS (1u << 21)
#define T_DATA 7
#define T_CALL 8
#define T_PUB 9
#define BULK_LEN (64 * 1024)
#define NEWS "soak/news"
#define HIST "soak/hist"

enum { K_INLINE = 1, K_BULK = 2, K_PUB = 3 };
enum { S_OPEN = 1, S_CLOSED = 2, S_KILLED = 3 };

struct hdr {
        uint32_t stream, kind;
        uint64_t seq;
        uint32_t len, sum; /* payload after the header, its byte sum */
};

struct stream {
        _Atomic uint32_t state, slot;
        _Atomic uint64_t acc_uni, acc_pub; /* accepted, as the worker counted */
        _Atomic uint64_t rcv_uni, rcv_pub; /* delivered to the sink */
};

struct slotinfo {
        _Atomic pid_t pid;
        _Atomic uint32_t stream; /* the open one, 0: none */
};

struct shared {
        _Atomic uint32_t next_stream;
        _Atomic int stop, sink_stop;
        _Atomic uint64_t calls, call_errors, send_errors, connects, connect_retries;
        _Atomic uint64_t bulk, batches, subs, sub_copies, hist_sets;
        _Atomic uint64_t sink_bad, sink_notices, sink_dropped, sink_calls;
        char first_error[256], call_error[256];
        _Atomic int error_taken, call_error_taken;
        struct slotinfo slots[MAX_WORKERS];
        struct stream streams[MAX_STREAMS];
};

static struct shared *sh;
static unsigned nworkers = 12;

static void note_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_error(const char *fmt, ...)
{
        va_list ap;

        if (atomic_exchange(&sh->error_taken, 1))
                return;
        va_start(ap, fmt);
        vsnprintf(sh->first_error, sizeof(sh->first_error), fmt, ap);
        va_end(ap);
}

static uint32_t sum_of(const uint8_t *p, size_t n)
{
        uint32_t s = 0;

        for (size_t i = 0; i < n; i++)
                s = s * 31 + p[i];
        return s;
}

/* A payload: the header, then len bytes derived from stream and seq. */
static size_t fill(uint8_t *buf, uint32_t stream, uint32_t kind, uint64_t seq, size_t len)
{
        struct hdr h = { .stream = stream, .kind = kind, .seq = seq, .len = (uint32_t)len };

        for (size_t i = 0; i < len; i++)
                buf[sizeof(h) + i] = (uint8_t)(stream * 7 + seq * 13 + i);
        h.sum = sum_of(buf + sizeof(h), len);
        memcpy(buf, &h, sizeof(h));
        return sizeof(h) + len;
}

static void child_setup(void)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGTERM, SIG_DFL);
}

/* ---- the sink ---- */

static void sink_check(const ipcd_msg *m)
{
        struct hdr h;
        struct stream *s;
        bool pub = m->topic[0] != '\0';
        uint64_t want;

        if (m->len < sizeof(h)) {
                sh->sink_bad++;
                note_error("sink: a message of %zu bytes", m->len);
                return;
        }
        memcpy(&h, m->data, sizeof(h));
        if (h.stream == 0 || h.stream >= MAX_STREAMS || h.len != m->len - sizeof(h) ||
            h.sum != sum_of((const uint8_t *)m->data + sizeof(h), h.len) ||
            (h.kind == K_PUB) != pub || (h.kind == K_BULK) != !!(m->flags & IPCD_MSG_BULK)) {
                sh->sink_bad++;
                note_error("sink: a damaged message (stream %u, kind %u, seq %llu)", h.stream,
                           h.kind, (unsigned long long)h.seq);
                return;
        }
        s = &sh->streams[h.stream];
        want = pub ? s->rcv_pub : s->rcv_uni;
        if (h.seq != want) {
                sh->sink_bad++;
                note_error("sink: stream %u (%s): message %llu where %llu was due", h.stream,
                           pub ? "publish" : "unicast", (unsigned long long)h.seq,
                           (unsigned long long)want);
        }
        if (pub)
                s->rcv_pub = h.seq + 1;
        else
                s->rcv_uni = h.seq + 1;
}

static _Noreturn void sink_main(int ready)
{
        ipcd_client *c;
        ipcd_msg m;
        int r;

        child_setup();
        CHECK_OK(ipcd_connect("soak-sink", &c));
        CHECK_OK(ipcd_subscribe_flags(c, NEWS, IPCD_SUB_RELIABLE));
        CHECK(write(ready, "r", 1) == 1);
        close(ready);
        for (;;) {
                r = ipcd_recv(c, &m, 0, 200);
                if (r == -EAGAIN || r == -ETIMEDOUT) {
                        if (sh->sink_stop)
                                break;
                        continue;
                }
                if (r < 0) {
                        /* A re-exec is invisible: anything else is not. */
                        note_error("sink: ipcd_recv: %s", tl_errname(r));
                        sh->sink_bad++;
                        tl_sleep_ms(100);
                        continue;
                }
                if (m.flags & IPCD_MSG_NOTICE) {
                        sh->sink_notices++;
                        if (m.type == IPCD_NOTICE_DROPPED)
                                sh->sink_dropped += m.id;
                } else if (m.flags & IPCD_MSG_REQUEST) {
                        r = ipcd_reply(c, &m, T_CALL, m.data, m.len);
                        /* The caller may have been killed meanwhile. */
                        if (r < 0 && r != -ENOENT && r != -ECONNRESET)
                                note_error("sink: ipcd_reply: %s", tl_errname(r));
                        sh->sink_calls++;
                } else
                        sink_check(&m);
                ipcd_msg_release(c, &m);
        }
        ipcd_close(c);
        _exit(0);
}

/* ---- a worker ---- */

static uint64_t rnd(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static void send_failed(const char *what, int r)
{
        sh->send_errors++;
        note_error("worker %d: %s: %s", getpid(), what, tl_errname(r));
}

/* One connection: a stream of sends, calls and publishes. */
static void session(unsigned slot, uint64_t *seed, unsigned n)
{
        static uint8_t buf[4096 + sizeof(struct hdr)];
        char name[32];
        uint32_t sid = atomic_fetch_add(&sh->next_stream, 1);
        struct stream *s;
        ipcd_client *c = NULL;
        bool sub = false, listener;
        int r;

        if (sid == 0 || sid >= MAX_STREAMS) {
                /* More connections than the table holds: say so, stop. */
                note_error("more than %u connections: raise MAX_STREAMS", MAX_STREAMS);
                sh->send_errors++;
                sh->stop = 1;
                return;
        }
        s = &sh->streams[sid];
        snprintf(name, sizeof(name), "soak-w%u", slot);
        for (int i = 0;; i++) {
                r = ipcd_connect(rnd(seed) % 2 ? name : NULL, &c);
                if (r == 0)
                        break;
                /* The name of a killed predecessor is free once ipcd saw it go. */
                sh->connect_retries++;
                if (i > 200) {
                        send_failed("ipcd_connect", r);
                        return;
                }
                tl_sleep_ms(20);
        }
        sh->connects++;
        s->slot = slot;
        s->state = S_OPEN;
        sh->slots[slot].stream = sid;

        /* A session that subscribes for a moment does not call: a call
         * waits for its reply behind copies it does not read, which ipcd
         * holds in its backlog until the queue drains (a caller must read
         * its other messages: seen here as calls timing out). */
        listener = rnd(seed) % 4 == 0;
        for (unsigned i = 0; i < n && !sh->stop; i++) {
                unsigned what = rnd(seed) % 16;
                size_t len;

                if (listener && what >= 10 && what < 12)
                        what = 15;
                if (!listener && what == 15)
                        what = 0;

                if (what < 8) {
                        /* inline, sometimes a batch */
                        unsigned k = what < 3 ? 8 : 1;

                        for (unsigned j = 0; j < k; j++) {
                                len = fill(buf, sid, K_INLINE, s->acc_uni, rnd(seed) % 2000);
                                r = ipcd_send(c, "soak-sink", T_DATA, buf, len,
                                              j + 1 < k ? IPCD_MORE : 0);
                                if (r < 0) {
                                        send_failed("ipcd_send", r);
                                        break;
                                }
                                s->acc_uni++;
                        }
                        if (k > 1)
                                sh->batches++;
                } else if (what < 10) {
                        void *b;

                        r = ipcd_buf_alloc(c, BULK_LEN, 0, &b);
                        if (r < 0) {
                                send_failed("ipcd_buf_alloc", r);
                                continue;
                        }
                        len = BULK_LEN - sizeof(struct hdr);
                        fill(b, sid, K_BULK, s->acc_uni, len);
                        r = ipcd_send_buf(c, "soak-sink", T_DATA, b, BULK_LEN, 0);
                        if (r < 0) {
                                send_failed("ipcd_send_buf", r);
                                continue;
                        }
                        s->acc_uni++;
                        sh->bulk++;
                } else if (what < 12) {
                        ipcd_msg rep;
                        uint64_t t_call = tl_now_ms();

                        len = fill(buf, sid, K_INLINE, 0, rnd(seed) % 512);
                        r = ipcd_call(c, "soak-sink", T_CALL, buf, len, &rep, 60000);
                        if (r < 0) {
                                sh->call_errors++;
                                if (!atomic_exchange(&sh->call_error_taken, 1))
                                        snprintf(sh->call_error, sizeof(sh->call_error),
                                                 "worker %d: ipcd_call: %s after %llu ms%s",
                                                 getpid(), tl_errname(r),
                                                 (unsigned long long)(tl_now_ms() - t_call),
                                                 sub ? " (subscribed)" : "");
                                continue;
                        }
                        if (rep.len != len || memcmp(rep.data, buf, len) != 0) {
                                sh->call_errors++;
                                note_error("worker %d: a reply that is not the request",
                                           getpid());
                        }
                        ipcd_msg_release(c, &rep);
                        sh->calls++;
                } else if (what < 14) {
                        len = fill(buf, sid, K_PUB, s->acc_pub, rnd(seed) % 1000);
                        r = ipcd_publish(c, NEWS, T_PUB, buf, len, 0);
                        if (r < 0) {
                                send_failed("ipcd_publish", r);
                                continue;
                        }
                        s->acc_pub++;
                } else if (what == 14) {
                        /* history: set a depth, publish (not counted: the
                         * sink is not subscribed to it) */
                        r = ipcd_set_history(c, HIST, 1 + rnd(seed) % 8);
                        if (r == 0)
                                r = ipcd_publish(c, HIST, T_PUB, "h", 1, 0);
                        if (r < 0 && r != -ENOSPC && r != -EDQUOT && r != -EBUSY) {
                                send_failed("history", r);
                                continue;
                        }
                        sh->hist_sets++;
                } else {
                        /* a moment's subscription; copies may be dropped */
                        ipcd_msg m;

                        if (!sub) {
                                r = ipcd_subscribe(c, rnd(seed) % 2 ? NEWS : "soak/*");
                                if (r < 0) {
                                        send_failed("ipcd_subscribe", r);
                                        continue;
                                }
                                sub = true;
                                sh->subs++;
                        }
                        while (ipcd_recv(c, &m, 0, 0) >= 0) {
                                sh->sub_copies++;
                                ipcd_msg_release(c, &m);
                        }
                }
        }
        ipcd_close(c);
        s->state = S_CLOSED;
        sh->slots[slot].stream = 0;
}

static _Noreturn void worker_main(unsigned slot, unsigned gen)
{
        uint64_t seed = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)slot << 32) ^ gen ^ (uint64_t)getpid();

        child_setup();
        while (!sh->stop) {
                session(slot, &seed, 5 + rnd(&seed) % 60);
                tl_sleep_ms(5 + rnd(&seed) % 40);
        }
        _exit(0);
}

static pid_t spawn_worker(unsigned slot, unsigned gen)
{
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (pid == 0)
                worker_main(slot, gen);
        sh->slots[slot].pid = pid;
        return pid;
}

/* ---- the parent: samples, kills, re-execs ---- */

struct sample {
        unsigned t;
        long rss_kib;
        int fds, objects, clients;
};

static int count_fds(pid_t pid)
{
        char path[64];
        struct dirent *d;
        DIR *dir;
        int n = 0;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        dir = opendir(path);
        if (!dir)
                return -1;
        while ((d = readdir(dir)))
                if (d->d_name[0] != '.')
                        n++;
        closedir(dir);
        return n;
}

static void take_sample(pid_t ipcd, unsigned t, struct sample *s)
{
        struct tl_status st;

        tl_status(&st);
        s->t = t;
        s->clients = (int)st.daemon.nclients;
        tl_status_free(&st);
        s->rss_kib = tl_rss_kib(ipcd);
        s->fds = count_fds(ipcd);
        s->objects = (int)(tl_sysv_count("msg") + tl_sysv_count("sem") + tl_sysv_count("shm"));
        printf("soak: t=%4us  ipcd rss %6ld KiB  fds %4d  objects %4d  clients %3d\n", t,
               s->rss_kib, s->fds, s->objects, s->clients);
}

static uint64_t reexec_ms_max, reexec_ms_sum;
static unsigned reexecs, reexec_failures;

static void do_reexec(void)
{
        char cmd[4096];
        uint64_t t0 = tl_now_ms(), dt;
        char *out;
        int st;

        snprintf(cmd, sizeof(cmd), "'%s' --runtime-dir '%s' reexec 2>&1", getenv("IPCDCTL"),
                 tl_rundir());
        out = tl_capture(cmd, &st);
        dt = tl_now_ms() - t0;
        if (!out || st != 0 || !strstr(out, "re-executed")) {
                reexec_failures++;
                note_error("ipcdctl reexec: status %d: %s", st, out ? out : "");
        }
        free(out);
        reexecs++;
        reexec_ms_sum += dt;
        if (dt > reexec_ms_max)
                reexec_ms_max = dt;
        printf("soak: re-exec %u took %llu ms (ipcdctl reexec, until the new image answered)\n",
               reexecs, (unsigned long long)dt);
}

int main(int argc, char **argv)
{
        unsigned duration = argc > 1 ? (unsigned)atoi(argv[1]) : 600;
        struct sample samples[4096];
        unsigned nsamples = 0, kills = 0, gens[MAX_WORKERS] = { 0 };
        long base_rss = 0;
        int base_fds = 0, base_obj = 0, ready[2];
        bool grew = false;
        pid_t sink, ipcd;
        uint64_t t0, next_kill, next_sample, next_reexec, seed = 42;
        struct tl_status st;
        const char *w = getenv("SOAK_WORKERS");
        uint64_t sink_dropped, sink_by[WIRE_DROP_REASONS];
        int failed = 0;

        tl_init(argc, argv);
        if (duration < 30)
                duration = 30;
        alarm(duration + 600); /* a hang guard, not a check */
        if (w && atoi(w) > 0)
                nworkers = (unsigned)atoi(w) > MAX_WORKERS ? MAX_WORKERS : (unsigned)atoi(w);
        CHECK_MSG(getenv("IPCDCTL"), "IPCDCTL is not set");
        sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        CHECK(sh != MAP_FAILED);
        sh->next_stream = 1;

        tl_status(&st);
        ipcd = st.daemon.pid;
        tl_status_free(&st);

        CHECK(pipe(ready) == 0);
        sink = fork();
        CHECK(sink >= 0);
        if (sink == 0) {
                close(ready[0]);
                sink_main(ready[1]);
        }
        close(ready[1]);
        {
                char x;

                CHECK_MSG(read(ready[0], &x, 1) == 1, "the sink did not start");
                close(ready[0]);
        }
        for (unsigned i = 0; i < nworkers; i++)
                spawn_worker(i, 0);
        printf("soak: %u s, %u workers, a kill every 3 s, a re-exec every 60 s, samples "
               "every 10 s; ipcd pid %d\n",
               duration, nworkers, (int)ipcd);

        t0 = tl_now_ms();
        next_kill = t0 + 3000;
        next_sample = t0;
        next_reexec = t0 + 60000;
        while (tl_now_ms() < t0 + duration * 1000ULL) {
                uint64_t now = tl_now_ms();

                if (now >= next_sample) {
                        struct sample *s = &samples[nsamples < 4096 ? nsamples++ : 4095];

                        take_sample(ipcd, (unsigned)((now - t0) / 1000), s);
                        next_sample += 10000;
                }
                if (now >= next_kill) {
                        unsigned slot = (unsigned)(rnd(&seed) % nworkers);
                        pid_t pid = sh->slots[slot].pid;
                        uint32_t sid;
                        int status;

                        CHECK(kill(pid, SIGKILL) == 0);
                        CHECK(waitpid(pid, &status, 0) == pid);
                        sid = sh->slots[slot].stream;
                        if (sid)
                                sh->streams[sid].state = S_KILLED;
                        sh->slots[slot].stream = 0;
                        kills++;
                        spawn_worker(slot, ++gens[slot]);
                        next_kill += 3000;
                }
                if (now >= next_reexec) {
                        do_reexec();
                        next_reexec += 60000;
                }
                tl_sleep_ms(50);
        }

        /* The end: workers leave cleanly, then the sink drains. */
        sh->stop = 1;
        for (unsigned i = 0; i < nworkers; i++) {
                int status;

                CHECK(waitpid(sh->slots[i].pid, &status, 0) == sh->slots[i].pid);
                CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "worker %u ended with status %#x", i, status);
        }
        {
                /* Until every closed stream is delivered, or 60 s (a hang
                 * guard: what is missing then is reported as lost). */
                uint64_t until = tl_now_ms() + 60000;
                bool done = false;

                while (!done && tl_now_ms() < until) {
                        done = true;
                        for (uint32_t i = 1; i < sh->next_stream && i < MAX_STREAMS; i++) {
                                struct stream *s = &sh->streams[i];

                                if (s->state == S_CLOSED &&
                                    (s->rcv_uni < s->acc_uni || s->rcv_pub < s->acc_pub))
                                        done = false;
                        }
                        if (!done)
                                tl_sleep_ms(100);
                }
        }
        take_sample(ipcd, (unsigned)((tl_now_ms() - t0) / 1000), &samples[nsamples < 4096 ? nsamples++ : 4095]);
        {
                /* What ipcd says it dropped for the sink, by reason. */
                const struct wire_status_client *k;

                tl_status(&st);
                k = tl_status_client(&st, "soak-sink");
                CHECK(k);
                sink_dropped = k->dropped;
                memcpy(sink_by, k->dropped_by, sizeof(sink_by));
                tl_status_free(&st);
        }
        sh->sink_stop = 1;
        {
                int status;

                CHECK(waitpid(sink, &status, 0) == sink);
                CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "the sink ended with status %#x", status);
        }

        /* ---- the verdict ---- */
        {
                uint64_t acc_u = 0, rcv_u = 0, acc_p = 0, rcv_p = 0, lost = 0, extra = 0;
                uint64_t k_acc = 0, k_rcv = 0, k_short = 0;
                unsigned closed = 0, killed = 0;
                uint64_t by = 0, used = 0;

                for (uint32_t i = 1; i < sh->next_stream && i < MAX_STREAMS; i++) {
                        struct stream *s = &sh->streams[i];

                        if (s->state == S_CLOSED) {
                                closed++;
                                acc_u += s->acc_uni;
                                rcv_u += s->rcv_uni;
                                acc_p += s->acc_pub;
                                rcv_p += s->rcv_pub;
                                if (s->rcv_uni < s->acc_uni)
                                        lost += s->acc_uni - s->rcv_uni;
                                if (s->rcv_pub < s->acc_pub)
                                        lost += s->acc_pub - s->rcv_pub;
                                if (s->rcv_uni > s->acc_uni || s->rcv_pub > s->acc_pub)
                                        extra++;
                        } else if (s->state == S_KILLED) {
                                killed++;
                                k_acc += s->acc_uni + s->acc_pub;
                                k_rcv += s->rcv_uni + s->rcv_pub;
                                /* one more than counted: killed after the call returned */
                                if (s->rcv_uni > s->acc_uni + 1 || s->rcv_pub > s->acc_pub + 1)
                                        extra++;
                                if (s->rcv_uni + s->rcv_pub < s->acc_uni + s->acc_pub)
                                        k_short += s->acc_uni + s->acc_pub - s->rcv_uni - s->rcv_pub;
                        }
                }
                tl_status(&st);
                for (unsigned i = 0; i < WIRE_DROP_REASONS; i++)
                        by += st.daemon.dropped_by[i];
                for (size_t i = 0; i < st.n_rings; i++)
                        used += st.rings[i].used;

                printf("soak: summary after %u s (%u workers, %u kills, %u re-execs)\n", duration,
                       nworkers, kills, reexecs);
                printf("soak:   streams: %u closed cleanly, %u killed; %llu connections "
                       "(%llu retries of a name not yet free)\n",
                       closed, killed, (unsigned long long)sh->connects,
                       (unsigned long long)sh->connect_retries);
                printf("soak:   closed streams: unicast accepted %llu, delivered %llu; publishes "
                       "accepted %llu, delivered to the reliable subscriber %llu; lost %llu\n",
                       (unsigned long long)acc_u, (unsigned long long)rcv_u,
                       (unsigned long long)acc_p, (unsigned long long)rcv_p,
                       (unsigned long long)lost);
                printf("soak:   killed streams: counted %llu, delivered %llu (%llu short: sent "
                       "but still in the killed sender's inbound queue, never accepted)\n",
                       (unsigned long long)k_acc, (unsigned long long)k_rcv,
                       (unsigned long long)k_short);
                printf("soak:   %llu bulk, %llu IPCD_MORE batches, %llu calls (%llu failed), "
                       "%llu history sets, %llu moment subscriptions (%llu copies)\n",
                       (unsigned long long)sh->bulk, (unsigned long long)sh->batches,
                       (unsigned long long)sh->calls, (unsigned long long)sh->call_errors,
                       (unsigned long long)sh->hist_sets, (unsigned long long)sh->subs,
                       (unsigned long long)sh->sub_copies);
                printf("soak:   sink: %llu damaged, duplicated or out of order; %llu drop "
                       "notices (%llu messages)\n",
                       (unsigned long long)sh->sink_bad, (unsigned long long)sh->sink_notices,
                       (unsigned long long)sh->sink_dropped);
                printf("soak:   ipcd dropped %llu for the sink (overflow %llu, ignored %llu, "
                       "ring %llu, gone %llu, memory %llu)\n",
                       (unsigned long long)sink_dropped,
                       (unsigned long long)sink_by[WIRE_DROP_OVERFLOW],
                       (unsigned long long)sink_by[WIRE_DROP_IGNORED],
                       (unsigned long long)sink_by[WIRE_DROP_RING],
                       (unsigned long long)sink_by[WIRE_DROP_GONE],
                       (unsigned long long)sink_by[WIRE_DROP_MEMORY]);
                printf("soak:   ipcd: accepted %llu, published %llu, routed %llu, unroutable "
                       "%llu, dropped %llu (overflow %llu, ignored %llu, ring %llu, gone %llu, "
                       "memory %llu), backlog %llu bytes, ring %llu bytes used\n",
                       (unsigned long long)st.daemon.accepted,
                       (unsigned long long)st.daemon.published,
                       (unsigned long long)st.daemon.routed,
                       (unsigned long long)st.daemon.unroutable,
                       (unsigned long long)st.daemon.dropped,
                       (unsigned long long)st.daemon.dropped_by[WIRE_DROP_OVERFLOW],
                       (unsigned long long)st.daemon.dropped_by[WIRE_DROP_IGNORED],
                       (unsigned long long)st.daemon.dropped_by[WIRE_DROP_RING],
                       (unsigned long long)st.daemon.dropped_by[WIRE_DROP_GONE],
                       (unsigned long long)st.daemon.dropped_by[WIRE_DROP_MEMORY],
                       (unsigned long long)st.daemon.backlog_bytes, (unsigned long long)used);
                printf("soak:   re-execs: %u, longest %llu ms, mean %llu ms\n", reexecs,
                       (unsigned long long)reexec_ms_max,
                       (unsigned long long)(reexecs ? reexec_ms_sum / reexecs : 0));

                /* Growth after the first minute (adjusted by clients). */
                for (unsigned i = 0; i < nsamples; i++) {
                        struct sample *s = &samples[i];
                        int fds = s->fds - 2 * s->clients, obj = s->objects - 2 * s->clients;

                        if (s->t <= 60) {
                                base_rss = s->rss_kib > base_rss ? s->rss_kib : base_rss;
                                base_fds = fds > base_fds ? fds : base_fds;
                                base_obj = obj > base_obj ? obj : base_obj;
                                continue;
                        }
                        if (s->rss_kib > base_rss + base_rss / 4 + 4096 ||
                            fds > base_fds + 2 * (int)nworkers ||
                            obj > base_obj + 2 * (int)nworkers) {
                                grew = true;
                                printf("soak:   GREW at t=%us: rss %ld KiB, fds %d, objects %d "
                                       "(each less 2 per client)\n",
                                       s->t, s->rss_kib, fds, obj);
                        }
                }
                printf("soak:   first minute's peak: rss %ld KiB, fds %d, objects %d (each less "
                       "2 per client); last: rss %ld KiB, fds %d, objects %d, clients %d\n",
                       base_rss, base_fds, base_obj, samples[nsamples - 1].rss_kib,
                       samples[nsamples - 1].fds, samples[nsamples - 1].objects,
                       samples[nsamples - 1].clients);

                if (lost || extra || sh->sink_bad) {
                        printf("soak: FAIL: %llu lost, %llu streams with duplicates, %llu bad "
                               "at the sink\n",
                               (unsigned long long)lost, (unsigned long long)extra,
                               (unsigned long long)sh->sink_bad);
                        failed = 1;
                }
                if (sh->send_errors || sh->call_errors || reexec_failures) {
                        printf("soak: FAIL: %llu send and %llu call errors, %u re-exec "
                               "failures\n",
                               (unsigned long long)sh->send_errors,
                               (unsigned long long)sh->call_errors, reexec_failures);
                        failed = 1;
                }
                if (by != st.daemon.dropped || st.daemon.backlog_bytes || used) {
                        printf("soak: FAIL: ipcd's books: drops by reason %llu of %llu, "
                               "backlog %llu, ring %llu\n",
                               (unsigned long long)by, (unsigned long long)st.daemon.dropped,
                               (unsigned long long)st.daemon.backlog_bytes,
                               (unsigned long long)used);
                        failed = 1;
                }
                if (grew) {
                        printf("soak: FAIL: ipcd grew after the first minute\n");
                        failed = 1;
                }
                if (sh->error_taken)
                        printf("soak: first error: %s\n", sh->first_error);
                if (sh->call_error_taken)
                        printf("soak: first call error: %s\n", sh->call_error);
                tl_status_free(&st);
        }
        printf("soak: %s\n", failed ? "FAIL" : "PASS");
        return failed;
}
