/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * drv-ipcd.c - ipcd itself in the bench: the daemon the bench starts (on a
 * private runtime directory, with a config raising the client limits),
 * the ipcd transport for the generic latency/throughput drivers (A sends
 * to B by name with ipcd_send, B answers A by name; blocking ipcd_recv
 * with timeout -1), and the two ipcd-only sections: isolation and scale.
 */
#include <errno.h>
#include <fcntl.h>
#include <ipcd.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define DATA_TYPE 1L
#define MAX_REPS 32

/* The directory of the running bench (not of its libtool wrapper). */
void exe_dir(char *buf, size_t size)
{
        ssize_t n = readlink("/proc/self/exe", buf, size - 1);
        char *slash;

        if (n <= 0) {
                bprintf(buf, size, ".");
                return;
        }
        buf[n] = 0;
        slash = strrchr(buf, '/');
        if (slash)
                *slash = 0;
        /* a libtool wrapper runs us from .libs/ */
        n = (ssize_t)strlen(buf);
        if (n >= 6 && strcmp(buf + n - 6, "/.libs") == 0)
                buf[n - 6] = 0;
}

bool drv_ipcd_available(const struct bench *b)
{
        return b->ipcd_pid > 0;
}

static int run_quiet(const char *path, char *const argv[], const char *log)
{
        pid_t pid = fork();
        int st;

        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execv(path, argv);
                _exit(127);
        }
        if (wait_child(pid, 20, &st) < 0) {
                kill_wait(pid);
                return -ETIMEDOUT;
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int write_ipcd_config(struct bench *b, const char *path, bool big)
{
        FILE *f = fopen(path, "we");

        if (!f)
                return negative_errno();
        fprintf(f, "# written by ipcd-bench\nlog_level = \"warning\";\n");
        if (big)
                fprintf(f, "max_clients = 4096;\n"
                           "max_clients_per_uid = 2000;\n"
                           "registration_rate = 1000000;\n"
                           "registration_burst = 1000000;\n");
        /* Queues as big as the namespace's kernel.msgmnb: ipcd can set
         * them without CAP_SYS_RESOURCE, and they match the baselines'. */
        if (b->private_ipc_ns && b->msgmnb >= 1024)
                fprintf(f, "queue_bytes = %ld;\ninbound_queue_bytes = %ld;\n", b->msgmnb,
                        b->msgmnb);
        /* The default backlog_bytes: a one-way sender that outruns its
         * receiver is held back by flow control (issue 11), as a Unix
         * socket or ZeroMQ blocks its sender, and nothing is lost. */
        if (fclose(f) != 0)
                return negative_errno();
        return 0;
}

/* The first lines of a helper's log, indented, into the report. */
void tail_log(struct bench *b, const char *log)
{
        char line[512];
        FILE *f = fopen(log, "re");
        int n = 0;

        if (!f)
                return;
        while (fgets(line, sizeof(line), f) && n++ < 10)
                out(b, "    | %s", line);
        fclose(f);
}

static bool is_script(const char *path)
{
        char head[2] = {0, 0};
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return false;
        if (read(fd, head, 2) != 2)
                head[0] = 0;
        close(fd);
        return head[0] == '#' && head[1] == '!';
}

static int copy_file(const char *from, const char *to)
{
        char buf[65536];
        int in, outfd, r = 0;
        ssize_t n;

        in = open(from, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return negative_errno();
        outfd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (outfd < 0) {
                r = negative_errno();
                close(in);
                return r;
        }
        while ((n = read(in, buf, sizeof(buf))) > 0) {
                if (write(outfd, buf, (size_t)n) != n) {
                        r = -EIO;
                        break;
                }
        }
        if (n < 0)
                r = negative_errno();
        close(in);
        if (close(outfd) < 0 && r == 0)
                r = negative_errno();
        return r;
}

int drv_ipcd_daemon_start(struct bench *b)
{
        char dir[PATH_MAX], conf[PATH_MAX], log[PATH_MAX], check_log[PATH_MAX];
        const char *env = getenv("IPCD");
        pid_t pid;
        double end;
        int r;

        if (b->ipcd_exec[0])
                goto found; /* a restart: the same copy */
        if (env && env[0])
                bprintf(b->ipcd_path, sizeof(b->ipcd_path), "%s", env);
        else {
                exe_dir(dir, sizeof(dir));
                bprintf(b->ipcd_path, sizeof(b->ipcd_path), "%s/../src/ipcd/ipcd", dir);
        }
        if (access(b->ipcd_path, X_OK) < 0) {
                bprintf(b->ipcd_why, sizeof(b->ipcd_why),
                        "skipped: no ipcd at %s (build it, or set $IPCD)", b->ipcd_path);
                return 1;
        }
        /* Run a private copy: a rebuild of the tree during the run (make
         * in another shell) must not swap the daemon under the bench,
         * whose client library is already loaded. */
        bprintf(b->ipcd_exec, sizeof(b->ipcd_exec), "%s/ipcd", b->tmpdir);
        r = is_script(b->ipcd_path) ? 0 : copy_file(b->ipcd_path, b->ipcd_exec);
        if (r == 0 && is_script(b->ipcd_path)) /* a libtool wrapper: run it where it is */
                bprintf(b->ipcd_exec, sizeof(b->ipcd_exec), "%s", b->ipcd_path);
        if (r < 0) {
                bprintf(b->ipcd_why, sizeof(b->ipcd_why), "skipped: copying %s: %s", b->ipcd_path,
                        strerror(-r));
                b->ipcd_exec[0] = 0;
                return 1;
        }
found:

        bprintf(b->ipcd_rundir, sizeof(b->ipcd_rundir), "%s/run", b->tmpdir);
        bprintf(conf, sizeof(conf), "%s/ipcd.conf", b->tmpdir);
        bprintf(log, sizeof(log), "%s/ipcd.log", b->tmpdir);
        bprintf(check_log, sizeof(check_log), "%s/ipcd-check.log", b->tmpdir);
        if (mkdir(b->ipcd_rundir, 0755) < 0 && errno != EEXIST)
                return negative_errno();

        /* The raised limits first; if this ipcd does not know a key yet,
         * fall back to the defaults (the scale section then says so). */
        b->ipcd_big_config = true;
        for (int attempt = 0; attempt < 2; attempt++) {
                char *argv[] = {b->ipcd_exec, (char *)"--check-config", (char *)"--config", conf,
                                NULL};

                r = write_ipcd_config(b, conf, b->ipcd_big_config);
                if (r < 0)
                        return r;
                r = run_quiet(b->ipcd_exec, argv, check_log);
                if (r == 0)
                        break;
                b->ipcd_big_config = false;
        }
        if (r != 0) {
                bprintf(
                    b->ipcd_note, sizeof(b->ipcd_note),
                    "ipcd --check-config refused the bench's config (see %s): built-in defaults",
                    check_log);
                conf[0] = 0;
        }
        bprintf(b->ipcd_conf, sizeof(b->ipcd_conf), "%s", conf);

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                if (conf[0])
                        execl(b->ipcd_exec, b->ipcd_exec, "--runtime-dir", b->ipcd_rundir,
                              "--config", conf, (char *)NULL);
                else
                        execl(b->ipcd_exec, b->ipcd_exec, "--runtime-dir", b->ipcd_rundir,
                              (char *)NULL);
                _exit(127);
        }

        /* Ready when a client can register. */
        end = now_s() + 10;
        r = -ECONNREFUSED;
        while (now_s() < end) {
                ipcd_client *c = NULL;
                int st;

                if (waitpid(pid, &st, WNOHANG) == pid) {
                        pid = 0;
                        break;
                }
                r = ipcd_connect_at(b->ipcd_rundir, NULL, &c);
                if (r >= 0) {
                        ipcd_close(c);
                        break;
                }
                usleep(20000);
        }
        if (r < 0 || pid == 0) {
                bprintf(b->ipcd_why, sizeof(b->ipcd_why),
                        "skipped: ipcd did not start (%s); its log: %s",
                        pid == 0 ? "exited" : strerror(-r), log);
                out(b, "ipcd did not start; %s:\n", log);
                tail_log(b, log);
                if (pid > 0)
                        kill_wait(pid);
                return 1;
        }
        b->ipcd_pid = pid;
        return 0;
}

void drv_ipcd_daemon_stop(struct bench *b)
{
        int st;

        if (b->ipcd_pid <= 0)
                return;
        kill(b->ipcd_pid, SIGTERM);
        if (wait_child(b->ipcd_pid, 10, &st) < 0) {
                out(b, "warning: ipcd did not exit within 10 s of SIGTERM; killed\n");
                kill_wait(b->ipcd_pid);
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                out(b, "warning: ipcd exited with status %d on SIGTERM\n",
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        b->ipcd_pid = 0;
}

/* ---- the transport ---- */

struct drv_ipcd_ep {
        ipcd_client *c;
        char peer[IPCD_NAME_MAX];
        unsigned more_every; /* IPCD_MORE transport: a plain send every this many */
        uint64_t n;          /* data messages sent */
};

int drv_ipcd_setup(struct pair *p)
{
        if (!drv_ipcd_available(p->b)) {
                bprintf(p->why, sizeof(p->why), "%s", p->b->ipcd_why);
                return 1;
        }
        p->helpers[p->n_helpers++] = p->b->ipcd_pid;
        return 0;
}

int connect_retry(const char *rundir, const char *name, ipcd_client **ret)
{
        double end = now_s() + 10;
        int r;

        for (;;) {
                r = ipcd_connect_at(rundir, name, ret);
                if (r >= 0 || (r != -EAGAIN && r != -EADDRINUSE) || now_s() > end)
                        return r;
                usleep(10000);
        }
}

static int drv_ipcd_open(struct pair *p, int side, void **ret)
{
        struct drv_ipcd_ep *e = calloc(1, sizeof(*e));
        char me[IPCD_NAME_MAX];
        int r;

        if (!e)
                return -ENOMEM;
        bprintf(me, sizeof(me), "bench-%c-%u", side == SIDE_A ? 'a' : 'b', p->seq);
        bprintf(e->peer, sizeof(e->peer), "bench-%c-%u", side == SIDE_A ? 'b' : 'a', p->seq);
        r = connect_retry(p->b->ipcd_rundir, me, &e->c);
        if (r < 0) {
                free(e);
                return r;
        }
        *ret = e;
        return 0;
}

/* A reliable send waits out a full destination (-EAGAIN with IPCD_ACK)
 * and a peer that has not registered yet (-ENOENT). */
static int send_to(ipcd_client *c, const char *dst, const void *buf, size_t len, bool reliable)
{
        double end = 0;

        for (;;) {
                int r = ipcd_send(c, dst, DATA_TYPE, buf, len, reliable ? IPCD_ACK : 0);

                if (r >= 0 || !reliable || (r != -EAGAIN && r != -ENOENT))
                        return r < 0 ? r : 0;
                if (end == 0)
                        end = now_s() + 10;
                else if (now_s() > end)
                        return r;
                usleep(1000);
        }
}

static int drv_ipcd_send(void *ep, const void *buf, size_t len, int flags)
{
        struct drv_ipcd_ep *e = ep;

        /* IPCD_MORE transport: data with IPCD_MORE, every more_every-th
         * without (it sends what the handle holds); markers without, so
         * nothing waits in the handle at the end of a repetition. */
        if (e->more_every && len > 0 && ((const char *)buf)[0] == MARK_DATA &&
            !(flags & BSEND_RELIABLE)) {
                int r = ipcd_send(e->c, e->peer, DATA_TYPE, buf, len,
                                  ++e->n % e->more_every ? IPCD_MORE : 0);

                return r < 0 ? r : 0;
        }
        return send_to(e->c, e->peer, buf, len, flags & BSEND_RELIABLE);
}

static ssize_t recv_one(ipcd_client *c, void *buf, size_t len)
{
        for (;;) {
                ipcd_msg m;
                size_t n;
                int r = ipcd_recv(c, &m, 0, -1);

                if (r < 0)
                        return r;
                if (m.flags & IPCD_MSG_NOTICE) { /* e.g. "N messages dropped" */
                        ipcd_msg_release(c, &m);
                        continue;
                }
                n = MIN(m.len, len);
                memcpy(buf, m.data, n);
                ipcd_msg_release(c, &m);
                return (ssize_t)n;
        }
}

static ssize_t drv_ipcd_recv(void *ep, void *buf, size_t len)
{
        struct drv_ipcd_ep *e = ep;

        return recv_one(e->c, buf, len);
}

static void drv_ipcd_close(void *ep)
{
        struct drv_ipcd_ep *e = ep;

        ipcd_close(e->c);
        free(e);
}

const struct transport transport_ipcd = {
    .name = "ipcd",
    .label = "ipcd unicast",
    .setup = drv_ipcd_setup,
    .open = drv_ipcd_open,
    .send = drv_ipcd_send,
    .recv = drv_ipcd_recv,
    .close = drv_ipcd_close,
};

/* Sender-side batching: the same, A sending with IPCD_MORE (the library
 * holds up to a queue message of records and sends them as one). */
static int drv_ipcd_more_open(struct pair *p, int side, void **ret)
{
        int r = drv_ipcd_open(p, side, ret);

        if (r >= 0)
                ((struct drv_ipcd_ep *)*ret)->more_every = SENDER_BATCH;
        return r;
}

const struct transport transport_ipcd_more = {
    .name = "ipcd-more",
    .label = "ipcd unicast, IPCD_MORE",
    .setup = drv_ipcd_setup,
    .open = drv_ipcd_more_open,
    .send = drv_ipcd_send,
    .recv = drv_ipcd_recv,
    .close = drv_ipcd_close,
};

/* ---- bulk: the shared-memory ring ---- */

/* Data goes through the ring: ipcd_buf_alloc(), one copy in (the
 * sender's payload written into the ring, as write() copies into a pipe),
 * ipcd_send_buf(); the receiver reads every byte in place and releases.
 * Markers (end, quit) travel inline: per pair, order holds across both. */
struct ring_ep {
        ipcd_client *c;
        char peer[IPCD_NAME_MAX];
        bool ack; /* each chunk with IPCD_ACK, sent again on -EAGAIN */
        volatile uint64_t sink;
};

static int ring_open(struct pair *p, int side, void **ret)
{
        struct ring_ep *e = calloc(1, sizeof(*e));
        char me[IPCD_NAME_MAX];
        int r;

        if (!e)
                return -ENOMEM;
        bprintf(me, sizeof(me), "ring-%c-%u", side == SIDE_A ? 'a' : 'b', p->seq);
        bprintf(e->peer, sizeof(e->peer), "ring-%c-%u", side == SIDE_A ? 'b' : 'a', p->seq);
        r = connect_retry(p->b->ipcd_rundir, me, &e->c);
        if (r < 0) {
                free(e);
                return r;
        }
        *ret = e;
        return 0;
}

static int ring_send(void *ep, const void *buf, size_t len, int flags)
{
        struct ring_ep *e = ep;
        void *rb = NULL;
        int r;

        if (len == 0 || ((const char *)buf)[0] != MARK_DATA)
                return send_to(e->c, e->peer, buf, MIN(len, (size_t)8), flags & BSEND_RELIABLE);
        r = ipcd_buf_alloc(e->c, len, 0, &rb);
        if (r < 0)
                return r;
        memcpy(rb, buf, len);
        for (;;) {
                r = ipcd_send_buf(e->c, e->peer, DATA_TYPE, rb, len, e->ack ? IPCD_ACK : 0);
                /* -EAGAIN with IPCD_ACK: ipcd dropped it (the receiver
                 * holds its limit); the buffer is still ours: send it
                 * again once the receiver has released something. */
                if (r != -EAGAIN || !e->ack)
                        break;
                usleep(50);
        }
        if (r < 0)
                ipcd_buf_free(e->c, rb);
        return r < 0 ? r : 0;
}

static ssize_t ring_recv(void *ep, void *buf, size_t len)
{
        struct ring_ep *e = ep;

        for (;;) {
                ipcd_msg m;
                size_t n;
                int r = ipcd_recv(e->c, &m, 0, -1);

                if (r < 0)
                        return r;
                if (m.flags & IPCD_MSG_NOTICE) {
                        ipcd_msg_release(e->c, &m);
                        continue;
                }
                n = m.len;
                if (m.flags & IPCD_MSG_BULK) {
                        e->sink += touch_bytes(m.data, m.len);
                        if (n > 0 && len > 0)
                                ((char *)buf)[0] = ((const char *)m.data)[0];
                } else {
                        n = MIN(n, len);
                        memcpy(buf, m.data, n);
                }
                ipcd_msg_release(e->c, &m);
                return (ssize_t)n;
        }
}

static void ring_close(void *ep)
{
        struct ring_ep *e = ep;

        ipcd_close(e->c);
        free(e);
}

const struct transport transport_ipcd_ring = {
    .name = "ipcd-ring",
    .label = "ipcd ring (zero-copy)",
    .setup = drv_ipcd_setup,
    .open = ring_open,
    .send = ring_send,
    .recv = ring_recv,
    .close = ring_close,
    .touches = true,
};

static int ring_ack_open(struct pair *p, int side, void **ret)
{
        int r = ring_open(p, side, ret);

        if (r >= 0)
                ((struct ring_ep *)*ret)->ack = true;
        return r;
}

const struct transport transport_ipcd_ring_ack = {
    .name = "ipcd-ring-ack",
    .label = "ipcd ring, IPCD_ACK each",
    .setup = drv_ipcd_setup,
    .open = ring_ack_open,
    .send = ring_send,
    .recv = ring_recv,
    .close = ring_close,
    .touches = true,
};

/* ---- calls: ipcd_call / ipcd_reply, in the latency driver ---- */

/* A's send() is the whole ipcd_call(), which keeps the reply for A's
 * recv(); B's recv() keeps the request for B's send(), the ipcd_reply(). */
struct call_ep {
        ipcd_client *c;
        char peer[IPCD_NAME_MAX];
        ipcd_msg req;
        bool have_req;
        size_t reply_len;
        char reply[BENCH_MAX_MSG];
};

static int call_open(struct pair *p, int side, void **ret)
{
        struct call_ep *e = calloc(1, sizeof(*e));
        char me[IPCD_NAME_MAX];
        int r;

        if (!e)
                return -ENOMEM;
        bprintf(me, sizeof(me), "call-%c-%u", side == SIDE_A ? 'a' : 'b', p->seq);
        bprintf(e->peer, sizeof(e->peer), "call-%c-%u", side == SIDE_A ? 'b' : 'a', p->seq);
        r = connect_retry(p->b->ipcd_rundir, me, &e->c);
        if (r < 0) {
                free(e);
                return r;
        }
        *ret = e;
        return 0;
}

static int call_send(void *ep, const void *buf, size_t len, int flags)
{
        struct call_ep *e = ep;
        ipcd_msg m;
        int r;

        if (e->have_req) { /* B: answer the request */
                r = ipcd_reply(e->c, &e->req, DATA_TYPE, buf, len);
                ipcd_msg_release(e->c, &e->req);
                e->have_req = false;
                return r < 0 ? r : 0;
        }
        if (flags & BSEND_ONEWAY) /* the quit message: a plain send */
                return send_to(e->c, e->peer, buf, len, flags & BSEND_RELIABLE);
        r = ipcd_call(e->c, e->peer, DATA_TYPE, buf, len, &m, -1);
        if (r < 0)
                return r;
        e->reply_len = MIN(m.len, sizeof(e->reply));
        memcpy(e->reply, m.data, e->reply_len);
        ipcd_msg_release(e->c, &m);
        return 0;
}

static ssize_t call_recv(void *ep, void *buf, size_t len)
{
        struct call_ep *e = ep;
        size_t n;

        if (e->reply_len > 0) { /* A: the reply ipcd_call() brought */
                n = MIN(e->reply_len, len);
                memcpy(buf, e->reply, n);
                e->reply_len = 0;
                return (ssize_t)n;
        }
        for (;;) {
                int r = ipcd_recv(e->c, &e->req, 0, -1);

                if (r < 0)
                        return r;
                if (e->req.flags & IPCD_MSG_NOTICE) {
                        ipcd_msg_release(e->c, &e->req);
                        continue;
                }
                n = MIN(e->req.len, len);
                memcpy(buf, e->req.data, n);
                if (e->req.flags & IPCD_MSG_REQUEST)
                        e->have_req = true;
                else
                        ipcd_msg_release(e->c, &e->req);
                return (ssize_t)n;
        }
}

static void call_close(void *ep)
{
        struct call_ep *e = ep;

        if (e->have_req)
                ipcd_msg_release(e->c, &e->req);
        ipcd_close(e->c);
        free(e);
}

const struct transport transport_ipcd_call = {
    .name = "ipcd-call",
    .label = "ipcd_call / ipcd_reply",
    .setup = drv_ipcd_setup,
    .open = call_open,
    .send = call_send,
    .recv = call_recv,
    .close = call_close,
};

/* ---- processes for the ipcd-only sections ---- */

struct xshm {
        int err;
        char errmsg[256];
        double start[MAX_REPS + 1], end[MAX_REPS + 1];
        uint64_t sent[MAX_REPS + 1], received[MAX_REPS + 1];
        /* scale: the holder's progress */
        uint32_t connected, subscribed;
        double t_begin, t_end;
};

#define FAN_MAX 16

/* fan-out: per repetition and subscriber */
struct fanshm {
        double start[MAX_REPS + 1], end[MAX_REPS + 1][FAN_MAX];
        uint64_t sent[MAX_REPS + 1], received[MAX_REPS + 1][FAN_MAX];
};

struct xctx {
        struct bench *b;
        struct xshm *shm;
        struct fanshm *fan;
        unsigned seq;
        int mode;
        size_t size;        /* fan-out payload */
        unsigned nsub, idx; /* fan-out: subscribers, this subscriber */
        int ready_wr, go_rd, done_rd, done_wr, cmd_rd;
};

typedef int (*xfn)(struct xctx *x);

static void xfail(struct xctx *x, int r, const char *what)
{
        if (x->shm->err)
                return;
        x->shm->err = r ? r : -EIO;
        bprintf(x->shm->errmsg, sizeof(x->shm->errmsg), "%s: %s", what, strerror(-x->shm->err));
}

static pid_t xspawn(struct xctx *x, xfn fn)
{
        pid_t pid = fork();
        int r;

        if (pid != 0)
                return pid;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void)pin_self(-1);
        r = fn(x);
        _exit(r < 0 ? 1 : 0);
}

static int x_ready_go(struct xctx *x)
{
        char ch = 'R';

        if (write(x->ready_wr, &ch, 1) != 1)
                return -EIO;
        if (read(x->go_rd, &ch, 1) != 1)
                return -EIO;
        return 0;
}

static int x_wait_ready(int fd, unsigned n, double timeout_s)
{
        for (unsigned i = 0; i < n; i++) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                char ch;

                if (poll(&pfd, 1, (int)(timeout_s * 1000)) <= 0)
                        return -ETIMEDOUT;
                if (read(fd, &ch, 1) != 1 || ch != 'R')
                        return -EIO;
        }
        return 0;
}

/* The isolation and fan-out receivers keep DESIGN's default backlog (the
 * bench's config raises it for the one-way sections): what they measure
 * is what a default client gets. */
static int default_backlog(ipcd_client *c)
{
        return ipcd_set_overflow(c, IPCD_OVERFLOW_DROP_NEW, DEFAULT_BACKLOG_BYTES, 0);
}

/* ---- isolation ---- */

enum { ISO_ALONE, ISO_BOTH, ISO_STUCK };

static int iso_fast(struct xctx *x)
{
        char name[IPCD_NAME_MAX], buf[256];
        ipcd_client *c = NULL;
        unsigned rep = 0;
        uint64_t count = 0;
        int r;

        bprintf(name, sizeof(name), "iso-f-%u", x->seq);
        r = connect_retry(x->b->ipcd_rundir, name, &c);
        if (r >= 0) {
                r = default_backlog(c);
                if (r < 0) {
                        xfail(x, r, "isolation: ipcd_set_overflow F");
                        ipcd_close(c);
                }
        } else {
                xfail(x, r, "isolation: connect F");
        }
        if (r < 0) {
                (void)!write(x->ready_wr, "F", 1);
                return r;
        }
        r = x_ready_go(x);
        while (r >= 0) {
                ssize_t n = recv_one(c, buf, sizeof(buf));

                if (n < 0) {
                        r = (int)n;
                        xfail(x, r, "isolation: F receive");
                        break;
                }
                if (n == 0)
                        continue;
                if (buf[0] == MARK_DATA) {
                        count++;
                } else if (buf[0] == MARK_END) {
                        if (rep <= MAX_REPS) {
                                x->shm->end[rep] = now_s();
                                x->shm->received[rep] = count;
                        }
                        rep++;
                        count = 0;
                        if (write(x->done_wr, "D", 1) != 1)
                                r = -EIO;
                } else if (buf[0] == MARK_QUIT) {
                        break;
                }
        }
        ipcd_close(c);
        return r;
}

static int iso_slow(struct xctx *x)
{
        char name[IPCD_NAME_MAX], buf[256];
        ipcd_client *c = NULL;
        int r;

        bprintf(name, sizeof(name), "iso-l-%u", x->seq);
        r = connect_retry(x->b->ipcd_rundir, name, &c);
        if (r >= 0) {
                r = default_backlog(c);
                if (r < 0) {
                        xfail(x, r, "isolation: ipcd_set_overflow L");
                        ipcd_close(c);
                }
        } else {
                xfail(x, r, "isolation: connect L");
        }
        if (r < 0) {
                (void)!write(x->ready_wr, "F", 1);
                return r;
        }
        r = x_ready_go(x);
        if (x->mode == ISO_STUCK) {
                /* Registered, never reads: its queue and backlog fill up. */
                for (;;)
                        pause();
        }
        while (r >= 0) {
                ssize_t n = recv_one(c, buf, sizeof(buf));

                if (n < 0) {
                        r = (int)n;
                        xfail(x, r, "isolation: L receive");
                        break;
                }
                if (n > 0 && buf[0] == MARK_QUIT)
                        break;
        }
        ipcd_close(c);
        return r;
}

static int iso_sender(struct xctx *x)
{
        char name[IPCD_NAME_MAX], f[IPCD_NAME_MAX], l[IPCD_NAME_MAX], buf[64];
        ipcd_client *c = NULL;
        int r;

        bprintf(name, sizeof(name), "iso-s-%u", x->seq);
        bprintf(f, sizeof(f), "iso-f-%u", x->seq);
        bprintf(l, sizeof(l), "iso-l-%u", x->seq);
        r = connect_retry(x->b->ipcd_rundir, name, &c);
        if (r < 0) {
                xfail(x, r, "isolation: connect S");
                (void)!write(x->ready_wr, "F", 1);
                return r;
        }
        r = x_ready_go(x);
        for (unsigned rep = 0; r >= 0 && rep <= x->b->reps; rep++) {
                double dur = rep == 0 ? x->b->warm_s : x->b->rep_s;
                double start = now_s(), stop = start + dur;
                uint64_t n = 0;
                char ch;

                x->shm->start[rep] = start;
                memset(buf, 0x5a, sizeof(buf));
                buf[0] = MARK_DATA;
                for (;;) {
                        r = ipcd_send(c, f, DATA_TYPE, buf, sizeof(buf), 0);
                        if (r >= 0 && x->mode != ISO_ALONE)
                                r = ipcd_send(c, l, DATA_TYPE, buf, sizeof(buf), 0);
                        if (r < 0) {
                                xfail(x, r, "isolation: S send");
                                break;
                        }
                        n++;
                        if ((n & 15) == 0 && now_s() >= stop)
                                break;
                }
                if (r < 0)
                        break;
                x->shm->sent[rep] = n;
                buf[0] = MARK_END;
                r = send_to(c, f, buf, sizeof(buf), true);
                if (r < 0) {
                        xfail(x, r, "isolation: S end marker");
                        break;
                }
                if (read(x->done_rd, &ch, 1) != 1)
                        r = -EIO;
        }
        buf[0] = MARK_QUIT;
        (void)send_to(c, f, buf, sizeof(buf), true);
        if (x->mode == ISO_BOTH)
                (void)send_to(c, l, buf, sizeof(buf), true);
        ipcd_close(c);
        return r;
}

static int iso_phase(struct bench *b, int mode, struct stat3 *ret, char *why, size_t why_size)
{
        struct xshm *shm;
        struct xctx x = {.b = b, .seq = ++b->seq, .mode = mode};
        int ready[2] = {-1, -1}, go[2] = {-1, -1}, done[2] = {-1, -1};
        pid_t pf = 0, pl = 0, ps = 0;
        double rate[MAX_REPS];
        unsigned n = 0, nready = 0;
        int r = 0, st;

        shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shm == MAP_FAILED)
                return negative_errno();
        memset(shm, 0, sizeof(*shm));
        x.shm = shm;
        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) {
                r = negative_errno();
                goto out;
        }
        x.ready_wr = ready[1];
        x.go_rd = go[0];
        x.done_rd = done[0];
        x.done_wr = done[1];

        pf = xspawn(&x, iso_fast);
        nready++;
        if (mode != ISO_ALONE) {
                pl = xspawn(&x, iso_slow);
                nready++;
        }
        r = x_wait_ready(ready[0], nready, 20);
        if (r < 0)
                goto out;
        ps = xspawn(&x, iso_sender);
        r = x_wait_ready(ready[0], 1, 20);
        if (r < 0)
                goto out;
        for (unsigned i = 0; i < nready + 1; i++)
                (void)!write(go[1], "G", 1);

        r = wait_child(ps, b->warm_s + (b->reps + 1) * b->rep_s * 3 + (b->quick ? 10 : 30), &st);
        if (r == 0) {
                ps = 0;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        r = -EIO;
        }
        if (r == 0 && wait_child(pf, 10, &st) == 0)
                pf = 0;
