/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * calls.c - ipcd-bridge's calls across hosts: NATS request/reply.
 *
 * serve: each mapping's subject has one queue subscription (queue group
 * "ipcd-serve", so that one bridge of all that serve a subject answers);
 * its libnats delivery thread hands each request to a queue of the
 * mapping's `calls` worker threads: up to `calls` calls in flight per
 * mapping, and a slow call holds one worker, never the messages behind it
 * (a call's timeout travels as call_timeout_ms, not the caller's own, so
 * a call its caller gave up on can keep a worker that long).  A request (a
 * NATS message with a reply subject) becomes ipcd_call() to the local
 * name, within the caller's Ipcd-Timeout-Ms (at most call_timeout_ms);
 * the answer carries Ipcd-Type and Ipcd-Status: 0 with the reply's
 * payload, or the call's errno (ETIMEDOUT, ECONNRESET, ENOENT, ...).  A
 * message without a reply subject is a forwarded ipcd_send(): sent to the
 * local name at once, by the delivery thread, so forwarded sends keep
 * their order and never wait behind a call.
 *
 * remote: each mapping is one more ipcd client of the bridge, holding the
 * mapping's name, with `calls` threads receiving on it.  An ipcd_call() to
 * that name becomes a NATS request on the mapping's subject (headers:
 * Ipcd-Type, Ipcd-Timeout-Ms, and the caller's origin as for exports);
 * the answer is ipcd_reply(), or ipcd_reply_error() with the remote errno,
 * -ETIMEDOUT when no answer came within call_timeout_ms, -ENOENT when
 * nobody serves the subject (NATS "no responders"), -EHOSTUNREACH when
 * NATS is not reachable.  So the caller sees what a local call would give.
 * An ipcd_send() to that name is published on the subject (no reply).
 *
 * The callee sees the bridge as its caller (sender), not the remote
 * client: the origin travels in the headers only.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/natsint.h"
#include "shared/log.h"
#include "shared/macro.h"

/* Requests waiting for a worker, per serve mapping: at most
 * SERVE_QUEUE_PER_WORKER per worker, beyond which the delivery thread
 * waits (and libnats's pending limit takes over). */
#define SERVE_QUEUE_PER_WORKER 16

struct serve_ctx {
        struct bridge *b;
        size_t index;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* a request queued, room made, or stop */
        natsMsg **queue;     /* a ring of cap requests */
        size_t cap, head, len;
        bool stop, started;
        pthread_t *threads;
        size_t nthreads;
};

struct remote_ctx {
        struct bridge *b;
        size_t index;
        ipcd_client *c;
        pthread_t *threads;
        size_t nthreads;
};

struct bridge_calls {
        natsSubscription **subs;
        size_t nsubs;
        struct serve_ctx *serves;
        struct remote_ctx *remotes;
};

static void set_header(natsMsg *m, const char *k, const char *fmt, ...) _printf_(3, 4);
static void set_header(natsMsg *m, const char *k, const char *fmt, ...)
{
        char v[64];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(v, sizeof(v), fmt, ap);
        va_end(ap);
        (void)natsMsgHeader_Set(m, k, v);
}

/* A decimal header, or def when absent; false when malformed. */
static bool header_u64(natsMsg *m, const char *k, uint64_t max, uint64_t def, uint64_t *ret)
{
        const char *v = NULL;

        *ret = def;
        if (natsMsgHeader_Get(m, k, &v) != NATS_OK)
                return true;
        return mapping_parse_u64(v, max, ret) == 0;
}

static void serve_answer(struct bridge *b, natsMsg *req, long type, const void *data, size_t len,
                         int status)
{
        natsMsg *a = NULL;
        natsStatus s = natsMsg_Create(&a, natsMsg_GetReply(req), NULL, data, (int)len);

        if (s == NATS_OK) {
                set_header(a, "Ipcd-Type", "%ld", type);
                set_header(a, "Ipcd-Status", "%d", status);
                s = natsConnection_PublishMsg(bridge_nats_conn(b), a);
        }
        natsMsg_Destroy(a);
        if (s != NATS_OK)
                bridge_count(b, BC_NATS_FAILED);
}

