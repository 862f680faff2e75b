/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.h - internals of libipcd-client shared by its files (never
 * installed).  The files form layers; each calls only files below it,
 * and the core reaches the features above only through the session
 * hooks (struct session_hooks) that handle.c registers:
 *
 *   handle.c    ipcd_connect/ipcd_close: sets a handle up, registers the
 *               hooks, tears it down                              (top)
 *   subscribe.c publish/subscribe, history, overflow, monitor
 *   call.c      ipcd_call, ipcd_reply
 *   send.c      ipcd_send; message_send (inline, ring, or a request)
 *   recv.c      ipcd_recv, filling and releasing an ipcd_msg
 *   fd.c        ipcd_fd: the epoll descriptor, doorbells    (hooks)
 *   bulk.c      the shared-memory ring: lanes, buffers, releases (hooks)
 *   flow.c      flow control: the window per destination, waiting for
 *               credit (its bookkeeping, flow_credit_locked, is called
 *               by dispatch.c and calls nothing)
 *   batch.c     IPCD_MORE: inline sends held for one msgsnd(2)
 *   replay.c    what the handle asked ipcd for, replayed in a new
 *               session; re-stamping held IPCD_MORE sends      (hooks)
 *   request.c   the request path: one record out (Qu full policy), and
 *               send-and-await for every answered request
 *   wait.c      timed waits: the sleeper on Sc, hand-over between threads
 *   dispatch.c  msgrcv(2) from Qc, sorting records to their owners
 *   answer.c    the waiter list and reply waiters' mailboxes
 *   client.c    the session core: registration, reconnection, the one
 *               inbound-record encoder, sending on Qu, TIMED, the hooks
 *   pending.c   receive buffers and the pending list           (bottom)
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ipcd.h"
#include "shared/clock.h"
#include "shared/wire.h"

/* Exported definitions; everything else is hidden (-fvisibility=hidden)
 * and the version script keeps it so. */
#define IPCD_EXPORT __attribute__((visibility("default")))


/* Without a timeout of its own, a call reconnects for at most this long. */
#define RECONNECT_DEFAULT_USEC (2000ULL * USEC_PER_MSEC)
/* ipcd_connect: how long to wait for ipcd's answer, re-sending. */
#define CONNECT_TIMEOUT_USEC (5000ULL * USEC_PER_MSEC)
/* One registration attempt waits this long for an answer. */
#define REGISTER_ATTEMPT_USEC (1000ULL * USEC_PER_MSEC)
/* Reconnecting: how long a name in use is tried again before going on
 * without it (at most half the call's time). */
#define NAME_RETRY_USEC (500ULL * USEC_PER_MSEC)
/* Timed waits look at ipcd's end of the reply FIFO this often: a crashed
 * ipcd (its queues left behind) raises no EIDRM. */
#define PEER_CHECK_USEC (1000ULL * USEC_PER_MSEC)
/* ipcd_close: how long to wait for ipcd to confirm the unregistration. */
#define CLOSE_WAIT_USEC (1000ULL * USEC_PER_MSEC)
/* IPCD_ACK: how long to wait for the outcome. */
#define ACK_TIMEOUT_USEC (10000ULL * USEC_PER_MSEC)

/*
 * One queue message as received: refcounted, freed when the last record
 * in it has been released.  mtype and mtext are the msgrcv(2) buffer.
 */
struct rxbuf {
        unsigned refs; /* atomic */
        uint32_t size; /* mtext bytes received */
        uint32_t pool; /* a small buffer's capacity (pending.c: kept for reuse); 0: not one */
        uint64_t instance; /* of the ipcd it came from (unit.c); 0: made here */
        long mtype;
        uint8_t mtext[];
};

/* One record for the application, pointing into its rxbuf (one
 * reference).  On the pending list, or on the stack on its way out. */
struct rxrec {
        struct rxrec *next;
        struct rxbuf *buf;
        long mtype; /* the queue type: a user type or WIRE_TYPE_NOTICE */
        struct wire_out h;
        const char *name;
        const char *topic;
        const void *payload;
        /* WIRE_OUT_BULK: payload points into a ring segment (bulk.c). */
        struct bulk_seg *bulk_seg;
        uint64_t bulk_len;
        uint64_t bulk_pos;
        uint32_t bulk_ring, bulk_lane;
};