out:
        kill_wait(ps);
        kill_wait(pf);
        kill_wait(pl); /* stuck L never exits by itself */
        for (size_t i = 0; i < 2; i++) {
                safe_close(ready[i]);
                safe_close(go[i]);
                safe_close(done[i]);
        }
        if (shm->err) {
                bprintf(why, why_size, "%s", shm->errmsg);
                if (r == 0)
                        r = shm->err;
        } else if (r < 0) {
                bprintf(why, why_size, "%s", strerror(-r));
        }
        if (r == 0) {
                for (unsigned rep = 1; rep <= b->reps; rep++) {
                        double dt = shm->end[rep] - shm->start[rep];

                        if (dt > 0)
                                rate[n++] = (double)shm->received[rep] / dt;
                }
                *ret = stat3_of(rate, n);
        }
        munmap(shm, sizeof(*shm));
        return r;
}

int bench_isolation(struct bench *b)
{
        static const char *const names[] = {"F alone (S sends to F only)",
                                            "F, with L reading (S alternates F, L)",
                                            "F, with L stuck (L never reads)"};
        static const char *const keys[] = {"alone", "l-reading", "l-stuck"};
        struct stat3 s[3] = {0};
        char why[3][256] = {"", "", ""}, buf[96], rb[32];

        out(b, "\n== 6. Isolation: a receiver that stops reading (ipcd only, 64 B) ==\n");
        out(b,
            "Sender S sends to receivers F and L; L stops reading.  Figure: F's receive rate.\n");
        if (!drv_ipcd_available(b)) {
                out(b, "  %s\n", b->ipcd_why);
                return 1;
        }
        for (int m = 0; m < 3; m++) {
                int r = iso_phase(b, m, &s[m], why[m], sizeof(why[m]));

                if (r < 0 && !why[m][0])
                        bprintf(why[m], sizeof(why[m]), "%s", strerror(-r));
        }
        out(b, "  %-40s %-34s %s\n", "case", "F msgs/s median [min..max]", "ratio");
        for (int m = 0; m < 3; m++) {
                double ratio = 0;
                const char *to = "";

                if (m == ISO_STUCK && s[m].valid && s[ISO_BOTH].valid) {
                        ratio = s[m].med / s[ISO_BOTH].med;
                        to = "l-reading";
                } else if (m == ISO_BOTH && s[m].valid && s[ISO_ALONE].valid) {
                        ratio = s[m].med / s[ISO_ALONE].med;
                        to = "alone";
                }
                if (!s[m].valid) {
                        out(b, "  %-40s failed: %s\n", names[m], why[m]);
                        continue;
                }
                bprintf(buf, sizeof(buf), "%s [%s..", fmt_rate(s[m].med, rb, sizeof(rb)),
                        fmt_rate(s[m].min, rb + 16, 16));
                bprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s]",
                        fmt_rate(s[m].max, rb, sizeof(rb)));
                if (ratio > 0)
                        out(b, "  %-40s %-34s %.2f x %s\n", names[m], buf, ratio, to);
                else
                        out(b, "  %-40s %s\n", names[m], buf);
                csv_row(b, "isolation", keys[m], "ipcd", "unpinned", 64, "fast_rate", "msgs/s",
                        &s[m], ratio, to);
        }
        if (s[ISO_STUCK].valid && s[ISO_ALONE].valid)
                out(b, "  F with L stuck / F alone: %.2f (S spends half its sends on L there)\n",
                    s[ISO_STUCK].med / s[ISO_ALONE].med);
        b->iso_ratio =
            s[ISO_STUCK].valid && s[ISO_BOTH].valid ? s[ISO_STUCK].med / s[ISO_BOTH].med : NAN;
        return 0;
}