/* One request: ipcd_call() to the local name, the answer back. */
static void serve_call(struct serve_ctx *x, natsMsg *m)
{
        struct bridge *b = x->b;
        const struct bridge_call *sv = &b->cfg.serves[x->index];
        int len = natsMsg_GetDataLength(m), r;
        uint64_t type, timeout;
        ipcd_msg rep;

        /* on_serve checked the headers */
        (void)header_u64(m, "Ipcd-Type", IPCD_TYPE_MAX, 1, &type);
        (void)header_u64(m, "Ipcd-Timeout-Ms", 3600 * 1000, b->cfg.call_timeout_ms, &timeout);
        timeout = MIN(MAX(timeout, 1), b->cfg.call_timeout_ms);
        r = ipcd_call(b->ipcd, sv->name, (long)type, natsMsg_GetData(m), (size_t)len, &rep,
                      (int)timeout);
        if (r < 0) {
                bridge_count(b, BC_CALLS_FAILED);
                serve_answer(b, m, 1, NULL, 0, -r);
        } else {
                bridge_count(b, BC_CALLS_SERVED);
                serve_answer(b, m, rep.type, rep.data, rep.len, 0);
                ipcd_msg_release(b->ipcd, &rep);
        }
}

static void *serve_thread(void *arg)
{
        struct serve_ctx *x = arg;

        pthread_mutex_lock(&x->lock);
        for (;;) {
                natsMsg *m;

                while (!x->stop && x->len == 0)
                        pthread_cond_wait(&x->cond, &x->lock);
                if (x->stop)
                        break;
                m = x->queue[x->head];
                x->head = (x->head + 1) % x->cap;
                x->len--;
                pthread_cond_broadcast(&x->cond); /* room for the delivery thread */
                pthread_mutex_unlock(&x->lock);
                serve_call(x, m);
                natsMsg_Destroy(m);
                pthread_mutex_lock(&x->lock);
        }
        pthread_mutex_unlock(&x->lock);
        return NULL;
}

/* Takes m: queued for a worker, or destroyed once the bridge stops. */
static void serve_queue(struct serve_ctx *x, natsMsg *m)
{
        pthread_mutex_lock(&x->lock);
        while (!x->stop && x->len == x->cap)
                pthread_cond_wait(&x->cond, &x->lock);
        if (!x->stop) {
                x->queue[(x->head + x->len) % x->cap] = m;
                x->len++;
                m = NULL;
                pthread_cond_broadcast(&x->cond);
        }
        pthread_mutex_unlock(&x->lock);
        natsMsg_Destroy(m);
}

static void on_serve(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
        struct serve_ctx *x = closure;
        struct bridge *b = x->b;
        const struct bridge_call *sv = &b->cfg.serves[x->index];
        const char *reply_to = natsMsg_GetReply(m);
        int len = natsMsg_GetDataLength(m), r;
        uint64_t type, timeout;

        (void)nc;
        (void)sub;
        if (!header_u64(m, "Ipcd-Type", IPCD_TYPE_MAX, 1, &type) || type == 0 ||
            !header_u64(m, "Ipcd-Timeout-Ms", 3600 * 1000, b->cfg.call_timeout_ms, &timeout) ||
            len < 0) {
                bridge_count(b, BC_BAD_HEADER);
                goto out;
        }
        if ((uint64_t)len > ipcd_max_inline(b->ipcd)) {
                bridge_count(b, BC_TOO_LARGE);
                if (reply_to && *reply_to)
                        serve_answer(b, m, 1, NULL, 0, EMSGSIZE);
                goto out;
        }
        if (!reply_to || !*reply_to) {
                r = ipcd_send(b->ipcd, sv->name, (long)type, natsMsg_GetData(m), (size_t)len, 0);
                bridge_count(b, r < 0 ? BC_CALLS_FAILED : BC_SENDS_DELIVERED);
                goto out;
        }
        serve_queue(x, m);
        return;
out:
        natsMsg_Destroy(m);
}

