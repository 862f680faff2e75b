/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * run.c - the two generic measurements every transport gets:
 *
 * Round-trip latency: B echoes every message back to A; A times each
 * round trip with CLOCK_MONOTONIC.  Warm-up first (not recorded), then
 * b->reps repetitions of b->rep_s seconds each; each repetition gives a
 * median, p99 and p99.9, and the result is the median of those over the
 * repetitions with their min and max.
 *
 * One-way throughput: A sends as fast as the transport accepts for
 * b->rep_s seconds, then an end marker (sent reliably: ipcd with
 * IPCD_ACK, D-Bus as a method call that is answered); B counts what
 * arrives.  Rate = messages received / (B's time of the end marker - A's
 * start).  The first repetition is the warm-up.  What a transport
 * dropped is counted (sent - received) and shown, not hidden.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_REPS 32
#define LAT_CAP_FULL 200000 /* samples kept per repetition */
#define LAT_CAP_QUICK 20000

struct shm {
        int err;
        char errmsg[256];
        uint64_t notices;
        /* throughput */
        double start[MAX_REPS + 1], end[MAX_REPS + 1];
        uint64_t sent[MAX_REPS + 1], received[MAX_REPS + 1];
        /* latency */
        size_t cap;
        size_t n[MAX_REPS];
        double samples[]; /* MAX_REPS... b->reps * cap, in microseconds */
};

struct ctx {
        struct bench *b;
        struct pair *p;
        struct shm *shm;
        int done_rd, done_wr;   /* throughput: B tells A a repetition ended */
        volatile uint64_t sink; /* what touch_bytes() read */
};

typedef int (*child_fn)(struct ctx *c, void *ep);

static void child_fail(struct ctx *c, int r, const char *what)
{
        if (c->shm->err)
                return;
        c->shm->err = r ? r : -EIO;
        bprintf(c->shm->errmsg, sizeof(c->shm->errmsg), "%s: %s", what, strerror(-c->shm->err));
}

static pid_t spawn(struct ctx *c, int side, int cpu, int ready_wr, int go_rd, child_fn fn)
{
        pid_t pid = fork();
        void *ep = NULL;
        char ch;
        int r;

        if (pid != 0)
                return pid;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_IGN);
        (void)pin_self(cpu);
        r = c->p->t->open(c->p, side, &ep);
        if (r < 0) {
                child_fail(c, r, side == SIDE_A ? "open (A)" : "open (B)");
                ch = 'F';
                (void)!write(ready_wr, &ch, 1);
                _exit(1);
        }
        ch = 'R';
        (void)!write(ready_wr, &ch, 1);
        if (read(go_rd, &ch, 1) != 1 || ch != 'G')
                _exit(2);
        r = fn(c, ep);
        if (r < 0)
                child_fail(c, r, side == SIDE_A ? "side A" : "side B");
        c->p->t->close(ep);
        _exit(r < 0 ? 1 : 0);
}

static int wait_ready(int fd, double timeout_s)
{
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char ch;

        if (poll(&pfd, 1, (int)(timeout_s * 1000)) <= 0)
                return -ETIMEDOUT;
        if (read(fd, &ch, 1) != 1)
                return -EIO;
        return ch == 'R' ? 0 : -EIO;
}

static void fill(void *buf, size_t size, char mark)
{
        memset(buf, 0x5a, size);
        if (size)
                ((char *)buf)[0] = mark;
}

/* ---- latency ---- */

static int lat_server(struct ctx *c, void *ep)
{
        const struct transport *t = c->p->t;
        _cleanup_free_ char *buf = malloc(MAX(c->p->size, (size_t)BENCH_MAX_MSG));

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = t->recv(ep, buf, c->p->size);
                int r;

                if (n < 0)
                        return (int)n;
                if (n > 0 && buf[0] == MARK_QUIT)
                        return 0;
                r = t->send(ep, buf, (size_t)n, 0);
                if (r < 0)
                        return r;
        }
}