/* ---- fan-out ---- */

static void fan_topic(const struct xctx *x, char *buf, size_t size)
{
        bprintf(buf, size, "bench/fan/%u", x->seq);
}

static int fan_subscriber(struct xctx *x)
{
        char name[IPCD_NAME_MAX], topic[IPCD_NAME_MAX];
        ipcd_client *c = NULL;
        unsigned rep = 0;
        uint64_t count = 0;
        int r;

        bprintf(name, sizeof(name), "fan-%u-%u", x->seq, x->idx);
        fan_topic(x, topic, sizeof(topic));
        r = connect_retry(x->b->ipcd_rundir, name, &c);
        if (r >= 0) {
                r = default_backlog(c);
                if (r < 0)
                        xfail(x, r, "fan-out: ipcd_set_overflow");
        }
        if (r >= 0) {
                r = ipcd_subscribe(c, topic);
                if (r < 0)
                        xfail(x, r, "fan-out: ipcd_subscribe");
        } else if (!c) {
                xfail(x, r, "fan-out: connect");
        }
        if (r < 0) {
                (void)!write(x->ready_wr, "F", 1);
                if (c)
                        ipcd_close(c);
                return r;
        }
        r = x_ready_go(x);
        while (r >= 0) {
                ipcd_msg m;
                char mark;

                r = ipcd_recv(c, &m, 0, -1);
                if (r < 0) {
                        xfail(x, r, "fan-out: receive");
                        break;
                }
                if ((m.flags & IPCD_MSG_NOTICE) || m.len == 0) {
                        ipcd_msg_release(c, &m);
                        continue;
                }
                /* Delivery, not consumption: look at the first and last
                 * byte only (a reader of every byte would measure memory
                 * bandwidth on two cores). */
                mark = ((const char *)m.data)[0];
                bench_sink += ((const unsigned char *)m.data)[m.len - 1];
                ipcd_msg_release(c, &m);
                if (mark == MARK_DATA) {
                        count++;
                } else if (mark == MARK_END) {
                        if (rep <= MAX_REPS) {
                                x->fan->end[rep][x->idx] = now_s();
                                x->fan->received[rep][x->idx] = count;
                        }
                        rep++;
                        count = 0;
                        if (write(x->done_wr, "D", 1) != 1)
                                r = -EIO;
                } else if (mark == MARK_QUIT) {
                        break;
                }
        }
        ipcd_close(c);
        return r;
}

