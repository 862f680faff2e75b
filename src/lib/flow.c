/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * flow.c - libipcd-client: flow control, so that a point-to-point send
 * is never dropped for a slow receiver (DESIGN "Flow control").
 *
 * ipcd gives every sender->destination pair a window (flow_window at
 * registration, counted with wire_flow_cost(); unicast bulk chunks in
 * ring bytes, flow_bulk_window).  We keep, per destination name, what we
 * sent there that ipcd has not credited back.  A send that would pass the
 * window while at least half of it is in flight waits for credit:
 * WIRE_OUT_CREDIT records on our WIRE_TYPE_CREDIT, which ipcd writes once
 * a quarter of a window left its backlog into the destination's queue (a
 * bulk chunk: once released).  Before waiting we take the credit records
 * already there (a type-selective msgrcv(2) without waiting).  Waiting is
 * a WAITER_COND in wait.c's scheme whose sweeps take the whole queue:
 * while our queue is full of messages nobody reads, no credit record
 * could reach it, so those go to the pending list, in order (they are
 * bounded by their own senders' windows).  A credit record that another
 * thread's ipcd_recv meets is handed here by dispatch.c, never to the
 * application.  IPCD_NONBLOCK gives -EAGAIN, the send timeout
 * (ipcd_set_send_timeout) -ETIMEDOUT, and a destination that goes away
 * (a credit with -ECONNRESET) or ipcd -ECONNRESET.  The next send to a
 * destination that went away is made with IPCD_ACK, so that it returns
 * -ENOENT while the name is not held again.
 *
 * Held IPCD_MORE records are part of what is in flight: they are sent
 * before we wait, else their credit could never come.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "lib/client.h"
#include "shared/clock.h"
#include "shared/macro.h"
#include "shared/names.h"

/* The entry for dst in this session (lock held); NULL: -ENOMEM, or
 * create false and none. */
static struct flow_dst *flow_find_locked(ipcd_client *c, const char *dst, size_t len, bool create,
                                         bool topic)
{
        struct flow_dst *f;

        for (f = c->flow; f; f = f->next)
                if (f->topic == topic && strncmp(f->name, dst, len) == 0 && f->name[len] == '\0')
                        break;
        if (!f) {
                if (!create || len >= sizeof(f->name))
                        return NULL;
                f = calloc(1, sizeof(*f));
                if (!f)
                        return NULL;
                memcpy(f->name, dst, len);
                f->topic = topic;
                f->next = c->flow;
                c->flow = f;
                f->gen = c->s.gen;
        }
        if (f->gen != c->s.gen) {
                /* A new ipcd knows nothing of what the old one held. */
                f->gen = c->s.gen;
                f->inflight = f->bulk_inflight = 0;
                f->gone = false;
                f->active = false;
        }
        return f;
}

/* The inline cost we have in flight to all destinations (lock held). */
static uint64_t flow_total_locked(const ipcd_client *c)
{
        uint64_t t = 0;

        for (const struct flow_dst *f = c->flow; f; f = f->next)
                if (!f->topic && f->gen == c->s.gen)
                        t += f->inflight;
        return t;
}

/* Less than half of w in flight: any message goes (ipcd credits every
 * quarter window, so a blocked sender always gets credit); else only one
 * that fits. */
static bool fits(uint64_t w, uint64_t used, uint64_t cost)
{
        return w == 0 || used < w / 2 || used + cost <= w;
}

static bool flow_room(const ipcd_client *c, const struct flow_dst *f, uint64_t cost, bool bulk)
{
        if (f->topic && !f->active)
                return true;
        if (bulk)
                return fits(c->s.flow_bulk_window, f->bulk_inflight, cost);
        /* The client budget too (inline unicast): ipcd credits all that is
         * due to a sender near it (WIRE_IN_FLOW_WANTS) as each pair drains. */
        return fits(c->s.flow_window, f->inflight, cost) &&
               (f->topic || !c->s.flow_client || fits(c->s.flow_client, flow_total_locked(c), cost));
}

bool flow_credit_locked(ipcd_client *c, const struct session *s, const struct wire_out *h,
                        const char *name, const char *topic)
{
        struct flow_dst *f;

        if (h->kind != WIRE_OUT_CREDIT || s->gen != c->s.gen)
                return false;
        if (h->topic_len && !h->name_len) {
                /* A topic: its reliable subscribers come and go. */
                f = flow_find_locked(c, topic, h->topic_len, h->status == WIRE_CREDIT_TOPIC_ON,
                                     true);
                if (!f)
                        return false;
                if (h->status == WIRE_CREDIT_TOPIC_ON) {
                        f->active = true;
                        f->inflight = 0;
                } else if (h->status == WIRE_CREDIT_TOPIC_OFF) {
                        f->active = false;
                        f->inflight = 0;
                } else
                        f->inflight -= MIN(h->cookie, f->inflight);
                return true;
        }
        if (h->name_len == 0)
                return false;
        f = flow_find_locked(c, name, h->name_len, false, false);
        if (!f)
                return false;
        if (h->status < 0) {
                /* It went away: nothing of ours waits for it any more. */
                f->inflight = f->bulk_inflight = 0;
                f->resets++;
                f->gone = true;
                return true;
        }
        f->inflight -= MIN(h->cookie, f->inflight);
        f->bulk_inflight -= MIN((uint64_t)h->type, f->bulk_inflight);
        return true;
}

/* Take the credit records in our queue, without waiting (lock not held). */
static void flow_absorb(ipcd_client *c)
{
        struct session s;
        struct rxbuf *b;
        int r;

        pthread_mutex_lock(&c->lock);
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        for (;;) {
                pthread_mutex_lock(&c->rx_lock);
                do
                        r = rx_queue(c, &s, WIRE_TYPE_CREDIT, IPC_NOWAIT, &b);
                while (r == -EINTR);
                if (r == 0)
                        rx_dispatch(c, &s, b, 0, NULL, NULL, false);
                pthread_mutex_unlock(&c->rx_lock);
                if (r != 0)
                        return;
        }
}

struct flow_wait {
        struct flow_dst *f;
        uint64_t cost;
        uint64_t resets;
        bool bulk;
        bool topic;
};

/* WAITER_COND: room, or the destination went away. */
static bool flow_ready(ipcd_client *c, void *arg)
{
        struct flow_wait *fw = arg;

        return !c->connected || fw->f->resets != fw->resets || flow_room(c, fw->f, fw->cost, fw->bulk);
}

static int reserve(ipcd_client *c, const char *dst, uint64_t cost, bool bulk, bool topic,
                   int flags, bool *ack, uint16_t *wflags)
{
        /* The sweeps take the whole queue: a credit record cannot reach a
         * queue full of messages we do not read while we wait, so those
         * go to the pending list (in order; bounded by their senders'
         * windows) and ipcd's backlog for us drains (PULL). */
        struct waiter w = {.kind = WAITER_COND, .ready = flow_ready, .sweep_all = true};
        struct flow_wait fw = {.cost = cost, .bulk = bulk, .topic = topic};
        uint64_t deadline;
        bool absorbed = false;
        int r = 0;

        *ack = false;
        *wflags = 0;
        pthread_mutex_lock(&c->lock);
        if (topic) {
                /* Windowed only once ipcd said it has reliable subscribers
                 * (WIRE_CREDIT_TOPIC_ON): we look for that every eighth of
                 * a window published unwindowed, so it costs no system
                 * call per publish and we are never far past the window. */
                fw.f = flow_find_locked(c, dst, strlen(dst), false, true);
                if (!fw.f || !fw.f->active) {
                        c->pub_unchecked += cost;
                        if (!c->s.flow_window || c->pub_unchecked < c->s.flow_window / 8)
                                goto out;
                        c->pub_unchecked = 0;
                        pthread_mutex_unlock(&c->lock);
                        flow_absorb(c);
                        pthread_mutex_lock(&c->lock);
                        fw.f = flow_find_locked(c, dst, strlen(dst), false, true);
                        if (!fw.f || !fw.f->active)
                                goto out;
                }
        }
        for (;;) {
                fw.f = flow_find_locked(c, dst, strlen(dst), true, fw.topic);
                if (!fw.f) {
                        r = -ENOMEM;
                        goto out;
                }
                if (flow_room(c, fw.f, cost, bulk))
                        break;
                if (absorbed)
                        break;
                /* Credit may wait in our queue already. */
                pthread_mutex_unlock(&c->lock);
                flow_absorb(c);
                pthread_mutex_lock(&c->lock);
                absorbed = true;
        }
        if (!flow_room(c, fw.f, cost, bulk)) {
                if (flags & IPCD_NONBLOCK) {
                        r = -EAGAIN;
                        goto out;
                }
                deadline = c->send_timeout_ms < 0 ? CLOCK_INFINITY
                                                  : clock_now_us() + (uint64_t)c->send_timeout_ms * USEC_PER_MSEC;
                /* What IPCD_MORE holds is in flight too: send it first. */
                pthread_mutex_unlock(&c->lock);
                r = client_ob_flush(c, false);
                pthread_mutex_lock(&c->lock);
                if (r < 0)
                        goto out;
                fw.f = flow_find_locked(c, dst, strlen(dst), true, fw.topic);
                if (!fw.f) {
                        r = -ENOMEM;
                        goto out;
                }
                fw.resets = fw.f->resets;
                /* ipcd raises Sc for what it delivers, credit included. */
                client_timed_start_locked(c);
                /* A thread in a plain blocking msgrcv(2) would race our sweeps. */
                if (c->nblocking > 0)
                        rx_go_multi_locked(c);
                if (!c->connected) {
                        r = -ECONNRESET;
                        goto out;
                }
                w.gen = c->s.gen;
                w.ready_arg = &fw;
                waiter_add(c, &w);
                r = wait_for(c, &w, deadline, NULL);
                waiter_remove(c, &w);
                if (r == 0 && (!c->connected || c->s.gen != w.gen ||
                               (!topic && fw.f->resets != fw.resets)))
                        r = -ECONNRESET;
                if (r < 0)
                        goto out;
                /* The destination may have gone and come back: fw.f is
                 * still the entry (entries are never freed before
                 * flow_free). */
        }
        if (fw.f->gone)
                *ack = true;
        if (topic && !fw.f->active)
                goto out; /* no reliable subscriber (any more): not windowed */
        if (bulk) {
                fw.f->bulk_inflight += cost;
                if (c->s.flow_bulk_window && fw.f->bulk_inflight >= c->s.flow_bulk_window / 2)
                        *wflags |= WIRE_IN_FLOW_FULL;
        } else {
                fw.f->inflight += cost;
                if (c->s.flow_window && fw.f->inflight >= c->s.flow_window / 2)
                        *wflags |= WIRE_IN_FLOW_FULL;
                if (!topic && c->s.flow_client &&
                    flow_total_locked(c) >= c->s.flow_client / 2)
                        *wflags |= WIRE_IN_FLOW_FULL | WIRE_IN_FLOW_WANTS;
        }
out:
        pthread_mutex_unlock(&c->lock);
        return r;
}

int flow_reserve(ipcd_client *c, const char *dst, uint64_t cost, bool bulk, int flags, bool *ack,
                 uint16_t *wflags)
{
        return reserve(c, dst, cost, bulk, false, flags, ack, wflags);
}

int flow_reserve_topic(ipcd_client *c, const char *topic, uint64_t cost, int flags)
{
        bool ack;
        uint16_t wflags;

        return reserve(c, topic, cost, false, true, flags, &ack, &wflags);
}

void flow_unreserve_topic(ipcd_client *c, const char *topic, uint64_t cost)
{
        struct flow_dst *f;

        pthread_mutex_lock(&c->lock);
        f = flow_find_locked(c, topic, strlen(topic), false, true);
        if (f && f->active)
                f->inflight -= MIN(cost, f->inflight);
        pthread_mutex_unlock(&c->lock);
}

void flow_unreserve(ipcd_client *c, const char *dst, uint64_t cost, bool bulk)
{
        struct flow_dst *f;

        pthread_mutex_lock(&c->lock);
        f = flow_find_locked(c, dst, strlen(dst), false, false);
        if (f) {
                if (bulk)
                        f->bulk_inflight -= MIN(cost, f->bulk_inflight);
                else
                        f->inflight -= MIN(cost, f->inflight);
                if (wake_waiters_locked(c) && c->connected)
                        sem_raise(&c->s);
        }
        pthread_mutex_unlock(&c->lock);
}

void flow_learned(ipcd_client *c, const char *dst, int r)
{
        struct flow_dst *f;

        if (r == -ENOENT)
                return;
        pthread_mutex_lock(&c->lock);
        f = flow_find_locked(c, dst, strlen(dst), false, false);
        if (f)
                f->gone = false;
        pthread_mutex_unlock(&c->lock);
}

void flow_free(ipcd_client *c)
{
        while (c->flow) {
                struct flow_dst *f = c->flow;

                c->flow = f->next;
                free(f);
        }
}

IPCD_EXPORT int ipcd_set_send_timeout(ipcd_client *c, int timeout_ms)
{
        if (!c || timeout_ms < -1)
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        pthread_mutex_lock(&c->lock);
        c->send_timeout_ms = timeout_ms;
        pthread_mutex_unlock(&c->lock);
        return 0;
}
