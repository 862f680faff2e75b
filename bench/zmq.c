/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * zmq.c - ZeroMQ PUSH/PULL over ipc:// (a Unix socket, no broker at all),
 * the peer for one-way throughput.  libzmq is loaded with dlopen() at run
 * time, so building ipcd needs no ZeroMQ headers and a machine without
 * libzmq5 only skips this peer.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* From zmq.h (stable ABI since libzmq 3). */
#define ZMQ_PULL_ 7
#define ZMQ_PUSH_ 8
#define ZMQ_LINGER_ 17

static struct {
        void *lib;
        void *(*ctx_new)(void);
        int (*ctx_term)(void *);
        void *(*socket)(void *, int);
        int (*close)(void *);
        int (*bind)(void *, const char *);
        int (*connect)(void *, const char *);
        int (*setsockopt)(void *, int, const void *, size_t);
        int (*send)(void *, const void *, size_t, int);
        int (*recv)(void *, void *, size_t, int);
        int (*errno_)(void);
} z;

static int zmq_load(char *why, size_t size)
{
        if (z.lib)
                return 0;
        z.lib = dlopen("libzmq.so.5", RTLD_NOW | RTLD_LOCAL);
        if (!z.lib) {
                bprintf(why, size, "skipped: not installed (libzmq.so.5, Debian package libzmq5)");
                return 1;
        }
#define SYM(field, name)                                                                           \
        do {                                                                                       \
                *(void **)&z.field = dlsym(z.lib, name);                                           \
                if (!z.field) {                                                                    \
                        bprintf(why, size, "skipped: libzmq.so.5 lacks %s", name);                 \
                        dlclose(z.lib);                                                            \
                        z.lib = NULL;                                                              \
                        return 1;                                                                  \
                }                                                                                  \
        } while (0)
        SYM(ctx_new, "zmq_ctx_new");
        SYM(ctx_term, "zmq_ctx_term");
        SYM(socket, "zmq_socket");
        SYM(close, "zmq_close");
        SYM(bind, "zmq_bind");
        SYM(connect, "zmq_connect");
        SYM(setsockopt, "zmq_setsockopt");
        SYM(send, "zmq_send");
        SYM(recv, "zmq_recv");
        SYM(errno_, "zmq_errno");
#undef SYM
        return 0;
}

struct zmq_pair {
        char endpoint[300];
};

struct zmq_ep {
        void *ctx, *sock;
};

static int zmq_setup(struct pair *p)
{
        struct zmq_pair *zp;
        int r = zmq_load(p->why, sizeof(p->why));

        if (r)
                return r;
        zp = calloc(1, sizeof(*zp));
        if (!zp)
                return -ENOMEM;
        bprintf(zp->endpoint, sizeof(zp->endpoint), "ipc://%s/zmq-%u", p->b->tmpdir, p->seq);
        p->priv = zp;
        return 0;
}

static void zmq_bench_close(void *ep)
{
        struct zmq_ep *e = ep;

        if (e->sock)
                z.close(e->sock);
        if (e->ctx)
                z.ctx_term(e->ctx);
        free(e);
}

static int zmq_open(struct pair *p, int side, void **ret)
{
        struct zmq_pair *zp = p->priv;
        struct zmq_ep *e = calloc(1, sizeof(*e));
        int linger = 2000, r; /* high-water marks: libzmq's defaults */

        if (!e)
                return -ENOMEM;
        e->ctx = z.ctx_new();
        if (!e->ctx) {
                free(e);
                return -ENOMEM;
        }
        e->sock = z.socket(e->ctx, side == SIDE_A ? ZMQ_PUSH_ : ZMQ_PULL_);
        if (!e->sock) {
                r = -z.errno_();
                zmq_bench_close(e);
                return r;
        }
        (void)z.setsockopt(e->sock, ZMQ_LINGER_, &linger, sizeof(linger));
        r = side == SIDE_A ? z.connect(e->sock, zp->endpoint) : z.bind(e->sock, zp->endpoint);
        if (r < 0) {
                r = -z.errno_();
                zmq_bench_close(e);
                return r;
        }
        *ret = e;
        return 0;
}

static int zmq_bench_send(void *ep, const void *buf, size_t len, int flags)
{
        struct zmq_ep *e = ep;

        for (;;) {
                if (z.send(e->sock, buf, len, 0) >= 0)
                        return 0;
                if (z.errno_() != EINTR)
                        return -z.errno_();
        }
}

static ssize_t zmq_bench_recv(void *ep, void *buf, size_t len)
{
        struct zmq_ep *e = ep;

        for (;;) {
                int n = z.recv(e->sock, buf, len, 0);

                if (n >= 0)
                        return MIN((size_t)n, len);
                if (z.errno_() != EINTR)
                        return -z.errno_();
        }
}

static void zmq_teardown(struct pair *p)
{
        struct zmq_pair *zp = p->priv;

        if (!zp)
                return;
        (void)unlink(zp->endpoint + strlen("ipc://"));
        free(zp);
        p->priv = NULL;
}

const struct transport transport_zmq = {
    .name = "zmq",
    .label = "ZeroMQ PUSH/PULL ipc://",
    .setup = zmq_setup,
    .open = zmq_open,
    .send = zmq_bench_send,
    .recv = zmq_bench_recv,
    .close = zmq_bench_close,
    .teardown = zmq_teardown,
};