/* What one registration gave us; replaced as a whole on reconnection. */
struct session {
        uint64_t gen; /* counts registrations of this handle */
        uint64_t client_id;
        uint8_t token[WIRE_TOKEN_SIZE];
        int qu, qc, sc;
        uint32_t max_payload;
        uint32_t max_qmsg;
        uint64_t instance;
        uint64_t flow_window;      /* 0: ipcd does no flow control */
        uint64_t flow_bulk_window;
        uint64_t flow_client;      /* inline cost in flight to all destinations; 0: no bound */
};

/* Flow control (flow.c): what we have in flight to one destination, not
 * yet credited back by ipcd.  On c->flow, under c->lock. */
struct flow_dst {
        struct flow_dst *next;
        char name[IPCD_NAME_MAX];
        uint64_t gen;           /* the session the counts are of */
        uint64_t inflight;      /* inline cost (wire_flow_cost) */
        uint64_t bulk_inflight; /* ring bytes of unicast chunks */
        uint64_t resets;        /* bumped when the destination went away */
        bool gone;              /* it went away: the next send learns with an ACK */
        bool topic;             /* a topic we publish to (name is the topic) */
        bool active;            /* topic: it has reliable subscribers, we are windowed */
};

enum waiter_kind {
        WAITER_RECV,  /* a timed ipcd_recv(): wants a record matching filter */
        WAITER_REPLY, /* wants the answer with this cookie (IPCD_ACK, later calls) */
        WAITER_COND,  /* wants ready(ready_arg) to be true (lock held): e.g. room in a
                         bulk lane; woken by any raise of Sc */
};

struct waiter {
        struct waiter *next;
        enum waiter_kind kind;
        long filter;     /* RECV: the msgrcv filter; REPLY: wire_reply_type(cookie);
                            COND: a type whose records may satisfy it, or 0 */
        uint64_t cookie; /* REPLY */
        uint64_t gen;    /* the session it waits in */
        bool done;       /* REPLY: the answer is in status */
        int status;
        /* REPLY, optional: the answer's payload is copied here (up to
         * answer_size bytes, the rest zero-filled); answer_len = its length. */
        void *answer;
        size_t answer_size, answer_len;
        /* COND */
        bool (*ready)(ipcd_client *c, void *ready_arg);
        void *ready_arg;
        bool sweep_all; /* COND: sweeps take everything (filter 0) while it waits */
        /* REPLY of ipcd_call() (call.c): the reply record goes to rec,
         * holding a reference on rec.buf (has_rec), or ipcd's verdict
         * to status. */
        bool want_rec, has_rec;
        struct rxrec rec;
};

/* At most this many features register session hooks. */
#define SESSION_HOOKS_MAX 4

enum timed_state {
        TIMED_OFF,  /* ipcd does not raise Sc for us */
        TIMED_SENT, /* TIMED and a PING sent, the PING not yet answered */
        TIMED_ON,   /* the PING came back: every later delivery raises Sc */
};

struct ipcd_client {
        /* Fork detection: a MADV_WIPEONFORK page holding 1, which reads 0
         * in a forked child; NULL where the kernel lacks it, and then
         * getpid() is compared with pid. */
        volatile uint8_t *fork_guard;
        size_t fork_guard_size;
        pid_t pid;
        char *rundir;

        /* Taken around every msgrcv(IPC_NOWAIT) and the sorting of what
         * it brought (and the look at the pending list before it), so
         * that the pending list keeps the queue's order.  Never taken
         * while holding lock (the order is rx_lock, then lock). */
        pthread_mutex_t rx_lock;
        /* IPCD_MORE: inbound records held for one msgsnd(2).  ob_lock is
         * held across that msgsnd (it may wait for room); taken before
         * lock, never while holding it. */
        pthread_mutex_t ob_lock;
        uint8_t *ob;        /* mtype (long) then records */
        size_t ob_len;      /* record bytes after the mtype */
        size_t ob_cap;
        uint64_t ob_gen;    /* the session the records were made for */
        /* One spare msgrcv(2) buffer of max_qmsg bytes (atomic exchange):
         * a receive costs no large allocation, a failed IPC_NOWAIT look
         * none at all (pending.c, dispatch.c). */
        struct rxbuf *rx_spare;
        /* The last small buffer (pool != 0) a small queue message was
         * copied into, with a reference of the handle's (atomic
         * exchange): reused once its records are released, so receive,
         * release, receive costs no malloc/free (pending.c). */
        struct rxbuf *rx_small;
        pthread_mutex_t lock; /* protects everything below */
        pthread_cond_t cond;  /* CLOCK_MONOTONIC; state changes, see wait.c */

