/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dispatch.c - libipcd-client: taking queue messages from Qc and sorting
 * their records to their owners.
 *
 * rx_queue() receives one queue message (pending.c's buffers);
 * rx_dispatch() hands each record of it to whoever it is for: user
 * messages and notices to the caller or the pending list (a bulk
 * descriptor is resolved first by the bulk hook, bulk.c), answers on
 * reply types into their waiter's mailbox (answer.c), a PULL marker
 * answered at once.  rx_take_nowait() is one look without waiting, the
 * step every timed wait (wait.c) and ipcd_recv(…, 0) are made of.
 *
 * A handle starts with one plain blocking msgrcv(2) for ipcd_recv(…, -1)
 * and leaves it for good when a second receiving thread appears
 * (rx_go_multi_locked, below).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/clock.h"

int rx_queue(ipcd_client *c, const struct session *s, long filter, int flags, struct rxbuf **ret)
{
        struct rxbuf *b = rx_spare_take(c, s->max_qmsg);
        ssize_t n;
        int e;

        if (!b)
                return -ENOMEM;
        /* MSG_NOERROR: a message larger than promised cannot get stuck at
         * the head of the queue; its cut-off record is refused below. */
        n = msgrcv(s->qc, &b->mtype, s->max_qmsg, filter, flags | MSG_NOERROR);
        if (n < 0) {
                e = errno;
                rx_spare_put(c, b, s->max_qmsg);
                switch (e) {
                case ENOMSG:
                        return -ENOMSG;
                case EIDRM:
                case EINVAL:
                        /* Qc removed: ipcd stopped, or dropped us. */
                        client_lost(c, s->gen);
                        return -ECONNRESET;
                default:
                        return -e;
                }
        }
        b->refs = 1;
        b->size = (uint32_t)n;
        b->instance = s->instance;
        /* Do not pin max_qmsg bytes for a small message: copy it out and
         * keep the big buffer for the next receive. */
        if ((size_t)n < s->max_qmsg / 2) {
                struct rxbuf *small = rx_small_take(c, (size_t)n);

                if (small) {
                        uint32_t pool = small->pool;

                        memcpy(small, b, sizeof(struct rxbuf) + (size_t)n);
                        small->pool = pool;
                        rx_spare_put(c, b, s->max_qmsg);
                        b = small;
                        rx_small_keep(c, b);
                }
        }
        *ret = b;
        return 0;
}

/* ------------------------------------------------------------------ */
/* Sorting what arrived.                                                */

/* Wake-ups for threads blocked in msgrcv(2) while records they could
 * take sit on the pending list: a zero-length message of the records'
 * type in our own queue (we own Qc), which carries no record and only
 * makes the receiver look at the pending list again. */
static void post_wakeups(const struct session *s, long mtype, unsigned n)
{
        long m = mtype;

        while (n-- > 0)
                if (msgsnd(s->qc, &m, 0, IPC_NOWAIT) < 0)
                        break;
}

/* What one rx_dispatch() call sorts, and what it owes afterwards. */
struct rx_sort {
        ipcd_client *c;
        const struct session *s;
        struct rxbuf *b;
        long mtype;
        long want;         /* the caller's filter (out != NULL) */
        struct rxrec *out; /* the caller's record, or NULL */
        bool *got;
        bool raise;     /* something for a waiter: wake them, raise Sc */
        unsigned added; /* records put on the pending list */
        unsigned refs;  /* references on b the records took (added once, at the end) */
};

/* The PING that confirms TIMED came back (lock held): ipcd raises Sc for
 * every delivery from now on. */
static bool timed_confirm_locked(struct rx_sort *st, uint64_t cookie)
{
        ipcd_client *c = st->c;

        if (c->timed != TIMED_SENT || c->timed_cookie != cookie || c->s.gen != st->s->gen)
                return false;
        c->timed = TIMED_ON;
        return true; /* waiters may sleep without limit now */
}

/* A record on a reply type (lock held): an answer for a waiter. */
static void sort_answer_locked(struct rx_sort *st, const struct wire_out *h, const char *name,
                               const void *payload)
{
        ipcd_client *c = st->c;

        if (h->kind == WIRE_OUT_REPLY) {
                /* ipcd_call()'s answer; a late one (nobody waits) is
                 * dropped. */
                st->raise |= answer_record_locked(c, st->b, h, name, payload);
                return;
        }
        if (h->kind != WIRE_OUT_ACK)
                return;
        if (timed_confirm_locked(st, h->cookie) ||
            answer_deliver_locked(c, h->cookie, h->status, payload, h->len))
                st->raise = true;
}

/* A message, monitor copy or notice (lock held): to the caller if it
 * wants it and has nothing yet, else onto the pending list. */
static void sort_message_locked(struct rx_sort *st, const struct wire_out *h, const char *name,
                                const char *topic, const void *payload)
{
        ipcd_client *c = st->c;
        struct rxrec *r, bk = {.bulk_seg = NULL};

        if (st->mtype == WIRE_TYPE_NOTICE ? h->kind != WIRE_OUT_NOTICE
                                          : h->kind != WIRE_OUT_MSG && h->kind != WIRE_OUT_MONITOR)
                return;
        /* A bulk descriptor: the payload lies in a ring (the bulk hook,
         * bulk.c); one that cannot be mapped is released and skipped.  (A
         * monitor copy's WIRE_OUT_BULK only says that the message went
         * through a ring: it carries no descriptor.) */
        if ((h->flags & WIRE_OUT_BULK) && h->kind != WIRE_OUT_MONITOR &&
            client_hook_rx_bulk_locked(c, st->s, h, payload, &bk) < 0)
                return;
        if (st->out && !*st->got && filter_match(st->want, st->mtype)) {
                r = st->out;
                *st->got = true;
        } else if (!(r = pending_node_locked(c)))
                return;
        st->refs++;
        *r = bk;
        r->next = NULL;
        r->buf = st->b;
        r->mtype = st->mtype;
        r->h = *h;
        r->name = name;
        r->topic = topic;
        if (!bk.bulk_seg)
                r->payload = payload;
        if (r != st->out) {
                pending_append(c, r);
                st->added++;
        }
}

void rx_dispatch(ipcd_client *c, const struct session *s, struct rxbuf *b, long want,
                 struct rxrec *out, bool *got, bool sleeper)
{
        struct rx_sort st = {.c = c, .s = s, .b = b, .mtype = b->mtype, .want = want,
                             .out = out, .got = got};
        bool reply = st.mtype >= WIRE_TYPE_REPLY_BASE, raise;
        unsigned wakeups = 0;
        size_t off = 0;

        if (got)
                *got = false;
        if (st.mtype == WIRE_TYPE_PULL) {
                /* Our queue is drained up to the marker: ask for the rest. */
                rxbuf_unref(b);
                (void)client_send_op(c, s, WIRE_OP_PULL, 0);
                return;
        }
        if (st.mtype == WIRE_TYPE_CREDIT) {
                /* Flow control: ours, never the application's (flow.c). */
                raise = false;
                pthread_mutex_lock(&c->lock);
                for (;;) {
                        struct wire_out h;
                        const char *name, *topic;
                        const void *payload;

                        if (wire_out_next(b->mtext, b->size, &off, &h, &name, &topic, &payload) <= 0)
                                break;
                        raise |= flow_credit_locked(c, s, &h, name, topic);
                }
                raise = raise && !sleeper && wake_waiters_locked(c);
                pthread_mutex_unlock(&c->lock);
                rxbuf_unref(b);
                if (raise)
                        sem_raise(s);
                return;
        }
        if (!reply && !wire_type_is_user(st.mtype) && st.mtype != WIRE_TYPE_NOTICE) {
                rxbuf_unref(b); /* a type nobody defined: drop it */
                return;
        }

        pthread_mutex_lock(&c->lock);
        /* A zero-byte answer: "ACK, status 0" (wire.h); it carries no
         * cookie, its type says whose it is. */
        if (reply && b->size == 0 &&
            ((c->timed == TIMED_SENT && wire_reply_type(c->timed_cookie) == st.mtype &&
              timed_confirm_locked(&st, c->timed_cookie)) ||
             answer_empty_locked(c, s, st.mtype)))
                st.raise = true;
        for (;;) {
                struct wire_out h;
                const char *name, *topic;
                const void *payload;

                if (wire_out_next(b->mtext, b->size, &off, &h, &name, &topic, &payload) <= 0)
                        break; /* the end, or a malformed rest: drop it */
                if (h.flags & WIRE_OUT_BACKLOG)
                        c->pull_needed = true;
                if (reply)
                        sort_answer_locked(&st, &h, name, payload);
                else
                        sort_message_locked(&st, &h, name, topic, payload);
        }
        if (st.added) {
                st.raise = true;
                wakeups = MIN(st.added, c->nblocking);
        }
        raise = st.raise && !sleeper && wake_waiters_locked(c);
        /* The records' references, in one atomic operation for the batch
         * (ours becomes one of them), before any other thread can see the
         * pending list (c->lock); without records, ours is dropped. */
        if (st.refs > 1)
                __atomic_add_fetch(&b->refs, st.refs - 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&c->lock);

        if (st.refs == 0)
                rxbuf_unref(b);
        if (raise)
                sem_raise(s);
        if (wakeups)
                post_wakeups(s, st.mtype, wakeups);
}

/* Send a PULL if a record asked for one (our queue is empty now). */
void pull_if_needed(ipcd_client *c, const struct session *s)
{
        bool pull;

        pthread_mutex_lock(&c->lock);
        pull = c->pull_needed && c->s.gen == s->gen;
        c->pull_needed = false;
        pthread_mutex_unlock(&c->lock);
        if (pull)
                (void)client_send_op(c, s, WIRE_OP_PULL, 0);
}

/* ------------------------------------------------------------------ */
/* ipcd_recv().                                                         */

int rx_take_nowait(ipcd_client *c, long filter, struct rxrec *rec)
{
        struct session s;
        struct rxbuf *b;
        bool got = false;
        int r;

        /* A thread in a plain blocking msgrcv(2) would race with us for
         * the queue's order: make it leave that path first. */
        if (filter < WIRE_TYPE_REPLY_BASE) {
                pthread_mutex_lock(&c->lock);
                if (c->nblocking > 0)
                        rx_go_multi_locked(c);
                pthread_mutex_unlock(&c->lock);
        }
        /* Under rx_lock: nothing received before our msgrcv(2) can land
         * on the pending list after we looked at it. */
        pthread_mutex_lock(&c->rx_lock);
        pthread_mutex_lock(&c->lock);
        if (pending_take(c, filter, rec)) {
                pthread_mutex_unlock(&c->lock);
                pthread_mutex_unlock(&c->rx_lock);
                return 1;
        }
        s = c->s;
        pthread_mutex_unlock(&c->lock);

        do
                r = rx_queue(c, &s, filter, IPC_NOWAIT, &b);
        while (r == -EINTR);
        if (r == 0)
                rx_dispatch(c, &s, b, filter, rec, &got, false);
        pthread_mutex_unlock(&c->rx_lock);
        if (r == -ENOMSG)
                pull_if_needed(c, &s);
        if (r < 0)
                return r;
        return got ? 1 : 0;
}


/*
 * Several threads receiving on one handle.  Two threads each in a blocking
 * msgrcv(2) cannot tell which of their two messages was first in the
 * queue, so their records could reach the pending list out of order.  A
 * handle therefore starts with the plain blocking msgrcv(2) (DESIGN: no
 * extra system call), and the first time a second thread receives while
 * one is blocked there, it switches for good to the path where every
 * msgrcv happens under rx_lock with IPC_NOWAIT and threads sleep on Sc
 * (wait.c).  The blocked thread is woken by a zero-length message of a
 * type its filter takes (it carries no record), and the newcomer waits
 * until it has sorted what it got.
 */
void rx_go_multi_locked(ipcd_client *c)
{
        c->multi_rx = true;
        while (c->nblocking > 0) {
                struct session s = c->s;
                long f = c->blocking_filter;
                long t = f > 0 ? f : f < 0 ? 1 : WIRE_TYPE_NOTICE;

                pthread_mutex_unlock(&c->lock);
                post_wakeups(&s, t, 1);
                pthread_mutex_lock(&c->lock);
                if (c->nblocking > 0)
                        cond_wait_until(c, clock_now_us() + 10 * USEC_PER_MSEC);
        }
}