static int fan_publish(ipcd_client *c, const char *topic, const char *payload, size_t len)
{
        void *rb = NULL;
        int r;

        if (len <= 4096) /* inline */
                return ipcd_publish(c, topic, DATA_TYPE, payload, len, 0);
        r = ipcd_buf_alloc(c, len, 0, &rb);
        if (r < 0)
                return r;
        memcpy(rb, payload, len); /* the one copy in */
        r = ipcd_publish_buf(c, topic, DATA_TYPE, rb, len, 0);
        if (r < 0)
                ipcd_buf_free(c, rb);
        return r;
}

static int fan_publisher(struct xctx *x)
{
        char name[IPCD_NAME_MAX], topic[IPCD_NAME_MAX], dst[IPCD_NAME_MAX], mark[8];
        _cleanup_free_ char *payload = malloc(x->size);
        ipcd_client *c = NULL;
        int r;

        if (!payload)
                return -ENOMEM;
        memset(payload, 0x5a, x->size);
        payload[0] = MARK_DATA;
        bprintf(name, sizeof(name), "fan-p-%u", x->seq);
        fan_topic(x, topic, sizeof(topic));
        r = connect_retry(x->b->ipcd_rundir, name, &c);
        if (r < 0) {
                xfail(x, r, "fan-out: connect publisher");
                (void)!write(x->ready_wr, "F", 1);
                return r;
        }
        r = x_ready_go(x);
        for (unsigned rep = 0; r >= 0 && rep <= x->b->reps; rep++) {
                double start = now_s(), stop = start + (rep == 0 ? x->b->warm_s : x->b->rep_s);
                uint64_t n = 0;

                x->fan->start[rep] = start;
                for (;;) {
                        r = fan_publish(c, topic, payload, x->size);
                        if (r < 0) {
                                xfail(x, r, "fan-out: publish");
                                break;
                        }
                        n++;
                        if (((n & 15) == 0 || x->size > 4096) && now_s() >= stop)
                                break;
                }
                if (r < 0)
                        break;
                x->fan->sent[rep] = n;
                /* The end marker goes to each subscriber by name, with an
                 * ACK: a publish may be dropped for a full subscriber. */
                memset(mark, 0, sizeof(mark));
                mark[0] = MARK_END;
                for (unsigned i = 0; r >= 0 && i < x->nsub; i++) {
                        bprintf(dst, sizeof(dst), "fan-%u-%u", x->seq, i);
                        r = send_to(c, dst, mark, sizeof(mark), true);
                        if (r < 0)
                                xfail(x, r, "fan-out: end marker");
                }
                for (unsigned i = 0; r >= 0 && i < x->nsub; i++) {
                        char ch;

                        if (read(x->done_rd, &ch, 1) != 1)
                                r = -EIO;
                }
        }
        mark[0] = MARK_QUIT;
        for (unsigned i = 0; i < x->nsub; i++) {
                bprintf(dst, sizeof(dst), "fan-%u-%u", x->seq, i);
                (void)send_to(c, dst, mark, sizeof(mark), true);
        }
        ipcd_close(c);
        return r;
}

