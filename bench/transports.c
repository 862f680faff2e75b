/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * transports.c - the baselines that need no broker (pipe, Unix socket,
 * direct System V queue) and the two-hop floor: the same System V
 * exchange as ipcd's (sender -> inbound queue -> forwarding process ->
 * receiver's queue), with a forwarder that does nothing but move each
 * message (no validation, no routing table, no batching).  No broker
 * built on System V queues can beat the floor per message; ipcd's target
 * is to stay within 1.25x of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct msgbuf_big {
        long mtype;
        char mtext[BENCH_MAX_MSG];
};

/* Write or read exactly n bytes on a stream. */
static int write_full(int fd, const void *buf, size_t n)
{
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static ssize_t read_full(int fd, void *buf, size_t n)
{
        char *p = buf;
        size_t got = 0;

        while (got < n) {
                ssize_t k = read(fd, p + got, n - got);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -ECONNRESET;
                got += (size_t)k;
        }
        return (ssize_t)got;
}

/* ---- fd-based: pipe and Unix socket ---- */

struct fds {
        int fd[4]; /* pipe: a2b[0..1] b2a[2..3]; socket: pair[0..1] */
};

struct fd_ep {
        int rfd, wfd;
        bool stream;
};

static int pipe_setup(struct pair *p)
{
        struct fds *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        if (pipe2(f->fd, O_CLOEXEC) < 0 || pipe2(f->fd + 2, O_CLOEXEC) < 0) {
                free(f);
                return negative_errno();
        }
        p->priv = f;
        return 0;
}

static int pipe_open(struct pair *p, int side, void **ret)
{
        struct fds *f = p->priv;
        struct fd_ep *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->stream = true;
        e->wfd = side == SIDE_A ? f->fd[1] : f->fd[3];
        e->rfd = side == SIDE_A ? f->fd[2] : f->fd[0];
        *ret = e;
        return 0;
}

static int fd_send(void *ep, const void *buf, size_t len, int flags)
{
        struct fd_ep *e = ep;

        if (!e->stream) {
                for (;;) {
                        ssize_t k = send(e->wfd, buf, len, MSG_NOSIGNAL);

                        if (k >= 0)
                                return (size_t)k == len ? 0 : -EIO;
                        if (errno != EINTR)
                                return negative_errno();
                }
        }
        return write_full(e->wfd, buf, len);
}

static ssize_t fd_recv(void *ep, void *buf, size_t len)
{
        struct fd_ep *e = ep;

        if (!e->stream) {
                for (;;) {
                        ssize_t k = recv(e->rfd, buf, len, 0);

                        if (k > 0)
                                return k;
                        if (k == 0)
                                return -ECONNRESET;
                        if (errno != EINTR)
                                return negative_errno();
                }
        }
        return read_full(e->rfd, buf, len);
}

static void fd_close(void *ep)
{
        free(ep);
}

static void fds_teardown(struct pair *p)
{
        struct fds *f = p->priv;

        if (!f)
                return;
        for (size_t i = 0; i < ELEMENTSOF(f->fd); i++)
                safe_close(f->fd[i]);
        free(f);
        p->priv = NULL;
}

const struct transport transport_pipe = {
    .name = "pipe",
    .label = "pipe",
    .setup = pipe_setup,
    .open = pipe_open,
    .send = fd_send,
    .recv = fd_recv,
    .close = fd_close,
    .teardown = fds_teardown,
};

static int unix_setup(struct pair *p)
{
        struct fds *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->fd[2] = f->fd[3] = -1;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->fd) < 0) {
                free(f);
                return negative_errno();
        }
        p->priv = f;
        return 0;
}

static int unix_open(struct pair *p, int side, void **ret)
{
        struct fds *f = p->priv;
        struct fd_ep *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->stream = false;
        e->rfd = e->wfd = side == SIDE_A ? f->fd[0] : f->fd[1];
        *ret = e;
        return 0;
}

static int unix_stream_setup(struct pair *p)
{
        struct fds *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->fd[2] = f->fd[3] = -1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->fd) < 0) {
                free(f);
                return negative_errno();
        }
        p->priv = f;
        return 0;
}