static int round_trip(const struct transport *t, void *ep, char *buf, char *rbuf, size_t size)
{
        ssize_t n;
        int r;

        r = t->send(ep, buf, size, 0);
        if (r < 0)
                return r;
        n = t->recv(ep, rbuf, size);
        if (n < 0)
                return (int)n;
        return 0;
}

static int lat_client(struct ctx *c, void *ep)
{
        const struct transport *t = c->p->t;
        size_t size = c->p->size;
        _cleanup_free_ char *buf = malloc(MAX(c->p->size, (size_t)BENCH_MAX_MSG));
        _cleanup_free_ char *rbuf = malloc(MAX(c->p->size, (size_t)BENCH_MAX_MSG));
        double end;
        int r;

        if (!buf || !rbuf)
                return -ENOMEM;
        fill(buf, size, MARK_DATA);

        end = now_s() + c->b->warm_s;
        while (now_s() < end) {
                r = round_trip(t, ep, buf, rbuf, size);
                if (r < 0)
                        return r;
        }
        for (unsigned rep = 0; rep < c->b->reps; rep++) {
                double *s = c->shm->samples + (size_t)rep * c->shm->cap;
                uint64_t stop = now_ns() + (uint64_t)(c->b->rep_s * 1e9);
                size_t n = 0;

                while (n < c->shm->cap) {
                        uint64_t t0 = now_ns(), t1;

                        r = round_trip(t, ep, buf, rbuf, size);
                        if (r < 0)
                                return r;
                        t1 = now_ns();
                        s[n++] = (double)(t1 - t0) / 1e3;
                        if (t1 > stop)
                                break;
                }
                c->shm->n[rep] = n;
        }
        /* The peer is idle now: nothing can be dropped, and a D-Bus peer
         * does not answer this one. */
        fill(buf, size, MARK_QUIT);
        return t->send(ep, buf, size, BSEND_ONEWAY);
}

/* ---- throughput ---- */

static int thr_receiver(struct ctx *c, void *ep)
{
        const struct transport *t = c->p->t;
        _cleanup_free_ char *buf = malloc(MAX(c->p->size, (size_t)BENCH_MAX_MSG));
        unsigned rep = 0;
        uint64_t count = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = t->recv(ep, buf, c->p->size);
                char ch = 'D';

                if (n < 0)
                        return (int)n;
                if (n == 0)
                        continue;
                if (buf[0] == MARK_DATA) {
                        if (!t->touches && (size_t)n >= BULK_TOUCH_MIN)
                                c->sink += touch_bytes(buf, (size_t)n);
                        count++;
                        continue;
                }
                if (buf[0] == MARK_QUIT)
                        return 0;
                if (buf[0] != MARK_END)
                        continue;
                if (rep <= MAX_REPS) {
                        c->shm->end[rep] = now_s();
                        c->shm->received[rep] = count;
                }
                if (t->end_ack)
                        t->end_ack(ep);
                rep++;
                count = 0;
                if (write(c->done_wr, &ch, 1) != 1)
                        return -EIO;
        }
}

static int thr_sender(struct ctx *c, void *ep)
{
        const struct transport *t = c->p->t;
        size_t size = c->p->size;
        _cleanup_free_ char *buf = malloc(MAX(c->p->size, (size_t)BENCH_MAX_MSG));
        int r;

        if (!buf)
                return -ENOMEM;
        for (unsigned rep = 0; rep <= c->b->reps; rep++) {
                double dur = rep == 0 ? c->b->warm_s : c->b->rep_s;
                uint64_t n = 0;
                double start = now_s(), stop = start + dur;
                char ch;

                c->shm->start[rep] = start;
                fill(buf, size, MARK_DATA);
                for (;;) {
                        r = t->send(ep, buf, size, BSEND_ONEWAY);
                        if (r < 0)
                                return r;
                        n++;
                        if ((n & 15) == 0 && now_s() >= stop)
                                break;
                }
                c->shm->sent[rep] = n;
                fill(buf, size, MARK_END);
                r = t->send(ep, buf, size, BSEND_ONEWAY | BSEND_RELIABLE);
                if (r < 0)
                        return r;
                if (read(c->done_rd, &ch, 1) != 1)
                        return -EIO;
        }
        /* The peer is idle now: nothing can be dropped, and a D-Bus peer
         * does not answer this one. */
        fill(buf, size, MARK_QUIT);
        return t->send(ep, buf, size, BSEND_ONEWAY);
}