/* One fan-out case: delivered messages per second, summed over the
 * subscribers, per repetition; *lost: published copies not delivered. */
static int fan_case(struct bench *b, size_t size, unsigned nsub, struct stat3 *ret, uint64_t *lost,
                    char *why, size_t why_size)
{
        struct xshm *shm;
        struct fanshm *fan;
        struct xctx x = {.b = b, .seq = ++b->seq, .size = size, .nsub = nsub};
        int ready[2] = {-1, -1}, go[2] = {-1, -1}, done[2] = {-1, -1};
        pid_t subs[FAN_MAX] = {0}, pp = 0;
        double rate[MAX_REPS];
        unsigned n = 0;
        int r = 0, st;

        shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        fan = mmap(NULL, sizeof(*fan), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shm == MAP_FAILED || fan == MAP_FAILED) {
                r = -ENOMEM;
                goto out;
        }
        memset(shm, 0, sizeof(*shm));
        memset(fan, 0, sizeof(*fan));
        x.shm = shm;
        x.fan = fan;
        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) {
                r = negative_errno();
                goto out;
        }
        x.ready_wr = ready[1];
        x.go_rd = go[0];
        x.done_rd = done[0];
        x.done_wr = done[1];
        for (unsigned i = 0; i < nsub; i++) {
                x.idx = i;
                subs[i] = xspawn(&x, fan_subscriber);
        }
        r = x_wait_ready(ready[0], nsub, 30);
        if (r < 0)
                goto out;
        pp = xspawn(&x, fan_publisher);
        r = x_wait_ready(ready[0], 1, 20);
        if (r < 0)
                goto out;
        for (unsigned i = 0; i <= nsub; i++)
                (void)!write(go[1], "G", 1);
        r = wait_child(pp, b->warm_s + (b->reps + 1) * b->rep_s * 3 + (b->quick ? 10 : 30), &st);
        if (r == 0) {
                pp = 0;
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        r = -EIO;
        }