static int unix_stream_open(struct pair *p, int side, void **ret)
{
        int r = unix_open(p, side, ret);

        if (r >= 0)
                ((struct fd_ep *)*ret)->stream = true;
        return r;
}

/* For bulk: a seqpacket socket cannot carry 4 MiB in one message. */
const struct transport transport_unix_stream = {
    .name = "unix-stream",
    .label = "Unix socket (stream)",
    .setup = unix_stream_setup,
    .open = unix_stream_open,
    .send = fd_send,
    .recv = fd_recv,
    .close = fd_close,
    .teardown = fds_teardown,
};

const struct transport transport_unix = {
    .name = "unix",
    .label = "Unix socket (seqpacket)",
    .setup = unix_setup,
    .open = unix_open,
    .send = fd_send,
    .recv = fd_recv,
    .close = fd_close,
    .teardown = fds_teardown,
};

/* ---- System V ---- */

struct sysv {
        int q[3];        /* direct: a2b, b2a.  floor: Q0, QA, QB */
        pid_t forwarder; /* floor only */
};

struct sysv_ep {
        int sq, rq;
        long stype;        /* mtype to send with */
        bool batched;      /* floor-batch: what arrives is a batch of records */
        size_t boff, blen; /* unread part of the current batch in m */
        struct msgbuf_big m;
        /* floor-more: the sender's batch (records as batch_recv reads them) */
        size_t omax;     /* 0: no sender batching */
        size_t olen;     /* bytes in om */
        unsigned ocount; /* records in om */
        struct msgbuf_big om;
};

static int queue_new(void)
{
        int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);

        return q < 0 ? negative_errno() : q;
}

static void queues_remove(struct sysv *s)
{
        for (size_t i = 0; i < ELEMENTSOF(s->q); i++)
                if (s->q[i] >= 0)
                        (void)msgctl(s->q[i], IPC_RMID, NULL);
}

static int sysv_new(struct pair *p, size_t nq)
{
        struct sysv *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(s->q); i++)
                s->q[i] = -1;
        for (size_t i = 0; i < nq; i++) {
                int q = queue_new();

                if (q < 0) {
                        queues_remove(s);
                        free(s);
                        return q;
                }
                s->q[i] = q;
        }
        p->priv = s;
        return 0;
}

static int sysv_setup(struct pair *p)
{
        return sysv_new(p, 2);
}

static int sysv_open(struct pair *p, int side, void **ret)
{
        struct sysv *s = p->priv;
        struct sysv_ep *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->sq = side == SIDE_A ? s->q[0] : s->q[1];
        e->rq = side == SIDE_A ? s->q[1] : s->q[0];
        e->stype = 1;
        *ret = e;
        return 0;
}

static int sysv_send(void *ep, const void *buf, size_t len, int flags)
{
        struct sysv_ep *e = ep;

        e->m.mtype = e->stype;
        memcpy(e->m.mtext, buf, len);
        while (msgsnd(e->sq, &e->m, len, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return 0;
}

static ssize_t sysv_recv(void *ep, void *buf, size_t len)
{
        struct sysv_ep *e = ep;

        for (;;) {
                ssize_t n = msgrcv(e->rq, &e->m, sizeof(e->m.mtext), 0, 0);

                if (n >= 0) {
                        if (buf) /* NULL: batch_recv() reads it in place */
                                memcpy(buf, e->m.mtext, MIN((size_t)n, len));
                        return buf ? (ssize_t)MIN((size_t)n, len) : n;
                }
                if (errno != EINTR)
                        return negative_errno();
        }
}

static void sysv_close(void *ep)
{
        free(ep);
}

static void sysv_teardown(struct pair *p)
{
        struct sysv *s = p->priv;

        if (!s)
                return;
        queues_remove(s); /* the forwarder gets EIDRM and exits */
        if (s->forwarder > 0)
                kill_wait(s->forwarder);
        free(s);
        p->priv = NULL;
}

const struct transport transport_sysv = {
    .name = "sysv",
    .label = "SysV queue, direct",
    .setup = sysv_setup,
    .open = sysv_open,
    .send = sysv_send,
    .recv = sysv_recv,
    .close = sysv_close,
    .teardown = sysv_teardown,
};

/* The floor: A and B both send into Q0 with mtype = destination (1 = A,
 * 2 = B); the forwarder moves each message to QA or QB. */
static _Noreturn void forwarder_main(int q0, int qa, int qb)
{
        static struct msgbuf_big m;

        for (;;) {
                ssize_t n = msgrcv(q0, &m, sizeof(m.mtext), 0, 0);
                int dst;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(0); /* EIDRM: the bench removed the queues */
                }
                dst = m.mtype == 1 ? qa : qb;
                m.mtype = 1;
                while (msgsnd(dst, &m, (size_t)n, 0) < 0)
                        if (errno != EINTR)
                                _exit(0);
        }
}

static int floor_setup(struct pair *p)
{
        struct sysv *s;
        pid_t pid;
        int r;

        r = sysv_new(p, 3);
        if (r < 0)
                return r;
        s = p->priv;
        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                sysv_teardown(p);
                return r;
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                forwarder_main(s->q[0], s->q[1], s->q[2]);
        }
        s->forwarder = pid;
        p->helpers[p->n_helpers++] = pid;
        return 0;
}

