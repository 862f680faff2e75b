/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * router.h - the core's API for the edges (control.c, event.c, main.c):
 * ipcd's routing state of clients, names, per-uid inbound queues,
 * backlogs and counters (the types are state.h).  Plain C: no libsystemd,
 * no libconfig, so unit tests drive it directly.  Expected refusals are
 * ROUTER_E_* (errors.h), turned into the public errno by router_errno().
 *
 * The files of src/ipcd/core, each calling only those before it: state.h,
 * errors, clients, wakeup, held, delivery (with flow: the two call each
 * other, flow.c says why), answers, pass, bulk, message,
 * monitor, calls, pubsub, send, removal, revoke, ops, dispatch, datathread,
 * router, status, snapshot (the re-exec state) (and ring, msgq, topics,
 * policy beneath them all).
 *
 * Lock discipline (the one place it is written down):
 *
 *   router->lock protects everything in struct router and every struct
 *   client and struct uidq reachable from it.  Every thread takes it with
 *   router_lock() and releases it with router_unlock(), never with
 *   pthread_mutex_lock() directly: router_lock() counts its waiters.
 *   Data threads take it for one pass (the messages drained from their
 *   inbound queue after one blocking msgrcv), cut into slices: after
 *   PASS_SLICE_WORK units of work (a record, a history entry replayed) or
 *   PASS_SLICE_US, between two records, a data thread flushes what it
 *   batched and, if anyone waits in router_lock(), lets the lock go until
 *   a waiter got it (pass.h, datathread.c).  So no thread, the event
 *   thread included, waits behind a data thread's pass for more than one
 *   slice, and what one record may cost is bounded by the limits (a
 *   replay by history_total).  The event thread takes the lock for a
 *   registration, a removal, a status snapshot or a backlog retry.
 *   Nothing blocks while holding it: every msgsnd/msgrcv/semop under the
 *   lock uses IPC_NOWAIT, every FIFO is O_NONBLOCK.  The blocking msgrcv
 *   of a data thread happens with the lock released.  Fields marked
 *   [event] belong to the event thread alone (descriptors and event
 *   sources) and need no lock; fields marked [atomic] are read without
 *   the lock.  The watchdog never takes it: it reads the data threads'
 *   watch slots (router_data_healthy()).
 *
 * Lifetime: a client leaves the routing tables under the lock (name freed,
 * queue and semaphore removed) and goes on router->reap; the event thread
 * then closes its descriptors and frees it.  A uid's inbound queue exists
 * while the uid has clients; when the last one leaves it is removed, its
 * data thread sees EIDRM, exits, and is joined by the event thread.  A
 * queue removed behind ipcd's back (its uid owns it and may IPC_RMID it)
 * takes that uid's clients with it, as their last one would; the per-uid
 * limits count on the uid's books (struct uid_books), never on its queue.
 */
#pragma once

#include "ipcd/core/errors.h"
#include "ipcd/core/state.h"

static inline void router_lock(struct router *r)
{
        atomic_fetch_add(&r->lock_waiters, 1);
        pthread_mutex_lock(&r->lock);
        atomic_fetch_sub(&r->lock_waiters, 1);
        atomic_fetch_add(&r->lock_grants, 1);
}

static inline void router_unlock(struct router *r)
{
        pthread_mutex_unlock(&r->lock);
}

/* The watchdog's check, without the lock: false (and the uid) when a data
 * thread has been inside one slice of a pass for more than limit_ms. */
bool router_data_healthy(struct router *r, uint64_t now_ms, uint64_t limit_ms, uid_t *stuck);

int router_init(struct router *r, const struct router_limits *lim, int state_fd, gid_t gid);
/* Remove every object and free everything (threads must be joined). */
void router_done(struct router *r);

/* Registration (event thread, lock held).  On success the client is
 * routable and *ret points at it; expected refusals are ROUTER_E_INVALID
 * (the name), ROUTER_E_QUOTA, ROUTER_E_NAME_TAKEN, ROUTER_E_DENIED
 * (policy); a negative errno is a failure (-ENOMEM, a failed msgget).
 * The caller answers with router_errno(). */
int router_client_add(struct router *r, uid_t uid, pid_t pid, const char *name,
                      struct client **ret);
/* The same with its groups and unit (copied), which the rules match. */
int router_client_add_as(struct router *r, const struct policy_subject *who, pid_t pid,
                         const char *name, struct client **ret);
/* Put rules in force (lock held): takes *rules (emptied).  Clients already
 * connected are held to them from now on: a name one may no longer own
 * is released, a subscription it may no longer hold is dropped, each
 * with a notice to it (WIRE_NOTICE_NAME_LOST, WIRE_NOTICE_REVOKED).
 * Returns how many were revoked. */
unsigned router_set_policy(struct router *r, struct policy_rules *rules);
/* Ask for a client's removal in order with its earlier messages: post an
 * UNREGISTER record into its inbound queue (lock held by the caller). 0, or
 * -EAGAIN when that queue is full (the caller retries later). */
int router_client_post_death(struct router *r, struct client *c);
/* Remove at once (lock held). */
void router_client_remove(struct router *r, struct client *c);

/* Take one token of uid's request bucket (registrations, STATUS): false
 * when it is empty (lock held). */
bool router_rate_take(struct router *r, uid_t uid);

struct client *router_client_by_id(struct router *r, uint64_t id);
struct client *router_client_by_name(struct router *r, const char *name, size_t len);

/* Data-thread entry point. */
void *router_uidq_thread(void *arg);
/* Remove every inbound queue so the data threads exit (lock held). */
void router_stop_threads(struct router *r);
/* Re-exec (lock not held, event thread): every data thread finishes its
 * pass and exits, its inbound queue kept with what is in it; joined
 * here.  Then the routing state holds still.  0, or -errno when a
 * thread could not be stopped (the caller resumes). */
int router_pause_threads(struct router *r);
/* Start a data thread for every inbound queue without one (after a
 * pause, or a state read by snapshot.c); lock not held.  0 or -errno. */
int router_resume_threads(struct router *r);

/* Try to deliver backlogs (lock held); returns how many clients still
 * have one. */
unsigned router_drain_backlogs(struct router *r);

/* Limits may change on reload (lock held). */
void router_set_limits(struct router *r, const struct router_limits *lim);

/* Data path, exposed for unit tests: handle one inbound queue message of n
 * bytes from uid's queue.  Lock held; deliveries are flushed by
 * router_pass_end(). */
struct router_pass;
struct router_pass *router_pass_new(struct router *r, struct uidq *uq);
void router_pass_free(struct router_pass *p);
void router_pass_handle(struct router_pass *p, const void *mtext, size_t n);
void router_pass_end(struct router_pass *p);

/* STATUS: a snapshot of the routing state as the wire records it is
 * answered with.  collect copies under the lock (held by the caller);
 * complete asks the kernel for queue lengths without the lock; free
 * releases it.  collect returns 0 or -ENOMEM. */
struct router_status {
        struct wire_status_set set; /* set.daemon's pid and version: the caller's */
        size_t topics_cap;
        int sample_qid;            /* a client queue, for the size in effect; -1 */
        size_t default_qbytes;     /* kernel.msgmnb, without one */
};
int router_status_collect(struct router *r, struct router_status *st);
void router_status_complete(struct router_status *st);
void router_status_free(struct router_status *st);