out:
        kill_wait(pp);
        for (unsigned i = 0; i < nsub; i++)
                kill_wait(subs[i]);
        for (size_t i = 0; i < 2; i++) {
                safe_close(ready[i]);
                safe_close(go[i]);
                safe_close(done[i]);
        }
        if (shm != MAP_FAILED && shm->err) {
                bprintf(why, why_size, "%s", shm->errmsg);
                if (r == 0)
                        r = shm->err;
        } else if (r < 0) {
                bprintf(why, why_size, "%s", strerror(-r));
        }
        *lost = 0;
        if (r == 0) {
                for (unsigned rep = 1; rep <= b->reps; rep++) {
                        double last = 0;
                        uint64_t got = 0;

                        for (unsigned i = 0; i < nsub; i++) {
                                got += fan->received[rep][i];
                                last = MAX(last, fan->end[rep][i]);
                        }
                        if (last > fan->start[rep])
                                rate[n++] = (double)got / (last - fan->start[rep]);
                        if (fan->sent[rep] * nsub > got)
                                *lost += fan->sent[rep] * nsub - got;
                }
                *ret = stat3_of(rate, n);
        }
        if (shm != MAP_FAILED)
                munmap(shm, sizeof(*shm));
        if (fan != MAP_FAILED)
                munmap(fan, sizeof(*fan));
        return r;
}

int bench_fanout(struct bench *b)
{
        static const size_t sizes[] = {64, 1048576};
        static const unsigned subs[] = {1, 4, 16};
        unsigned saved_reps = b->reps;
        double saved_rep = b->rep_s;
        struct stat3 res[ELEMENTSOF(sizes)][ELEMENTSOF(subs)];
        uint64_t lost[ELEMENTSOF(sizes)][ELEMENTSOF(subs)];
        char why[ELEMENTSOF(sizes)][ELEMENTSOF(subs)][256];

        out(b, "\n== 4. Fan-out: one publisher, N subscribers (ipcd only, unpinned) ==\n");
        if (!drv_ipcd_available(b)) {
                out(b, "  %s\n", b->ipcd_why);
                csv_row(b, "fanout", "all", "ipcd", "", 0, "rate", "msgs/s", NULL, 0, b->ipcd_why);
                return 1;
        }
        out(b, "Delivered messages and bytes per second, all subscribers together; 1 MiB goes "
               "through the\nring (one copy in); subscribers look at the first and last byte "
               "only (delivery, not reading).\n");
        b->reps = MIN(b->reps, 3u);
        b->rep_s = MIN(b->rep_s, 0.4);
        memset(res, 0, sizeof(res));
        for (size_t s = 0; s < ELEMENTSOF(sizes); s++)
                for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                        vlog(b, "fan-out %zu B to %u", sizes[s], subs[i]);
                        why[s][i][0] = 0;
                        if (fan_case(b, sizes[s], subs[i], &res[s][i], &lost[s][i], why[s][i],
                                     sizeof(why[s][i])) < 0 &&
                            !why[s][i][0])
                                bprintf(why[s][i], sizeof(why[s][i]), "failed");
                }
        out(b, "%u repetitions of %.2f s here.\n", b->reps, b->rep_s);
        b->reps = saved_reps;
        b->rep_s = saved_rep;
        out(b, "  %-8s %-12s %-28s %-10s %-10s %s\n", "payload", "subscribers",
            "delivered msgs/s [min..max]", "MB/s", "vs 1 sub", "lost");
        for (size_t s = 0; s < ELEMENTSOF(sizes); s++)
                for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                        const struct stat3 *r = &res[s][i];
                        char a[24], c[24], d[24], buf[96], v[16] = "-", test[32], pl[16];
                        double ratio = 0;

                        bprintf(pl, sizeof(pl), "%s", sizes[s] >= 1048576 ? "1 MiB" : "64 B");
                        bprintf(test, sizeof(test), "subscribers-%u", subs[i]);
                        if (!r->valid) {
                                out(b, "  %-8s %-12u failed: %s\n", pl, subs[i], why[s][i]);
                                csv_row(b, "fanout", test, "ipcd", "unpinned", sizes[s], "rate",
                                        "msgs/s", NULL, 0, why[s][i]);
                                continue;
                        }
                        if (res[s][0].valid) {
                                ratio = r->med / res[s][0].med;
                                bprintf(v, sizeof(v), "%.2fx", ratio);
                        }
                        bprintf(buf, sizeof(buf), "%s [%s..%s]", fmt_rate(r->med, a, sizeof(a)),
                                fmt_rate(r->min, c, sizeof(c)), fmt_rate(r->max, d, sizeof(d)));
                        out(b, "  %-8s %-12u %-28s %-10.0f %-10s %llu\n", pl, subs[i], buf,
                            r->med * (double)sizes[s] / 1e6, v, (unsigned long long)lost[s][i]);
                        csv_row(b, "fanout", test, "ipcd", "unpinned", sizes[s], "rate", "msgs/s",
                                r, ratio, "subscribers-1");
                        if (sizes[s] >= 1048576 && subs[i] == 16)
                                b->fan16_ratio = ratio > 0 ? ratio : NAN;
                        if (sizes[s] < 1048576 && subs[i] == 16)
                                b->fan16_small_ratio = ratio > 0 ? ratio : NAN;
                }
        out(b, "  (vs 1 sub: delivered per second / with one subscriber; lost: published copies "
               "not delivered)\n");
        return 0;
}