static int floor_open(struct pair *p, int side, void **ret)
{
        struct sysv *s = p->priv;
        struct sysv_ep *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->sq = s->q[0];
        e->rq = side == SIDE_A ? s->q[1] : s->q[2];
        e->stype = side == SIDE_A ? 2 : 1;
        *ret = e;
        return 0;
}

/* The floor with the batching the design prescribes (DESIGN.md,
 * "Batching"): after a blocking msgrcv, the forwarder drains Q0 with
 * IPC_NOWAIT into one batch per destination, each record a 4-byte length
 * and the payload padded to 8, and sends each batch as one queue message
 * (when it is full, or when Q0 is empty).  A lone message costs one
 * failed msgrcv more than in the plain floor, exactly as in ipcd. */
struct batch {
        size_t len;
        struct msgbuf_big m;
};

static void batch_flush(int q, struct batch *bt)
{
        if (bt->len == 0)
                return;
        bt->m.mtype = 1;
        while (msgsnd(q, &bt->m, bt->len, 0) < 0)
                if (errno != EINTR)
                        _exit(0);
        bt->len = 0;
}

static _Noreturn void batch_forwarder_main(int q0, int qa, int qb, size_t max)
{
        static struct msgbuf_big in;
        static struct batch ba, bb;

        for (;;) {
                ssize_t n = msgrcv(q0, &in, sizeof(in.mtext), 0, 0);

                while (n >= 0) {
                        struct batch *bt = in.mtype == 1 ? &ba : &bb;
                        size_t rec = 8 + (((size_t)n + 7) & ~(size_t)7);
                        uint32_t len32 = (uint32_t)n;

                        if (bt->len + rec > max)
                                batch_flush(in.mtype == 1 ? qa : qb, bt);
                        memcpy(bt->m.mtext + bt->len, &len32, sizeof(len32));
                        memcpy(bt->m.mtext + bt->len + 8, in.mtext, (size_t)n);
                        bt->len += rec;
                        n = msgrcv(q0, &in, sizeof(in.mtext), 0, IPC_NOWAIT);
                }
                if (errno == EINTR)
                        continue;
                if (errno != ENOMSG)
                        _exit(0); /* EIDRM: the bench removed the queues */
                batch_flush(qa, &ba);
                batch_flush(qb, &bb);
        }
}

static int floor_batch_setup(struct pair *p)
{
        struct sysv *s;
        size_t max = p->b->msgmax > 0 ? (size_t)p->b->msgmax : 8192;
        pid_t pid;
        int r;

        if (max > BENCH_MAX_MSG)
                max = BENCH_MAX_MSG;
        if (p->size + 8 > max) {
                bprintf(p->why, sizeof(p->why), "skipped: %zu B does not fit a batch", p->size);
                return 1;
        }
        r = sysv_new(p, 3);
        if (r < 0)
                return r;
        s = p->priv;
        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                sysv_teardown(p);
                return r;
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                batch_forwarder_main(s->q[0], s->q[1], s->q[2], max);
        }
        s->forwarder = pid;
        p->helpers[p->n_helpers++] = pid;
        return 0;
}