        char name[IPCD_NAME_MAX]; /* "" = anonymous */
        bool connected;           /* false after the session was lost */
        bool reconnecting;        /* a thread is registering again */
        struct session s;
        int reply_fd; /* our reply FIFO: ipcd holds its write end */

        uint64_t next_cookie;
        enum timed_state timed;
        uint64_t timed_cookie;
        uint64_t timed_since; /* usec */
        bool pull_needed;     /* a record said "backlog in ipcd": PULL once empty */

        struct rxrec *pending; /* received, not yet returned: oldest first */
        struct rxrec **pending_tail;
        struct rxrec *rec_cache; /* pending.c: nodes to reuse, not freed */
        unsigned nrec_cache;

        struct waiter *waiters; /* timed receivers and reply waiters */
        bool sleeper;           /* a thread sleeps on Sc for all waiters */
        bool sem_woke;          /* the last sleep ended by a wake-up */
        unsigned nblocking;     /* threads in a blocking msgrcv(2) */
        long blocking_filter;   /* the filter of that msgrcv (one thread: see multi_rx) */
        bool multi_rx;          /* several threads received at once: every receive
                                   goes through rx_lock and the Sc wait (dispatch.c) */

        struct bulk *bulk; /* bulk.c: lanes, allocations, mapped rings, releases */
        struct flow_dst *flow; /* flow.c: per destination; lock */
        int send_timeout_ms;   /* ipcd_set_send_timeout(); -1: forever; lock */
        uint64_t pub_unchecked; /* cost published unwindowed since we last looked for
                                   credit records (flow.c); lock */
        /* The features' session hooks, in the order they run (handle.c
         * registers them before the handle is shared; read-only after). */
        const struct session_hooks *hooks[SESSION_HOOKS_MAX];
        unsigned nhooks;

        /* replay.c: what this client asked ipcd for, sent again after a
         * reconnection (session_restore runs the hooks).  cfg_lock serialises these
         * requests and their replay; it is held across the round trip to
         * ipcd, taken before lock (never while holding lock or rx_lock)
         * and never taken by a thread inside client_ensure's caller
         * chain with it held.  The lists are guarded by cfg_lock. */
        pthread_mutex_t cfg_lock;
        struct cfg_topic *subs;      /* subscriptions in force */
        struct cfg_topic *histories; /* topics we set a history depth on */
        int ovf_policy;              /* 0: never set */
        int ovf_flags;
        uint64_t ovf_bytes;
        bool monitor;
        char monitor_pattern[IPCD_NAME_MAX];
        uint64_t restored_gen; /* (lock) the session all of it was sent in */

        /* fd.c: ipcd_fd().  -1 until it is first called; then doorbell is
         * true for good (read without the lock with __atomic). */
        int epoll_fd;
        int event_fd;   /* readable while pending != NULL or fd_kick */
        int epoll_fifo; /* the reply FIFO descriptor in the epoll set */
        bool doorbell;
        bool ev_on;     /* event_fd is readable now */
        bool fd_kick;   /* readable until a recv(…, 0) finds nothing */
        uint64_t kick_seq;

        struct unit_cache *units; /* unit.c: sender units learnt; lock */
};

struct bulk;
struct bulk_seg;

static inline void usec_to_timespec(uint64_t usec, struct timespec *ts)
{
        ts->tv_sec = (time_t)(usec / USEC_PER_SEC);
        ts->tv_nsec = (long)(usec % USEC_PER_SEC) * 1000L;
}

static inline bool filter_match(long filter, long mtype)
{
        if (filter == 0)
                return true;
        if (filter > 0)
                return mtype == filter;
        return mtype >= 1 && mtype <= -filter;
}