/* ---- the common frame ---- */

/* Wait for A; if B dies first (a failed peer), A would wait forever:
 * give it a moment, then stop it.  *pb is cleared once B is reaped. */
static int wait_pair(pid_t pa, pid_t pb, double timeout_s, int *st, pid_t *pb_out)
{
        double end = now_s() + timeout_s, b_gone = 0;
        int bst;

        for (;;) {
                pid_t r = waitpid(pa, st, WNOHANG);

                if (r == pa)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return negative_errno();
                if (pb > 0 && !b_gone && waitpid(pb, &bst, WNOHANG) == pb) {
                        *pb_out = 0;
                        b_gone = now_s();
                }
                if (b_gone && now_s() > b_gone + 2)
                        return -ECONNRESET;
                if (now_s() > end)
                        return -ETIMEDOUT;
                usleep(2000);
        }
}

static int run_pair(struct bench *b, const struct transport *t, bool same_cpu, size_t size,
                    bool latency, struct shm **ret_shm, size_t *ret_shm_size, char *why,
                    size_t why_size)
{
        struct pair p = {.t = t, .b = b, .seq = ++b->seq, .size = size};
        struct ctx c = {.b = b, .p = &p, .done_rd = -1, .done_wr = -1};
        size_t cap = b->quick ? LAT_CAP_QUICK : LAT_CAP_FULL;
        size_t shm_size = sizeof(struct shm) + (latency ? b->reps * cap * sizeof(double) : 0);
        int ready[2] = {-1, -1}, go_a[2] = {-1, -1}, go_b[2] = {-1, -1}, done[2] = {-1, -1};
        pid_t pa = 0, pb = 0;
        int cpu = same_cpu ? 0 : -1, r, st;
        double budget = b->warm_s + (b->reps + 1) * b->rep_s * 3 + (b->quick ? 10 : 30);
        struct shm *shm;

        why[0] = 0;
        r = t->setup ? t->setup(&p) : 0;
        if (r == 1) {
                bprintf(why, why_size, "%s", p.why[0] ? p.why : "not available");
                return 1;
        }
        if (r < 0) {
                bprintf(why, why_size, "setup: %s%s%s", strerror(-r), p.why[0] ? ": " : "", p.why);
                return r;
        }

        shm = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shm == MAP_FAILED) {
                r = negative_errno();
                goto out_teardown;
        }
        memset(shm, 0, sizeof(*shm));
        shm->cap = cap;
        c.shm = shm;

        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go_a, O_CLOEXEC) < 0 ||
            pipe2(go_b, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) {
                r = negative_errno();
                goto out;
        }
        c.done_rd = done[0];
        c.done_wr = done[1];

        pb = spawn(&c, SIDE_B, cpu, ready[1], go_b[0], latency ? lat_server : thr_receiver);
        if (pb < 0) {
                r = negative_errno();
                goto out;
        }
        r = wait_ready(ready[0], 20);
        if (r < 0)
                goto out;
        pa = spawn(&c, SIDE_A, cpu, ready[1], go_a[0], latency ? lat_client : thr_sender);
        if (pa < 0) {
                r = negative_errno();
                goto out;
        }
        r = wait_ready(ready[0], 20);
        if (r < 0)
                goto out;

        for (size_t i = 0; i < p.n_helpers; i++)
                pin_tree(p.helpers[i], cpu);
        (void)!write(go_b[1], "G", 1);
        (void)!write(go_a[1], "G", 1);

        r = wait_pair(pa, pb, budget, &st, &pb);
        if (r == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0) && !shm->err)
                r = -EIO;
        if (r == 0)
                pa = 0;
        else if (r == -ETIMEDOUT && !shm->err)
                bprintf(shm->errmsg, sizeof(shm->errmsg), "side A timed out");
        if (r == 0 && pb > 0) {
                r = wait_child(pb, 10, &st);
                if (r == 0)
                        pb = 0;
                if (r == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0) && !shm->err)
                        r = -EIO;
                else if (r == -ETIMEDOUT && !shm->err)
                        bprintf(shm->errmsg, sizeof(shm->errmsg), "side B did not exit");
        }