/* The answer to a forwarded call, for the local caller. */
static void remote_answer(struct remote_ctx *x, const ipcd_msg *m, natsStatus s, natsMsg *a)
{
        struct bridge *b = x->b;
        uint64_t type, status;
        bool ok = false;
        int len;

        if (s == NATS_TIMEOUT)
                (void)ipcd_reply_error(x->c, m, -ETIMEDOUT);
        else if (s == NATS_NO_RESPONDERS)
                (void)ipcd_reply_error(x->c, m, -ENOENT);
        else if (s != NATS_OK)
                (void)ipcd_reply_error(x->c, m, -EHOSTUNREACH);
        else if (!header_u64(a, "Ipcd-Type", IPCD_TYPE_MAX, 1, &type) || type == 0 ||
                 !header_u64(a, "Ipcd-Status", 4095, 0, &status) ||
                 (len = natsMsg_GetDataLength(a)) < 0) {
                bridge_count(b, BC_BAD_HEADER);
                (void)ipcd_reply_error(x->c, m, -EHOSTUNREACH);
        } else if (status != 0) {
                /* A verdict the local library cannot give is "unreachable". */
                if (ipcd_reply_error(x->c, m, -(int)status) == -EINVAL)
                        (void)ipcd_reply_error(x->c, m, -EHOSTUNREACH);
        } else if ((size_t)len > ipcd_max_inline(x->c)) {
                bridge_count(b, BC_TOO_LARGE);
                (void)ipcd_reply_error(x->c, m, -EMSGSIZE);
        } else
                ok = ipcd_reply(x->c, m, (long)type, natsMsg_GetData(a), (size_t)len) == 0;
        bridge_count(b, ok ? BC_CALLS_FORWARDED : BC_CALLS_FAILED);
}

static void remote_one(struct remote_ctx *x, const ipcd_msg *m)
{
        struct bridge *b = x->b;
        const struct bridge_call *rm = &b->cfg.remotes[x->index];
        natsMsg *nm = NULL, *a = NULL;
        natsStatus s;

        s = natsMsg_Create(&nm, rm->subject, NULL, m->data, (int)m->len);
        if (s == NATS_OK)
                s = bridge_nats_origin_headers(b, nm, m);
        if (s == NATS_OK)
                set_header(nm, "Ipcd-Timeout-Ms", "%" PRIu64, b->cfg.call_timeout_ms);
        if (s != NATS_OK) {
                bridge_count(b, BC_NATS_FAILED);
                if (m->flags & IPCD_MSG_REQUEST)
                        (void)ipcd_reply_error(x->c, m, -EHOSTUNREACH);
        } else if (m->flags & IPCD_MSG_REQUEST) {
                s = natsConnection_RequestMsg(&a, bridge_nats_conn(b), nm,
                                              (int64_t)b->cfg.call_timeout_ms);
                remote_answer(x, m, s, a);
        } else {
                s = natsConnection_PublishMsg(bridge_nats_conn(b), nm);
                bridge_count(b, s == NATS_OK ? BC_SENDS_FORWARDED : BC_NATS_FAILED);
        }
        natsMsg_Destroy(a);
        natsMsg_Destroy(nm);
}

static void *remote_thread(void *arg)
{
        struct remote_ctx *x = arg;
        struct bridge *b = x->b;

        while (!b->stop) {
                ipcd_msg m;
                int r = ipcd_recv(x->c, &m, 0, 250);

                if (r == -ETIMEDOUT || r == -EINTR || r == -ECONNRESET)
                        continue; /* the library reconnects on the next call */
                if (r < 0) {
                        if (r != -ECONNREFUSED && r != -ENOENT)
                                log_warning("remote %s: receive: %s",
                                            b->cfg.remotes[x->index].name, strerror(-r));
                        usleep(200 * 1000);
                        continue;
                }
                if (!(m.flags & IPCD_MSG_NOTICE))
                        remote_one(x, &m);
                ipcd_msg_release(x->c, &m);
        }
        return NULL;
}