enum qfull {
        QFULL_BLOCK, /* msgsnd(2) waits for room in Qu */
        QFULL_FAIL,  /* -EAGAIN at once (IPCD_NONBLOCK) */
        QFULL_RETRY, /* retry until the deadline (-ETIMEDOUT), or -ECONNRESET */
};

/* One inbound record, and how to send it (request.c). */
struct lib_req {
        enum wire_op op;
        uint16_t wflags; /* WIRE_IN_* */
        const char *dst; /* NULL: none */
        long type;
        uint64_t arg;
        const void *data;
        size_t len;
        enum qfull qfull;
        uint64_t deadline; /* usec: QFULL_RETRY, and the wait for the answer */
        /* lib_request: wait at most this long (usec) once sent; 0: no limit
         * but deadline. */
        uint64_t answer_usec;
};

/*
 * Session hooks: what the features above the core do at its events, so
 * that the core never calls up into them.  Every member may be NULL.
 */
struct session_hooks {
        /* A new session replaces the old one (lock held; new_fifo is its
         * reply FIFO, the old one is still open). */
        void (*installed_locked)(ipcd_client *c, int new_fifo);
        /* Once per new session, before the call that reconnected goes on
         * (cfg_lock held, lock not): ask the new ipcd again for what was
         * asked of the old one.  -ECONNRESET: lost again, stop (the next
         * session replays everything); anything else: go on. */
        int (*restore)(ipcd_client *c);
        /* A thread is about to block or sleep waiting for ipcd (lock not
         * held). */
        void (*idle)(ipcd_client *c);
        /* A delivered record with WIRE_OUT_BULK (lock held): point r at
         * the payload.  0, or -errno: the record is skipped. */
        int (*rx_bulk_locked)(ipcd_client *c, const struct session *s, const struct wire_out *h,
                              const void *payload, struct rxrec *r);
};

/* ---- pending.c ---- */
void rxbuf_ref(struct rxbuf *b);
void rxbuf_unref(struct rxbuf *b);
/* A small buffer of at least n mtext bytes (pool set; NULL: -ENOMEM),
 * and, once filled, the handle's reference on it for the next take. */
struct rxbuf *rx_small_take(ipcd_client *c, size_t n);
void rx_small_keep(ipcd_client *c, struct rxbuf *b);
/* The spare receive buffer if it has this capacity, else a new one
 * (NULL: -ENOMEM); give it back with rx_spare_put. */
struct rxbuf *rx_spare_take(ipcd_client *c, size_t size);
void rx_spare_put(ipcd_client *c, struct rxbuf *b, size_t size);
/* Free the spare and the small receive buffers (client_free). */
void rx_spare_free(ipcd_client *c);
/* Append r (holding a reference on its buffer) to the pending list (lock
 * held). */
void pending_append(ipcd_client *c, struct rxrec *r);
/* A node for the pending list (lock held): a reused one, or a new one
 * (NULL: -ENOMEM). */
struct rxrec *pending_node_locked(ipcd_client *c);
/* Take the oldest pending record matching filter (lowest type first for
 * a negative filter) into *out, its node kept for reuse; lock held.
 * false if none. */
bool pending_take(ipcd_client *c, long filter, struct rxrec *out);
bool pending_has(ipcd_client *c, long filter);
void pending_free_all(ipcd_client *c);
/* Queue a notice made by the library itself (e.g. a name not regained). */
void pending_add_notice(ipcd_client *c, int code, uint64_t arg, const char *text);
/* The pending list or a kick changed (lock held): keep ipcd_fd()'s
 * eventfd in step. */
void pending_sync_fd_locked(ipcd_client *c);
static inline void fd_pending_changed(ipcd_client *c)
{
        if (c->event_fd >= 0)
                pending_sync_fd_locked(c);
}

/* ---- client.c: the session core ---- */
bool client_forked(const ipcd_client *c);
/* The first registration of a new handle (ipcd_connect). */
int client_session_open(ipcd_client *c, uint64_t deadline);
/* Reconnect if the session was lost; 0, -ECONNREFUSED, or an error ipcd
 * gave.  persist: retry with backoff until deadline (usec) while no
 * daemon answers; else one attempt.  A new session runs the restore
 * hooks before it returns. */
