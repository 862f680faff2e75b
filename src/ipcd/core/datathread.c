/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * datathread.c - a uid's inbound queue and its data thread: one blocking
 * msgrcv with the lock released, then one pass under the lock (what
 * followed it, drained with IPC_NOWAIT), then a retry of the backlogs the
 * pass may have made room for.  The pass is cut into slices (router.h):
 * between two slices the lock goes to whoever waits for it.  Each thread
 * shows its progress in a watch slot, which the watchdog reads without
 * the lock.  The thread exits when its queue is removed (EIDRM) and is
 * joined by the event thread.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "ipcd/core/clients.h"
#include "ipcd/core/datathread.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/router.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"

/* Messages one pass drains with IPC_NOWAIT after its blocking msgrcv. */
#define PASS_DRAIN_MAX 64

int uidq_get(struct router *r, uid_t uid, struct uidq **ret)
{
        struct uidq *u = uidq_find(r, uid);
        int e, qid;

        if (u) {
                *ret = u;
                return 0;
        }
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        qid = msgq_create(&r->mq, uid, r->lim.inbound_queue_bytes, NULL);
        if (qid < 0) {
                free(u);
                return qid;
        }
        u->router = r;
        u->uid = uid;
        u->qid = qid;
        e = pthread_create(&u->thread, NULL, router_uidq_thread, u);
        if (e) {
                msgq_remove(&r->mq, qid);
                free(u);
                return -e;
        }
        u->thread_started = true;
        u->next = r->uidqs;
        r->uidqs = u;
        log_debug("inbound queue %d for uid %u", qid, (unsigned)uid);
        *ret = u;
        return 0;
}

void router_stop_threads(struct router *r)
{
        r->shutting_down = true;
        for (struct uidq *u = r->uidqs; u; u = u->next)
                u->qid = msgq_remove(&r->mq, u->qid);
}

/* A free watch slot for uid's thread, or a new one (NULL: out of memory,
 * the thread goes unwatched). */
static struct watch_slot *watch_slot_get(struct router *r, uid_t uid)
{
        struct watch_slot *w;

        for (w = atomic_load(&r->watch); w; w = w->next) {
                bool no = false;

                if (atomic_compare_exchange_strong(&w->used, &no, true))
                        break;
        }
        if (!w) {
                w = calloc(1, sizeof(*w));
                if (!w)
                        return NULL;
                atomic_store(&w->used, true);
                w->next = atomic_load(&r->watch);
                while (!atomic_compare_exchange_weak(&r->watch, &w->next, w))
                        ;
        }
        atomic_store(&w->busy_since_ms, 0);
        atomic_store(&w->uid, (unsigned)uid);
        return w;
}

static void watch_slot_put(struct watch_slot *w)
{
        if (!w)
                return;
        atomic_store(&w->busy_since_ms, 0);
        atomic_store(&w->used, false);
}

static void watch_busy(struct watch_slot *w)
{
        if (w)
                atomic_store(&w->busy_since_ms, clock_now_ms() | 1); /* never 0 */
}

bool router_data_healthy(struct router *r, uint64_t now_ms, uint64_t limit_ms, uid_t *stuck)
{
        for (struct watch_slot *w = atomic_load(&r->watch); w; w = w->next) {
                uint64_t since = atomic_load(&w->busy_since_ms);

                if (atomic_load(&w->used) && since && now_ms > since && now_ms - since > limit_ms) {
                        *stuck = (uid_t)atomic_load(&w->uid);
                        return false;
                }
        }
        return true;
}

/* The end of a slice: flush, and let a waiter have the lock. */
static void pass_yield(struct router_pass *p)
{
        struct router *r = p->r;
        uint_fast64_t g;

        watch_busy(p->yield_data);
        if (atomic_load(&r->lock_waiters) == 0)
                return; /* nobody waits: carry on */
        /* Nothing batched may outlive the lock: a destination may go. */
        router_pass_end(p);
        g = atomic_load(&r->lock_grants);
        router_unlock(r);
        /* A mutex is not fair: without this the woken waiter would find it
         * taken again.  Bounded, in case the waiter gave up. */
        for (int i = 0; i < 1000 && atomic_load(&r->lock_grants) == g; i++)
                sched_yield();
        router_lock(r);
        watch_busy(p->yield_data);
}

/* One pass: the message of n bytes in buf and up to PASS_DRAIN_MAX more
 * that are already waiting, handled under one lock. */
static void uidq_pass(struct uidq *u, struct router_pass *p, struct watch_slot *w, int qid,
                      long *buf, size_t cap, ssize_t n)
{
        struct router *r = u->router;
        uint64_t start_us = clock_now_us();

        atomic_store(&u->pass_start_ms, start_us / USEC_PER_MSEC);
        atomic_store(&u->busy, true);
        watch_busy(w);
        router_lock(r);
        pass_slice_begin(p);
        router_pass_handle(p, buf + 1, (size_t)n);
        for (int i = 0; i < PASS_DRAIN_MAX; i++) {
                n = msgrcv(qid, buf, cap, 0, IPC_NOWAIT | MSG_NOERROR);
                if (n < 0)
                        break;
                router_pass_handle(p, buf + 1, (size_t)n);
        }
        router_pass_end(p);
        /* Retry backlogs this pass may have made room for. */
        router_drain_backlogs(r);
        r->cnt.data_busy_us += clock_now_us() - start_us;
        router_unlock(r);
        atomic_store(&w->busy_since_ms, 0);
        atomic_store(&u->busy, false);
        atomic_fetch_add(&u->passes, 1);
}