int bridge_calls_start(struct bridge *b, const char *rundir)
{
        struct bridge_calls *k = calloc(1, sizeof(*k));
        const struct bridge_config *c = &b->cfg;
        natsStatus s = NATS_OK;
        int r;

        if (!k)
                return -ENOMEM;
        b->calls = k;
        k->subs = calloc(c->nserves + 1, sizeof(*k->subs));
        k->serves = calloc(c->nserves + 1, sizeof(*k->serves));
        k->remotes = calloc(c->nremotes + 1, sizeof(*k->remotes));
        if (!k->subs || !k->serves || !k->remotes)
                return -ENOMEM;
        for (size_t i = 0; s == NATS_OK && i < c->nserves; i++) {
                struct serve_ctx *x = &k->serves[i];

                *x = (struct serve_ctx){ .b = b, .index = i, .cap = c->calls * SERVE_QUEUE_PER_WORKER };
                x->queue = calloc(x->cap, sizeof(*x->queue));
                x->threads = calloc(c->calls, sizeof(*x->threads));
                if (!x->queue || !x->threads)
                        return -ENOMEM;
                pthread_mutex_init(&x->lock, NULL);
                pthread_cond_init(&x->cond, NULL);
                x->started = true;
                for (; x->nthreads < c->calls; x->nthreads++) {
                        r = -pthread_create(&x->threads[x->nthreads], NULL, serve_thread, x);
                        if (r < 0)
                                return log_error_errno(r, "pthread_create");
                }
                s = natsConnection_QueueSubscribe(&k->subs[k->nsubs], bridge_nats_conn(b),
                                                  c->serves[i].subject, "ipcd-serve", on_serve, x);
                if (s == NATS_OK)
                        k->nsubs++;
        }
        if (s != NATS_OK) {
                log_error("NATS: serve: %s", natsStatus_GetText(s));
                return -EIO;
        }
        for (size_t i = 0; i < c->nremotes; i++) {
                struct remote_ctx *x = &k->remotes[i];

                *x = (struct remote_ctx){ .b = b, .index = i };
                r = ipcd_connect_at(rundir, c->remotes[i].name, &x->c);
                if (r < 0)
                        return log_error_errno(r, "connect to ipcd as %s (remote)",
                                               c->remotes[i].name);
                x->threads = calloc(c->calls, sizeof(*x->threads));
                if (!x->threads)
                        return -ENOMEM;
                for (; x->nthreads < c->calls; x->nthreads++) {
                        r = -pthread_create(&x->threads[x->nthreads], NULL, remote_thread, x);
                        if (r < 0)
                                return log_error_errno(r, "pthread_create");
                }
        }
        return 0;
}

void bridge_calls_unsubscribe(struct bridge *b)
{
        struct bridge_calls *k = b->calls;

        for (size_t i = 0; k && i < k->nsubs; i++)
                natsSubscription_Unsubscribe(k->subs[i]);
}

void bridge_calls_stop(struct bridge *b)
{
        struct bridge_calls *k = b->calls;

        if (!k)
                return;
        b->stop = 1;
        for (size_t i = 0; k->remotes && i < b->cfg.nremotes; i++) {
                struct remote_ctx *x = &k->remotes[i];

                for (size_t j = 0; j < x->nthreads; j++)
                        pthread_join(x->threads[j], NULL);
                x->nthreads = 0;
                free(x->threads);
                x->threads = NULL;
                ipcd_close(x->c);
                x->c = NULL;
        }
        /* The serve workers: each ends after the call it is in (its
         * answer fails on the closed connection); requests still queued
         * are dropped with the connection. */
        for (size_t i = 0; k->serves && i < b->cfg.nserves; i++) {
                struct serve_ctx *x = &k->serves[i];

                if (!x->started)
                        continue;
                pthread_mutex_lock(&x->lock);
                x->stop = true;
                pthread_cond_broadcast(&x->cond);
                pthread_mutex_unlock(&x->lock);
                for (size_t j = 0; j < x->nthreads; j++)
                        pthread_join(x->threads[j], NULL);
                x->nthreads = 0;
        }
        for (size_t i = 0; i < k->nsubs; i++)
                natsSubscription_Destroy(k->subs[i]);
        k->nsubs = 0;
}

void bridge_calls_free(struct bridge *b)
{
        struct bridge_calls *k = b->calls;

        if (!k)
                return;
        for (size_t i = 0; k->serves && i < b->cfg.nserves; i++) {
                struct serve_ctx *x = &k->serves[i];

                /* libnats's delivery threads are gone: nothing queues now */
                for (; x->len; x->len--, x->head = (x->head + 1) % x->cap)
                        natsMsg_Destroy(x->queue[x->head]);
                if (x->started) {
                        pthread_mutex_destroy(&x->lock);
                        pthread_cond_destroy(&x->cond);
                }
                free(x->queue);
                free(x->threads);
        }
        free(k->subs);
        free(k->serves);
        free(k->remotes);
        free(k);
        b->calls = NULL;
}