int client_ensure(ipcd_client *c, uint64_t deadline, bool persist);
/* The same with a deadline usec from now, computed only when needed. */
int client_ensure_in(ipcd_client *c, uint64_t usec, bool persist);
/* The session was lost (EIDRM/EINVAL, or ipcd closed the FIFO): the next
 * call reconnects.  Ignored if gen is not the current session.  Lock held. */
void client_lost_locked(ipcd_client *c, uint64_t gen);
void client_lost(ipcd_client *c, uint64_t gen);
/* true if ipcd closed its end of the reply FIFO (it died). */
bool client_peer_gone(ipcd_client *c);
/* The one inbound-record encoder: q as a record of session s with this
 * cookie, appended at *off to mtext (size bytes). */
int client_record_put(const struct session *s, const struct lib_req *q, uint64_t cookie,
                      uint8_t *mtext, size_t size, size_t *off);
/* Send one inbound queue message (msg: mtype then len bytes). */
int client_inbound_send(ipcd_client *c, const struct session *s, void *msg, size_t len,
                        bool nowait);
/* Send a record without destination or payload (PULL, UNREGISTER...),
 * never waiting for room. */
int client_send_op(ipcd_client *c, const struct session *s, enum wire_op op, uint64_t cookie);
/* A cookie no current waiter uses (lock held); never 0. */
uint64_t client_cookie_new(ipcd_client *c);
/* Ask ipcd to raise Sc after deliveries, if not done in this session
 * (lock held; drops and retakes it to send). */
void client_timed_start_locked(ipcd_client *c);
/* Register a feature's hooks (handle.c, before the handle is shared). */
void client_hooks_add(ipcd_client *c, const struct session_hooks *h);
/* After a new session: run the restore hooks once (lock not held). */
void session_restore(ipcd_client *c);
/* Run the idle hooks (lock not held). */
void client_idle(ipcd_client *c);
/* Hand a bulk record to its hook (lock held); -EOPNOTSUPP without one. */
int client_hook_rx_bulk_locked(ipcd_client *c, const struct session *s, const struct wire_out *h,
                               const void *payload, struct rxrec *r);
/* After a non-sleeper thread deposited something for others (lock
 * held): wake them.  Returns true if the caller must raise Sc after
 * unlocking (a thread sleeps on it). */
bool wake_waiters_locked(ipcd_client *c);
void sem_raise(const struct session *s);
/* pthread_cond_(timed)wait on c->cond until deadline (usec, CLOCK_MONOTONIC). */
void cond_wait_until(ipcd_client *c, uint64_t deadline);

/* ---- answer.c ---- */
void waiter_add(ipcd_client *c, struct waiter *w);
void waiter_remove(ipcd_client *c, struct waiter *w);
/* An answer with cookie (lock held), its payload copied into w->answer
 * if set.  true if a waiter took it. */
bool answer_deliver_locked(ipcd_client *c, uint64_t cookie, int status, const void *data,
                           size_t len);
/* A zero-byte message on reply type mtype: "ACK, status 0" (wire.h). */
bool answer_empty_locked(ipcd_client *c, const struct session *s, long mtype);
/* ipcd_call()'s reply record (or ipcd's verdict) for its waiter. */
bool answer_record_locked(ipcd_client *c, struct rxbuf *b, const struct wire_out *h,
                          const char *name, const void *payload);

/* ---- dispatch.c ---- */
/* msgrcv(2) one queue message into a new buffer: 0, -ENOMSG (IPC_NOWAIT
 * and nothing there), -ECONNRESET (session lost, recorded), -EINTR,
 * -ENOMEM, other -errno. */
int rx_queue(ipcd_client *c, const struct session *s, long filter, int flags,
             struct rxbuf **ret);
/* Sort a received message (takes over the caller's reference on b): the
 * first application record matching want goes to *out (if out != NULL;
 * *got says so), the others to the pending list, answers to their
 * waiters; a PULL marker is answered.  sleeper: the caller is the thread
 * sleeping on Sc (nobody to wake then). */
void rx_dispatch(ipcd_client *c, const struct session *s, struct rxbuf *b, long want,
                 struct rxrec *out, bool *got, bool sleeper);
/* One look without waiting: the oldest pending record matching filter,
 * else one queue message sorted.  1 with *rec, 0 if what came was for
 * someone else (look again), -ENOMSG, -ECONNRESET, other -errno.  A PULL
 * due is sent when the queue is empty. */