/* ---- scale ---- */

/* Holds idle clients: reads a target count from its command pipe,
 * connects up to it (timing the registrations), answers, repeats;
 * exits on 0. */
#define HOLD_SUBSCRIBE 0x80000000u

static int holder_main(struct xctx *x)
{
        struct rlimit rl;
        ipcd_client **cl = NULL;
        uint32_t n = 0, cap = 0;
        int r = 0;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                if (rl.rlim_cur < 8192 && geteuid() == 0)
                        rl.rlim_cur = rl.rlim_max = 8192;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (;;) {
                uint32_t target;

                if (read(x->cmd_rd, &target, sizeof(target)) != sizeof(target) || target == 0)
                        break;
                if (target & HOLD_SUBSCRIBE) { /* k subscriptions for each client */
                        uint32_t k = target & ~HOLD_SUBSCRIBE;

                        x->shm->t_begin = now_s();
                        for (uint32_t i = 0; i < n && r >= 0; i++)
                                for (uint32_t j = 0; j < k && r >= 0; j++) {
                                        char topic[IPCD_NAME_MAX];

                                        bprintf(topic, sizeof(topic), "idle/%u/%u/%u", x->seq, i,
                                                j);
                                        r = ipcd_subscribe(cl[i], topic);
                                        if (r < 0)
                                                xfail(x, r, "scale: ipcd_subscribe");
                                        else
                                                x->shm->subscribed++;
                                }
                        x->shm->t_end = now_s();
                        if (write(x->ready_wr, "R", 1) != 1)
                                break;
                        continue;
                }
                if (target > cap) {
                        ipcd_client **ncl = realloc(cl, target * sizeof(*cl));

                        if (!ncl) {
                                r = -ENOMEM;
                                break;
                        }
                        cl = ncl;
                        cap = target;
                }
                x->shm->t_begin = now_s();
                while (n < target) {
                        char name[IPCD_NAME_MAX];

                        bprintf(name, sizeof(name), "idle-%u-%u", x->seq, n);
                        r = ipcd_connect_at(x->b->ipcd_rundir, name, &cl[n]);
                        if (r < 0) {
                                xfail(x, r, "scale: connect");
                                break;
                        }
                        n++;
                        x->shm->connected = n;
                }
                x->shm->t_end = now_s();
                if (write(x->ready_wr, "R", 1) != 1)
                        break;
        }
        for (uint32_t i = 0; i < n; i++)
                ipcd_close(cl[i]);
        free(cl);
        return r;
}

struct scale_point {
        unsigned clients, subs;
        bool ok;
        char why[256];
        struct lat_result lat;
        struct thr_result thr;
        double reg_rate; /* connects/s of this step */
        double rss_kb;   /* daemon VmRSS with the idle clients */
        double wakeups;  /* per second, idle */
        unsigned idle_clients;
};

static double daemon_rss_kb(struct bench *b)
{
        long v;

        return status_field(b->ipcd_pid, "VmRSS", &v) == 0 ? (double)v : NAN;
}

static double idle_wakeups(struct bench *b, double secs)
{
        uint64_t c0, c1;

        usleep(300000); /* let the last exits settle */
        if (ctxt_switches(b->ipcd_pid, &c0) < 0)
                return NAN;
        usleep((useconds_t)(secs * 1e6));
        if (ctxt_switches(b->ipcd_pid, &c1) < 0 || c1 < c0) /* a thread exited */
                return NAN;
        return (double)(c1 - c0) / secs;
}