/* The data thread of u ends without being asked to (lock held). */
static void uidq_lost(struct router *r, struct uidq *u, int qid)
{
        /* Its queue vanished under it (its uid may remove it, or
         * msgrcv failed): its clients cannot send any more, so they
         * go with it (their queues are removed: each library sees
         * ipcd gone).  New clients of that uid get a new queue; the
         * uid's limits count on its books, so the count stays
         * right (issue 10, finding 3).  The last client puts u on
         * dead_uidqs: the event thread joins this thread. */
        struct client *c, *cn;
        unsigned n = 0;

        u->qid = msgq_remove(&r->mq, u->qid);
        u->removed = true;
        uidq_unlink(r, u);
        for (c = r->clients; c; c = cn) {
                cn = c->next;
                if (c->uq == u) {
                        router_client_remove(r, c);
                        n++;
                }
        }
        log_warning("inbound queue %d of uid %u removed behind ipcd's back: its %u "
                    "clients removed",
                    qid, (unsigned)u->uid, n);
}

void *router_uidq_thread(void *arg)
{
        struct uidq *u = arg;
        struct router *r = u->router;
        size_t cap = MAX(r->mq.msgmax, (size_t)8192);
        struct router_pass *p = router_pass_new(r, u);
        long *buf = malloc(sizeof(long) + cap);
        struct watch_slot *w = watch_slot_get(r, u->uid);
        int qid = -1;

        if (!p || !buf || !w) {
                log_error("data thread for uid %u: out of memory", (unsigned)u->uid);
                goto out;
        }
        p->yield = pass_yield;
        p->yield_data = w;
        router_lock(r);
        qid = u->qid;
        router_unlock(r);

        for (;;) {
                ssize_t n = msgrcv(qid, buf, cap, 0, MSG_NOERROR);

                if (n < 0) {
                        if (errno == EINTR && !atomic_load(&r->pausing))
                                continue;
                        if (errno == EINTR)
                                break;
                        if (errno != EIDRM && errno != EINVAL)
                                log_error_errno(-errno, "msgrcv on inbound queue %d", qid);
                        break;
                }
                uidq_pass(u, p, w, qid, buf, cap, n);
                if (atomic_load(&r->pausing))
                        break; /* at a pass boundary: nothing batched is left */
        }
out:
        router_pass_free(p);
        free(buf);
        watch_slot_put(w);
        router_lock(r);
        if (!u->removed && !r->shutting_down && !atomic_load(&r->pausing))
                uidq_lost(r, u, qid);
        if (r->wake)
                r->wake(r->wake_userdata);
        router_unlock(r);
        return NULL;
}

/* Re-exec: the signal that interrupts a data thread's blocking msgrcv
 * (never restarted, SA_RESTART or not); the handler does nothing. */
#define PAUSE_SIGNAL SIGURG
#define PAUSE_KICK_NS (5 * 1000 * 1000L)
#define PAUSE_KICKS 2000 /* 10 s */

static void on_pause_signal(int sig)
{
        (void)sig;
}

/* Interrupt t until it exits: one signal may come just before it enters
 * msgrcv, so kick again every PAUSE_KICK_NS. */
static int pause_join(pthread_t t)
{
        for (int i = 0; i < PAUSE_KICKS; i++) {
                struct timespec ts;
                int e;

                pthread_kill(t, PAUSE_SIGNAL);
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += PAUSE_KICK_NS;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                e = pthread_timedjoin_np(t, NULL, &ts);
                if (e == 0)
                        return 0;
                if (e != ETIMEDOUT)
                        return -e;
        }
        return -ETIMEDOUT;
}

int router_pause_threads(struct router *r)
{
        struct sigaction sa;
        struct uidq **all = NULL;
        size_t n = 0, cap = 0;
        int e = 0;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_pause_signal;
        sigemptyset(&sa.sa_mask);
        if (sigaction(PAUSE_SIGNAL, &sa, NULL) < 0)
                return -errno;
        atomic_store(&r->pausing, true);
        /* Threads on either list: one whose queue went away in its last
         * pass is on dead_uidqs, still running.  Only the event thread
         * (this one) frees a struct uidq or starts a thread. */
        router_lock(r);
        for (int list = 0; list < 2 && e == 0; list++)
                for (struct uidq *u = list ? r->dead_uidqs : r->uidqs; u && e == 0; u = u->next)
                        if (u->thread_started) {
                                e = util_array_reserve(&all, &cap, n + 1, sizeof(*all), 16);
                                if (e == 0)
                                        all[n++] = u;
                        }
        router_unlock(r);
        for (size_t i = 0; i < n && e == 0; i++) {
                e = pause_join(all[i]->thread);
                if (e == 0)
                        all[i]->thread_started = false;
        }
        free(all);
        return e;
}

int router_resume_threads(struct router *r)
{
        int e = 0;

        atomic_store(&r->pausing, false);
        router_lock(r);
        for (struct uidq *u = r->uidqs; u && e == 0; u = u->next) {
                if (u->thread_started || u->removed)
                        continue;
                e = -pthread_create(&u->thread, NULL, router_uidq_thread, u);
                if (e == 0)
                        u->thread_started = true;
        }
        router_unlock(r);
        return e;
}