int rx_take_nowait(ipcd_client *c, long filter, struct rxrec *rec);
/* A second receiving thread appeared: leave the plain blocking
 * msgrcv(2) for good (lock held). */
void rx_go_multi_locked(ipcd_client *c);
/* Send a PULL if a record asked for one (our queue is empty now). */
void pull_if_needed(ipcd_client *c, const struct session *s);

/* ---- wait.c ---- */
/* Wait for w (registered on c->waiters by the caller) until deadline
 * (usec).  Lock held on entry and on return.  0: satisfied (a receiver's
 * record is copied into *rec), -ETIMEDOUT, -ECONNRESET. */
int wait_for(ipcd_client *c, struct waiter *w, uint64_t deadline, struct rxrec *rec);

/* ---- request.c ---- */
/* Send q in session s with this cookie (no waiting for an answer). */
int lib_send(ipcd_client *c, const struct session *s, const struct lib_req *q, uint64_t cookie);
/* Send q and wait for its answer on the reply type (an answered op, or
 * WIRE_IN_ACK): the answer's status (>= 0, or ipcd's -errno) or -errno.
 * w: the caller's waiter (answer buffer, want_rec), or NULL.  Does not
 * reconnect (call client_ensure first). */
int lib_request(ipcd_client *c, const struct lib_req *q, struct waiter *w);
/* lib_request in two halves, for a caller that sends under a lock of its
 * own: register w (lock held; 0 with *s, or -ECONNRESET), then, after
 * lib_send with w->cookie returned sent, wait and remove w. */
int request_begin_locked(ipcd_client *c, struct waiter *w, struct session *s);
int request_finish(ipcd_client *c, struct waiter *w, int sent, uint64_t deadline);

/* ---- replay.c ---- */
struct cfg_topic {
        struct cfg_topic *next;
        unsigned depth; /* histories */
        char name[IPCD_NAME_MAX];
};
struct cfg_topic **cfg_find(struct cfg_topic **list, const char *name);
void cfg_drop(struct cfg_topic **pp);
void cfg_free_all(struct cfg_topic **list);
struct cfg_topic *cfg_new(const char *name, unsigned depth);
/* A request changing our state in ipcd: answered, retried while Qu is full. */
int cfg_request(ipcd_client *c, enum wire_op op, const char *dst, uint64_t arg, const void *data,
                size_t len, uint64_t deadline);
int overflow_request(ipcd_client *c, int policy, uint64_t bytes, int flags, uint64_t deadline);
/* Held IPCD_MORE records of a past session get s's id and token (ob_lock
 * held); -ECONNRESET if s is older than they are. */
int replay_batch_restamp(ipcd_client *c, const struct session *s);
void replay_free(ipcd_client *c);
extern const struct session_hooks replay_hooks;

/* ---- flow.c ---- */
/* Take cost (bulk: ring bytes) of dst's window before a send, waiting
 * for credit unless IPCD_NONBLOCK (in flags).  0, -EAGAIN, -ETIMEDOUT
 * (the send timeout), -ECONNRESET (dst or ipcd went away while we
 * waited).  *ack: dst went away before: send this one with IPCD_ACK to
 * learn whether the name is back (flow_learned).  *wflags: what the send
 * carries: WIRE_IN_FLOW_FULL (half the window or more is in flight now),
 * WIRE_IN_FLOW_WANTS (half the client budget or more is). */
int flow_reserve(ipcd_client *c, const char *dst, uint64_t cost, bool bulk, int flags, bool *ack,
                 uint16_t *wflags);
/* The same for a publish to topic: only while it has reliable
 * subscribers (ipcd said so); 0, -EAGAIN, -ETIMEDOUT, -ECONNRESET (ipcd). */
int flow_reserve_topic(ipcd_client *c, const char *topic, uint64_t cost, int flags);
void flow_unreserve_topic(ipcd_client *c, const char *topic, uint64_t cost);
/* A send that took cost failed: give it back. */
void flow_unreserve(ipcd_client *c, const char *dst, uint64_t cost, bool bulk);
/* The outcome r of a send made with *ack (flow_reserve). */
void flow_learned(ipcd_client *c, const char *dst, int r);
/* A WIRE_OUT_CREDIT record (lock held): true if a waiter may care. */
bool flow_credit_locked(ipcd_client *c, const struct session *s, const struct wire_out *h,
                        const char *name, const char *topic);