static int floor_batch_open(struct pair *p, int side, void **ret)
{
        int r = floor_open(p, side, ret);

        if (r >= 0)
                ((struct sysv_ep *)*ret)->batched = true;
        return r;
}

static ssize_t batch_recv(void *ep, void *buf, size_t len)
{
        struct sysv_ep *e = ep;
        uint32_t n;

        if (e->boff >= e->blen) {
                ssize_t k = sysv_recv(ep, NULL, 0);

                if (k < 0)
                        return k;
                e->boff = 0;
                e->blen = (size_t)k;
        }
        if (e->blen - e->boff < 8)
                return -EBADMSG;
        memcpy(&n, e->m.mtext + e->boff, sizeof(n));
        if (n > e->blen - e->boff - 8)
                return -EBADMSG;
        memcpy(buf, e->m.mtext + e->boff + 8, MIN((size_t)n, len));
        e->boff += 8 + (((size_t)n + 7) & ~(size_t)7);
        return MIN((size_t)n, len);
}

const struct transport transport_floor_batch = {
    .name = "floor-batch",
    .label = "floor: 2-hop SysV, batching",
    .setup = floor_batch_setup,
    .open = floor_batch_open,
    .send = sysv_send,
    .recv = batch_recv,
    .close = sysv_close,
    .teardown = sysv_teardown,
};

/* The floor with sender-side batching, like IPCD_MORE: the sender packs
 * its messages into one queue message (the batch floor's record format)
 * and sends it every SENDER_BATCH messages, when the next would not fit,
 * and with any marker; the plain forwarder moves each batch as it is (the
 * least a broker can do with a batch), the receiver unpacks it. */

static int floor_more_setup(struct pair *p)
{
        size_t max = p->b->msgmax > 0 ? (size_t)p->b->msgmax : 8192;

        if (p->size + 8 > MIN(max, (size_t)BENCH_MAX_MSG)) {
                bprintf(p->why, sizeof(p->why), "skipped: %zu B does not fit a batch", p->size);
                return 1;
        }
        return floor_setup(p);
}

static int floor_more_open(struct pair *p, int side, void **ret)
{
        int r = floor_open(p, side, ret);
        size_t max = p->b->msgmax > 0 ? (size_t)p->b->msgmax : 8192;

        if (r >= 0) {
                struct sysv_ep *e = *ret;

                e->batched = true;
                e->omax = MIN(max, (size_t)BENCH_MAX_MSG);
        }
        return r;
}

static int more_flush(struct sysv_ep *e)
{
        if (e->olen == 0)
                return 0;
        e->om.mtype = e->stype;
        while (msgsnd(e->sq, &e->om, e->olen, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        e->olen = 0;
        e->ocount = 0;
        return 0;
}

static int more_send(void *ep, const void *buf, size_t len, int flags)
{
        struct sysv_ep *e = ep;
        size_t rec = 8 + ((len + 7) & ~(size_t)7);
        uint32_t len32 = (uint32_t)len;
        int r;

        if (e->olen + rec > e->omax) {
                r = more_flush(e);
                if (r < 0)
                        return r;
        }
        memcpy(e->om.mtext + e->olen, &len32, sizeof(len32));
        memcpy(e->om.mtext + e->olen + 8, buf, len);
        e->olen += rec;
        if (++e->ocount >= SENDER_BATCH || len == 0 || ((const char *)buf)[0] != MARK_DATA)
                return more_flush(e);
        return 0;
}

const struct transport transport_floor_more = {
    .name = "floor-more",
    .label = "floor: 2-hop, sender batches",
    .setup = floor_more_setup,
    .open = floor_more_open,
    .send = more_send,
    .recv = batch_recv,
    .close = sysv_close,
    .teardown = sysv_teardown,
};

const struct transport transport_floor = {
    .name = "floor",
    .label = "floor: 2-hop SysV, plain",
    .setup = floor_setup,
    .open = floor_open,
    .send = sysv_send,
    .recv = sysv_recv,
    .close = sysv_close,
    .teardown = sysv_teardown,
};