int bench_scale(struct bench *b)
{
        /* clients, then subscriptions per idle client (the last point:
         * 1000 clients holding 9980 subscriptions, none of them matched) */
        static const unsigned sizes_full[] = {2, 100, 1000, 1000};
        static const unsigned subs_per[] = {0, 0, 0, 10};
        struct scale_point pt[4];
        size_t npt = ELEMENTSOF(sizes_full), ibig = 2; /* 1000 clients, no subscriptions */
        struct xshm *shm;
        struct xctx x = {.b = b, .seq = ++b->seq};
        int ready[2] = {-1, -1}, cmd[2] = {-1, -1};
        double idle_s = b->quick ? 1.0 : 5.0, rss0;
        pid_t holder;
        char lb[96], tb[96], rb[32];

        out(b, "\n== 7. Scale (ipcd only, 64 B) ==\n");
        if (!drv_ipcd_available(b)) {
                out(b, "  %s\n", b->ipcd_why);
                return 1;
        }
        /* A fresh daemon: its memory and state owe nothing to the
         * sections before. */
        drv_ipcd_daemon_stop(b);
        if (drv_ipcd_daemon_start(b) != 0) {
                out(b, "  could not restart ipcd: %s\n", b->ipcd_why);
                return 1;
        }
        if (!b->ipcd_big_config)
                out(b, "  note: ipcd runs with its default limits (64 clients per uid): points "
                       "above that fail\n");

        shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shm == MAP_FAILED)
                return negative_errno();
        memset(shm, 0, sizeof(*shm));
        x.shm = shm;
        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(cmd, O_CLOEXEC) < 0) {
                munmap(shm, sizeof(*shm));
                return negative_errno();
        }
        x.ready_wr = ready[1];
        x.cmd_rd = cmd[0];
        holder = xspawn(&x, holder_main);

        rss0 = daemon_rss_kb(b);
        memset(pt, 0, sizeof(pt));
        for (size_t i = 0; i < npt; i++) {
                struct scale_point *s = &pt[i];
                uint32_t idle = sizes_full[i] - 2;

                s->clients = sizes_full[i];
                s->idle_clients = idle;
                if (subs_per[i] > 0) {
                        uint32_t cmdv = HOLD_SUBSCRIBE | subs_per[i];

                        if (write(cmd[1], &cmdv, sizeof(cmdv)) != sizeof(cmdv) ||
                            x_wait_ready(ready[0], 1, 120) < 0 || shm->err) {
                                bprintf(s->why, sizeof(s->why), "subscriptions: %s",
                                        shm->errmsg[0] ? shm->errmsg : "timeout");
                                s->subs = shm->subscribed;
                                continue; /* a topics-less ipcd: report, go on */
                        }
                        s->subs = shm->subscribed;
                } else if (idle > 0 && idle > shm->connected) {
                        uint32_t before = shm->connected;

                        if (write(cmd[1], &idle, sizeof(idle)) != sizeof(idle) ||
                            x_wait_ready(ready[0], 1, 120) < 0 || shm->connected < idle) {
                                bprintf(s->why, sizeof(s->why),
                                        "only %u of %u idle clients connected: %s", shm->connected,
                                        idle, shm->errmsg[0] ? shm->errmsg : "timeout");
                                break;
                        }
                        if (shm->t_end > shm->t_begin)
                                s->reg_rate = (double)(idle - before) / (shm->t_end - shm->t_begin);
                }
                (void)run_latency(b, &transport_ipcd, true, 64, &s->lat);
                (void)run_throughput(b, &transport_ipcd, true, 64, &s->thr);
                s->wakeups = idle_wakeups(b, idle_s);
                s->rss_kb = daemon_rss_kb(b);
                s->ok = s->lat.ok && s->thr.ok;
                if (!s->ok) {
                        bprintf(s->why, sizeof(s->why), "%s", s->lat.ok ? s->thr.why : s->lat.why);
                        break; /* the larger points would fail the same way, slowly */
                }
        }
        {
                uint32_t zero = 0;

                (void)!write(cmd[1], &zero, sizeof(zero));
        }
        if (wait_child(holder, 30, NULL) < 0)
                kill_wait(holder);
        for (size_t i = 0; i < 2; i++) {
                safe_close(ready[i]);
                safe_close(cmd[i]);
        }
        munmap(shm, sizeof(*shm));

        out(b, "A fresh ipcd; the other clients connect and sit idle.  Routing: A<->B round trip "
               "and A->B\n"
               "one-way rate with every process on CPU 0, so 1/rate is the CPU cost of one "
               "message.\n");
        out(b, "  %-17s %-24s %-28s %-7s %-12s %-10s %s\n", "clients", "round trip us [min..max]",
            "one-way msgs/s [min..max]", "ns/msg", "vs 2 clients", "connects/s", "idle wake-ups/s");
        for (size_t i = 0; i < npt; i++) {
                struct scale_point *s = &pt[i];
                char label[32];
                double cost, ratio = NAN;
                char ratio_s[32] = "-", reg[32] = "-", wk[32] = "-";

                if (!s->clients)
                        break;
                if (subs_per[i])
                        bprintf(label, sizeof(label), "%u + %u subs", s->clients,
                                s->subs ? s->subs : subs_per[i] * s->idle_clients);
                else
                        bprintf(label, sizeof(label), "%u", s->clients);
                if (!s->ok) {
                        out(b, "  %-17s failed: %s\n", label, s->why[0] ? s->why : "?");
                        if (subs_per[i])
                                csv_row(b, "scale", "clients-1000-subs", "ipcd", "same-cpu", 64,
                                        "rate", "msgs/s", NULL, 0, s->why);
                        continue;
                }
                cost = 1e9 / s->thr.rate.med;
                if (i > 0 && pt[0].ok) {
                        ratio = s->lat.p50.med / pt[0].lat.p50.med;
                        bprintf(ratio_s, sizeof(ratio_s), "%.2f / %.2f", ratio,
                                pt[0].thr.rate.med / s->thr.rate.med);
                }
                if (s->reg_rate > 0)
                        bprintf(reg, sizeof(reg), "%.0f", s->reg_rate);
                if (isfinite(s->wakeups))
                        bprintf(wk, sizeof(wk), "%.1f (%u idle)", s->wakeups, s->idle_clients);
                bprintf(tb, sizeof(tb), "%s [", fmt_rate(s->thr.rate.med, rb, sizeof(rb)));
                bprintf(tb + strlen(tb), sizeof(tb) - strlen(tb), "%s..",
                        fmt_rate(s->thr.rate.min, rb, sizeof(rb)));
                bprintf(tb + strlen(tb), sizeof(tb) - strlen(tb), "%s]",
                        fmt_rate(s->thr.rate.max, rb, sizeof(rb)));
                out(b, "  %-17s %-24s %-28s %-7.0f %-12s %-10s %s\n", label,
                    fmt_stat(&s->lat.p50, 1, lb, sizeof(lb)), tb, cost, ratio_s, reg, wk);
                {
                        char test[32];
                        struct stat3 w = {s->wakeups, s->wakeups, s->wakeups, isfinite(s->wakeups)};
                        struct stat3 rr = {s->reg_rate, s->reg_rate, s->reg_rate, s->reg_rate > 0};

                        bprintf(test, sizeof(test), "clients-%u%s", s->clients,
                                subs_per[i] ? "-subs" : "");
                        csv_row(b, "scale", test, "ipcd", "same-cpu", 64, "rtt_p50", "us",
                                &s->lat.p50, ratio, i > 0 ? "clients-2" : "");
                        csv_row(b, "scale", test, "ipcd", "same-cpu", 64, "rate", "msgs/s",
                                &s->thr.rate,
                                i > 0 && pt[0].ok ? s->thr.rate.med / pt[0].thr.rate.med : 0,
                                i > 0 ? "clients-2" : "");
                        csv_row(b, "scale", test, "ipcd", "", 0, "idle_wakeups", "per_s", &w, 0,
                                "");
                        if (rr.valid)
                                csv_row(b, "scale", test, "ipcd", "", 0, "registrations", "per_s",
                                        &rr, 0, "");
                }
        }
        out(b, "  (vs 2 clients: round-trip ratio / cost-per-message ratio; >1 means slower)\n");
        if (isfinite(rss0) && pt[ibig].ok && isfinite(pt[ibig].rss_kb) && pt[ibig].idle_clients) {
                double per = (pt[ibig].rss_kb - rss0) * 1024.0 / pt[ibig].idle_clients;
                struct stat3 m = {per, per, per, true};

                out(b,
                    "Daemon memory: VmRSS %.0f kB with no client, %.0f kB with %u idle clients: "
                    "%.1f kB per client\n"
                    "  (the daemon's own memory; the kernel's queues and semaphores are not in "
                    "VmRSS)\n",
                    rss0, pt[ibig].rss_kb, pt[ibig].idle_clients, per / 1024.0);
                csv_row(b, "scale", "memory", "ipcd", "", 0, "rss_per_client", "bytes", &m, 0, "");
        }
        b->scale_ratio = pt[0].ok && pt[ibig].ok ? pt[0].thr.rate.med / pt[ibig].thr.rate.med : NAN;
        b->scale_rtt_ratio =
            pt[0].ok && pt[ibig].ok ? pt[ibig].lat.p50.med / pt[0].lat.p50.med : NAN;
        b->scale_subs_ratio =
            pt[0].ok && pt[npt - 1].ok ? pt[0].thr.rate.med / pt[npt - 1].thr.rate.med : NAN;
        b->idle_wakeups = NAN;
        for (size_t i = 0; i < npt; i++)
                if (pt[i].ok && isfinite(pt[i].wakeups) &&
                    (!isfinite(b->idle_wakeups) || pt[i].wakeups > b->idle_wakeups))
                        b->idle_wakeups = pt[i].wakeups;
        return 0;
}