void flow_free(ipcd_client *c);

/* ---- batch.c ---- */
/* Send the records IPCD_MORE held (if any) now, in order before whatever
 * the caller sends next; 0, -EAGAIN (nowait and Qu full: they stay held),
 * -ECONNRESET (they are lost with the session). */
int client_ob_flush(ipcd_client *c, bool nowait);
/* Hold (IPCD_MORE) or send with what is held an inline SEND. */
int batch_send(ipcd_client *c, const struct session *s, const char *dst, long type,
               const void *data, size_t len, int flags, uint16_t wflags);

/* ---- bulk.c ---- */
/* Send len bytes (any size up to a lane) through the ring: allocate, copy,
 * send with op WIRE_OP_SEND or WIRE_OP_PUBLISH to dst (a name or topic).
 * For ipcd_send()/ipcd_publish() of payloads over max_payload.  flags:
 * IPCD_NONBLOCK, IPCD_ACK.  Returns what ipcd_send_buf()/ipcd_publish_buf()
 * return (for a publish with IPCD_ACK, the subscriber count). */
int bulk_send_copy(ipcd_client *c, enum wire_op op, const char *dst, long type, const void *data,
                   size_t len, int flags);
/* A delivered record with WIRE_OUT_BULK (lock held; the rx_bulk_locked
 * hook): map the ring, point r at the payload.  0, or -errno: the chunk
 * was queued for release and the record must be skipped. */
int bulk_rx_resolve(ipcd_client *c, const struct session *s, const struct wire_out *h,
                    const void *payload, struct rxrec *r);
/* Queue the release of a bulk message that msg_fill() filled. */
void bulk_msg_release(ipcd_client *c, const ipcd_msg *msg);
/* Point msg at a bulk record's payload; its release data in reserved_[2..6]. */
void bulk_msg_fill(ipcd_msg *msg, const struct rxrec *r);
/* Send pending bulk releases: all of them if block (before a receive
 * blocks or sleeps, a receive finds nothing, a blocking send; retries a
 * full Qu for up to 10 ms), else only when 32 are pending or the oldest is
 * 10 ms old (at any library call).  Lock not held.  Costs one atomic load
 * when nothing is pending. */
void bulk_release_flush(ipcd_client *c, bool block);
/* ipcd_close(): flush releases, give lanes back (lock not held). */
void bulk_close(ipcd_client *c);
/* Free everything, detach the rings (client_free). */
void bulk_free(ipcd_client *c);
extern const struct session_hooks bulk_hooks;

/* ---- fd.c: ipcd_fd() ---- */
static inline bool fd_in_use(ipcd_client *c)
{
        return __atomic_load_n(&c->doorbell, __ATOMIC_ACQUIRE);
}
static inline uint64_t fd_seq(ipcd_client *c)
{
        return __atomic_load_n(&c->kick_seq, __ATOMIC_ACQUIRE);
}
/* Read the doorbell bytes off the reply FIFO: 0, or -ECONNRESET when
 * ipcd closed it. */
int fd_drain(ipcd_client *c);
/* A recv(…, 0) that started at kick sequence seq found nothing. */
void fd_quiet(ipcd_client *c, uint64_t seq);
void fd_free(ipcd_client *c);
extern const struct session_hooks fd_hooks;

/* ---- send.c ---- */
/* One message q (SEND or PUBLISH; flags IPCD_NONBLOCK, IPCD_ACK), after
 * what IPCD_MORE held: inline, or through the bulk ring when larger than
 * max_payload; with IPCD_ACK, ipcd's outcome. */
int message_send(ipcd_client *c, const struct lib_req *q, int flags);

/* ---- recv.c ---- */
/* Fill the application's message from a record (it takes r's reference);
 * c: the handle it was received on (for ipcd_msg_sender_unit). */
void msg_fill(ipcd_client *c, ipcd_msg *msg, struct rxrec *r);
/* msg was filled by msg_fill and not released. */
bool msg_is_ours(const ipcd_msg *msg);

/* ---- unit.c ---- */
/* The sender units learnt (ipcd_close). */
void unit_free(ipcd_client *c);
