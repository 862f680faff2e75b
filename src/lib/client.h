/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.h - internals of libipcd-client shared by its files (never
 * installed).  client.c: handles, registration, reconnection, sending.
 * recv.c: receiving, sorting what arrives, messages.  wait.c: timed waits
 * and the hand-over between threads that wait on one handle.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcd.h"
#include "shared/wire.h"

/* Exported definitions; everything else is hidden (-fvisibility=hidden)
 * and the version script keeps it so. */
#define IPCD_EXPORT __attribute__((visibility("default")))

#define USEC_INFINITY UINT64_MAX
#define USEC_PER_MSEC 1000ULL

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
/* IPCD_ACK: how long to wait for the outcome. */
#define ACK_TIMEOUT_USEC (10000ULL * USEC_PER_MSEC)

/*
 * One queue message as received: refcounted, freed when the last record
 * in it has been released.  mtype and mtext are the msgrcv(2) buffer.
 */
struct rxbuf {
        unsigned refs; /* atomic */
        uint32_t size; /* mtext bytes received */
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
};

enum waiter_kind {
        WAITER_RECV,  /* a timed ipcd_recv(): wants a record matching filter */
        WAITER_REPLY, /* wants the answer with this cookie (IPCD_ACK, later calls) */
};

struct waiter {
        struct waiter *next;
        enum waiter_kind kind;
        long filter;     /* RECV: the msgrcv filter; REPLY: wire_reply_type(cookie) */
        uint64_t cookie; /* REPLY */
        uint64_t gen;    /* the session it waits in */
        bool done;       /* REPLY: the answer is in status */
        int status;
};

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

        struct waiter *waiters; /* timed receivers and reply waiters */
        bool sleeper;           /* a thread sleeps on Sc for all waiters */
        bool sem_woke;          /* the last sleep ended by a wake-up */
        unsigned nblocking;     /* threads in a blocking msgrcv(2) */
};

/* client.c */
bool client_forked(const ipcd_client *c);
/* Reconnect if the session was lost; 0, -ECONNREFUSED, or an error ipcd
 * gave.  persist: retry with backoff until deadline (usec) while no
 * daemon answers; else one attempt. */
int client_ensure(ipcd_client *c, uint64_t deadline, bool persist);
/* The session was lost (EIDRM/EINVAL, or ipcd closed the FIFO): the next
 * call reconnects.  Ignored if gen is not the current session.  Lock held. */
void client_lost_locked(ipcd_client *c, uint64_t gen);
void client_lost(ipcd_client *c, uint64_t gen);
/* true if ipcd closed its end of the reply FIFO (it died). */
bool client_peer_gone(ipcd_client *c);
/* Send one inbound queue message (msg: mtype then len bytes). */
int client_inbound_send(ipcd_client *c, const struct session *s, void *msg, size_t len,
                        bool nowait);
/* Send a record without destination or payload (PULL, TIMED, PING...). */
int client_send_op(ipcd_client *c, const struct session *s, enum wire_op op, uint64_t cookie);
/* A cookie no current waiter uses (lock held); never 0. */
uint64_t client_cookie_new(ipcd_client *c);
/* Ask ipcd to raise Sc after deliveries, if not done in this session
 * (lock held; drops and retakes it to send). */
void client_timed_start_locked(ipcd_client *c);

/* recv.c */
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
/* Take the oldest pending record matching filter (lowest type first for
 * a negative filter); lock held.  NULL if none. */
struct rxrec *pending_take(ipcd_client *c, long filter);
bool pending_has(ipcd_client *c, long filter);
void pending_free_all(ipcd_client *c);
void rxbuf_unref(struct rxbuf *b);
/* Queue a notice made by the library itself (e.g. a name not regained). */
void pending_add_notice(ipcd_client *c, int code, uint64_t arg, const char *text);

/* wait.c */
/* Wait for w (registered on c->waiters by the caller) until deadline
 * (usec).  Lock held on entry and on return.  0: satisfied (a receiver's
 * record is copied into *rec), -ETIMEDOUT, -ECONNRESET. */
int wait_for(ipcd_client *c, struct waiter *w, uint64_t deadline, struct rxrec *rec);
void waiter_add(ipcd_client *c, struct waiter *w);
void waiter_remove(ipcd_client *c, struct waiter *w);
/* Deposit an answer (lock held).  true if a waiter took it. */
bool waiter_deliver(ipcd_client *c, uint64_t cookie, int status);
/* After a non-sleeper thread deposited something for others (lock
 * held): wake them.  Returns true if the caller must raise Sc after
 * unlocking (a thread sleeps on it). */
bool wake_waiters_locked(ipcd_client *c);
void sem_raise(const struct session *s);

static inline bool filter_match(long filter, long mtype)
{
        if (filter == 0)
                return true;
        if (filter > 0)
                return mtype == filter;
        return mtype >= 1 && mtype <= -filter;
}