out:
        if (pa > 0)
                kill_wait(pa);
        if (pb > 0)
                kill_wait(pb);
        if (same_cpu)
                for (size_t i = 0; i < p.n_helpers; i++)
                        pin_tree(p.helpers[i], -1);
        for (size_t i = 0; i < 2; i++) {
                safe_close(ready[i]);
                safe_close(go_a[i]);
                safe_close(go_b[i]);
                safe_close(done[i]);
        }
        if (shm != MAP_FAILED && shm->err) {
                bprintf(why, why_size, "%s", shm->errmsg);
                if (r == 0)
                        r = shm->err;
        } else if (r < 0) {
                bprintf(why, why_size, "%s", strerror(-r));
        }
        if (r < 0 && shm != MAP_FAILED) {
                munmap(shm, shm_size);
                shm = MAP_FAILED;
        }
out_teardown:
        if (t->teardown)
                t->teardown(&p);
        if (r < 0)
                return r;
        *ret_shm = shm;
        *ret_shm_size = shm_size;
        return 0;
}

int run_latency(struct bench *b, const struct transport *t, bool same_cpu, size_t size,
                struct lat_result *res)
{
        struct shm *shm = NULL;
        size_t shm_size = 0;
        double p50[MAX_REPS], p99[MAX_REPS], p999[MAX_REPS];
        unsigned n = 0;
        int r;

        memset(res, 0, sizeof(*res));
        if (b->reps > MAX_REPS)
                b->reps = MAX_REPS;
        r = run_pair(b, t, same_cpu, size, true, &shm, &shm_size, res->why, sizeof(res->why));
        if (r != 0)
                return r;
        for (unsigned rep = 0; rep < b->reps; rep++) {
                double *s = shm->samples + (size_t)rep * shm->cap;
                size_t k = shm->n[rep];

                if (k == 0)
                        continue;
                res->samples += (double)k;
                (void)stat3_of(s, k); /* sorts */
                p50[n] = percentile_sorted(s, k, 50);
                p99[n] = percentile_sorted(s, k, 99);
                p999[n] = percentile_sorted(s, k, 99.9);
                n++;
        }
        munmap(shm, shm_size);
        if (n == 0) {
                bprintf(res->why, sizeof(res->why), "no samples");
                return -EIO;
        }
        res->p50 = stat3_of(p50, n);
        res->p99 = stat3_of(p99, n);
        res->p999 = stat3_of(p999, n);
        res->ok = true;
        return 0;
}

int run_throughput(struct bench *b, const struct transport *t, bool same_cpu, size_t size,
                   struct thr_result *res)
{
        struct shm *shm = NULL;
        size_t shm_size = 0;
        double rate[MAX_REPS];
        unsigned n = 0;
        int r;

        memset(res, 0, sizeof(*res));
        if (b->reps > MAX_REPS)
                b->reps = MAX_REPS;
        r = run_pair(b, t, same_cpu, size, false, &shm, &shm_size, res->why, sizeof(res->why));
        if (r != 0)
                return r;
        for (unsigned rep = 1; rep <= b->reps; rep++) {
                double dt = shm->end[rep] - shm->start[rep];

                if (dt <= 0)
                        continue;
                rate[n++] = (double)shm->received[rep] / dt;
                res->sent += shm->sent[rep];
                res->received += shm->received[rep];
        }
        res->notices = shm->notices;
        munmap(shm, shm_size);
        if (n == 0) {
                bprintf(res->why, sizeof(res->why), "no repetitions");
                return -EIO;
        }
        res->rate = stat3_of(rate, n);
        res->ok = true;
        return 0;
}
