/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * recv.c - libipcd-client: receiving.
 *
 * ipcd delivers into our queue Qc messages of one mtype each, holding one
 * or more wire_out records (a batch).  ipcd_recv() receives one queue
 * message into a buffer of its own (malloc'd, max_qmsg bytes, refcounted
 * per record), returns its first record and keeps the others on the
 * handle's pending list, oldest first; later calls look there before the
 * queue.  A returned ipcd_msg points into the buffer and keeps a
 * reference in reserved_[0] (and a check value in reserved_[1], so that a
 * zeroed or foreign struct is never freed); ipcd_msg_release() drops it
 * and zeroes reserved_, so releasing twice is harmless.
 *
 * Types: user types (1 ... IPCD_TYPE_MAX) go to the application.
 * Filter 0 also meets the reserved types: WIRE_TYPE_NOTICE records are
 * returned with IPCD_MSG_NOTICE (type = the notice code, WIRE_NOTICE_*,
 * id = its argument, data = a text); a WIRE_TYPE_PULL marker is answered
 * with a PULL (ipcd holds a backlog for us and our queue is drained up to
 * the marker); answers on reply types (>= WIRE_TYPE_REPLY_BASE) go to the
 * thread waiting for that cookie (wait.c), never to the application, and
 * are dropped when nobody waits any more (a late answer after a timeout).
 * A receiver with a non-zero filter never sees the marker; it still
 * honours WIRE_OUT_BACKLOG flags, and ipcd drains backlogs on its own.
 *
 * Waiting: timeout -1 is one blocking msgrcv(2) (no other system call,
 * unless a backlog PULL is due); 0 is msgrcv(IPC_NOWAIT); a positive
 * timeout sleeps on Sc (wait.c).  EINTR is retried (the deadline is
 * absolute); a call returns early only with a message or an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/clock.h"
#include "shared/util.h"

/* reserved_[1] = reserved_[0] ^ RELEASE_CHECK for a message we filled. */
#define RELEASE_CHECK UINT64_C(0x69706364206d7367) /* "ipcd msg" */

_Static_assert(offsetof(struct rxbuf, mtext) == offsetof(struct rxbuf, mtype) + sizeof(long),
               "msgrcv(2) buffer layout");
_Static_assert(sizeof(((ipcd_msg *)0)->reserved_) >= 2 * sizeof(uint64_t), "reserved_ room");

/* ------------------------------------------------------------------ */
/* Buffers and the pending list.                                        */

void rxbuf_unref(struct rxbuf *b)
{
        if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
                free(b);
}

void rxbuf_ref(struct rxbuf *b)
{
        __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

/* The spare buffer, if it has the size this session needs, or a new one. */
static struct rxbuf *spare_take(ipcd_client *c, size_t size)
{
        struct rxbuf *b = __atomic_exchange_n(&c->rx_spare, NULL, __ATOMIC_ACQ_REL);

        /* A spare buffer carries its capacity in size. */
        if (b && b->size == size)
                return b;
        free(b);
        return malloc(sizeof(struct rxbuf) + size);
}

static void spare_put(ipcd_client *c, struct rxbuf *b, size_t size)
{
        b->size = (uint32_t)size;
        free(__atomic_exchange_n(&c->rx_spare, b, __ATOMIC_ACQ_REL));
}

void rx_spare_free(ipcd_client *c)
{
        free(__atomic_exchange_n(&c->rx_spare, NULL, __ATOMIC_ACQ_REL));
}

int rx_queue(ipcd_client *c, const struct session *s, long filter, int flags, struct rxbuf **ret)
{
        struct rxbuf *b = spare_take(c, s->max_qmsg);
        ssize_t n;
        int e;

        if (!b)
                return -ENOMEM;
        /* MSG_NOERROR: a message larger than promised cannot get stuck at
         * the head of the queue; its cut-off record is refused below. */
        n = msgrcv(s->qc, &b->mtype, s->max_qmsg, filter, flags | MSG_NOERROR);
        if (n < 0) {
                e = errno;
                spare_put(c, b, s->max_qmsg);
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
        /* Do not pin max_qmsg bytes for a small message: copy it out and
         * keep the big buffer for the next receive. */
        if ((size_t)n < s->max_qmsg / 2) {
                struct rxbuf *small = malloc(sizeof(struct rxbuf) + (size_t)n);

                if (small) {
                        memcpy(small, b, sizeof(struct rxbuf) + (size_t)n);
                        spare_put(c, b, s->max_qmsg);
                        b = small;
                }
        }
        *ret = b;
        return 0;
}

static void pending_append(ipcd_client *c, struct rxrec *r)
{
        r->next = NULL;
        *c->pending_tail = r;
        c->pending_tail = &r->next;
        fd_pending_changed(c); /* ipcd_fd(): readable now */
}

static void pending_unlink(ipcd_client *c, struct rxrec **pp)
{
        struct rxrec *r = *pp;

        *pp = r->next;
        if (c->pending_tail == &r->next)
                c->pending_tail = pp;
        r->next = NULL;
        fd_pending_changed(c);
}

struct rxrec *pending_take(ipcd_client *c, long filter)
{
        struct rxrec **best = NULL;

        for (struct rxrec **pp = &c->pending; *pp; pp = &(*pp)->next) {
                if (!filter_match(filter, (*pp)->mtype))
                        continue;
                if (filter >= 0) {
                        best = pp;
                        break;
                }
                /* Negative filter: the lowest type, oldest first within it. */
                if (!best || (*pp)->mtype < (*best)->mtype)
                        best = pp;
        }
        if (!best)
                return NULL;
        {
                struct rxrec *r = *best;

                pending_unlink(c, best);
                return r;
        }
}

bool pending_has(ipcd_client *c, long filter)
{
        for (struct rxrec *r = c->pending; r; r = r->next)
                if (filter_match(filter, r->mtype))
                        return true;
        return false;
}

void pending_free_all(ipcd_client *c)
{
        struct rxrec *r;

        while ((r = c->pending)) {
                c->pending = r->next;
                rxbuf_unref(r->buf);
                free(r);
        }
        c->pending_tail = &c->pending;
}

void pending_add_notice(ipcd_client *c, int code, uint64_t arg, const char *text)
{
        size_t len = strlen(text);
        struct rxbuf *b = malloc(sizeof(*b) + len + 1);
        struct rxrec *r = calloc(1, sizeof(*r));

        if (!b || !r) {
                free(b);
                free(r);
                return;
        }
        b->refs = 1;
        b->size = (uint32_t)len;
        b->mtype = WIRE_TYPE_NOTICE;
        memcpy(b->mtext, text, len + 1);
        r->buf = b;
        r->mtype = WIRE_TYPE_NOTICE;
        r->h = (struct wire_out){.kind = WIRE_OUT_NOTICE, .status = code, .cookie = arg,
                                 .len = (uint32_t)len, .sender_pid = 0};
        r->name = r->topic = "";
        r->payload = b->mtext;
        pending_append(c, r);
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

void rx_dispatch(ipcd_client *c, const struct session *s, struct rxbuf *b, long want,
                 struct rxrec *out, bool *got, bool sleeper)
{
        long mtype = b->mtype;
        bool raise = false, reply = false;
        unsigned added = 0, wakeups = 0;
        size_t off = 0;

        if (got)
                *got = false;
        if (mtype == WIRE_TYPE_PULL) {
                /* Our queue is drained up to the marker: ask for the rest. */
                rxbuf_unref(b);
                (void)client_send_op(c, s, WIRE_OP_PULL, 0);
                return;
        }
        if (mtype >= WIRE_TYPE_REPLY_BASE)
                reply = true;
        else if (!wire_type_is_user(mtype) && mtype != WIRE_TYPE_NOTICE) {
                rxbuf_unref(b); /* a type nobody defined: drop it */
                return;
        }

        pthread_mutex_lock(&c->lock);
        /* A zero-byte answer: "ACK, status 0" (wire.h); it carries no
         * cookie, its type says whose it is. */
        if (reply && b->size == 0 && reply_empty_locked(c, s, mtype))
                raise = true;
        for (;;) {
                struct wire_out h;
                const char *name, *topic;
                const void *payload;
                struct rxrec *r, bk;
                int k = wire_out_next(b->mtext, b->size, &off, &h, &name, &topic, &payload);

                if (k <= 0)
                        break; /* the end, or a malformed rest: drop it */
                if (h.flags & WIRE_OUT_BACKLOG)
                        c->pull_needed = true;
                if (reply) {
                        if (h.kind == WIRE_OUT_REPLY) {
                                /* ipcd_call()'s answer (call.c); a late one
                                 * (nobody waits) is dropped here. */
                                if (call_reply_locked(c, b, &h, name, payload))
                                        raise = true;
                                continue;
                        }
                        if (h.kind != WIRE_OUT_ACK)
                                continue;
                        if (c->timed == TIMED_SENT && h.cookie == c->timed_cookie &&
                            c->s.gen == s->gen) {
                                c->timed = TIMED_ON;
                                raise = true; /* waiters may sleep without limit now */
                                continue;
                        }
                        if (waiter_deliver_data(c, h.cookie, h.status, payload, h.len))
                                raise = true;
                        continue;
                }
                /* User types carry messages, and copies for ipcd_monitor(). */
                if (mtype == WIRE_TYPE_NOTICE
                            ? h.kind != WIRE_OUT_NOTICE
                            : h.kind != WIRE_OUT_MSG && h.kind != WIRE_OUT_MONITOR)
                        continue;
                /* A bulk descriptor: the payload lies in a ring (bulk.c); one
                 * we cannot map is released at once and skipped. */
                bk.bulk_seg = NULL;
                /* (A monitor copy's WIRE_OUT_BULK only says that the message
                 * went through a ring: it carries no descriptor.) */
                if ((h.flags & WIRE_OUT_BULK) && h.kind != WIRE_OUT_MONITOR &&
                    bulk_rx_resolve(c, s, &h, payload, &bk) < 0)
                        continue;

                if (out && !*got && filter_match(want, mtype)) {
                        r = out;
                        *got = true;
                } else {
                        r = malloc(sizeof(*r));
                        if (!r)
                                continue;
                }
                rxbuf_ref(b);
                r->next = NULL;
                r->buf = b;
                r->mtype = mtype;
                r->h = h;
                r->name = name;
                r->topic = topic;
                r->payload = payload;
                r->bulk_seg = bk.bulk_seg;
                if (bk.bulk_seg) {
                        r->payload = bk.payload;
                        r->bulk_len = bk.bulk_len;
                        r->bulk_pos = bk.bulk_pos;
                        r->bulk_ring = bk.bulk_ring;
                        r->bulk_lane = bk.bulk_lane;
                }
                if (r != out) {
                        pending_append(c, r);
                        added++;
                }
        }
        if (added) {
                raise = true;
                wakeups = MIN(added, c->nblocking);
        }
        if (raise && !sleeper)
                raise = wake_waiters_locked(c);
        else
                raise = false;
        pthread_mutex_unlock(&c->lock);

        rxbuf_unref(b); /* the records hold their own references */
        if (raise)
                sem_raise(s);
        if (wakeups)
                post_wakeups(s, mtype, wakeups);
}

/* Send a PULL if a record asked for one (our queue is empty now). */
static void pull_if_needed(ipcd_client *c, const struct session *s)
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
/* Filling the application's message.                                   */

void msg_fill(ipcd_msg *msg, struct rxrec *r)
{
        memset(msg, 0, sizeof(*msg));
        msg->data = r->payload;
        msg->len = r->h.len;
        memcpy(msg->sender, r->name, r->h.name_len);
        msg->sender[r->h.name_len] = '\0';
        memcpy(msg->topic, r->topic, r->h.topic_len);
        msg->topic[r->h.topic_len] = '\0';
        msg->sender_id = r->h.sender_id;
        msg->sender_uid = (uid_t)r->h.sender_uid;
        msg->sender_pid = (pid_t)r->h.sender_pid;
        if (r->mtype == WIRE_TYPE_NOTICE) {
                /* From ipcd: the type is the notice code, id its argument. */
                msg->type = r->h.status > 0 ? r->h.status : 1;
                msg->id = r->h.cookie;
                msg->flags = IPCD_MSG_NOTICE;
        } else {
                msg->type = r->mtype;
                if (r->h.kind == WIRE_OUT_MONITOR) {
                        /* A copy for ipcd_monitor(): topic = the destination
                         * name or topic, data = the first bytes, id = the
                         * full length. */
                        msg->flags |= IPCD_MSG_MONITOR;
                        if (r->h.flags & WIRE_OUT_TOPIC)
                                msg->flags |= IPCD_MSG_TOPIC;
                        msg->id = r->h.cookie;
                } else if (r->h.flags & WIRE_OUT_REQUEST) {
                        msg->flags |= IPCD_MSG_REQUEST;
                        msg->id = r->h.cookie;
                }
                if (r->h.flags & WIRE_OUT_BULK)
                        msg->flags |= IPCD_MSG_BULK;
        }
        msg->reserved_[0] = (uint64_t)(uintptr_t)r->buf;
        msg->reserved_[1] = msg->reserved_[0] ^ RELEASE_CHECK;
        if (r->bulk_seg)
                bulk_msg_fill(msg, r); /* data, len, the release in reserved_[2..6] */
}

IPCD_EXPORT void ipcd_msg_release(ipcd_client *c, ipcd_msg *msg)
{
        struct rxbuf *b;

        if (!msg)
                return;
        b = (struct rxbuf *)(uintptr_t)msg->reserved_[0];
        if (b && msg->reserved_[1] == (msg->reserved_[0] ^ RELEASE_CHECK)) {
                if (c)
                        bulk_msg_release(c, msg); /* a bulk one: queued for ipcd */
                rxbuf_unref(b);
        }
        memset(msg->reserved_, 0, sizeof(msg->reserved_));
        msg->data = NULL;
        msg->len = 0;
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
        {
                struct rxrec *p = pending_take(c, filter);

                if (p) {
                        pthread_mutex_unlock(&c->lock);
                        pthread_mutex_unlock(&c->rx_lock);
                        *rec = *p;
                        free(p);
                        return 1;
                }
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

/* timeout 0. */
static int recv_nowait(ipcd_client *c, ipcd_msg *msg, long filter)
{
        /* ipcd_fd() (fd.c): a look with filter 0 that finds nothing reads
         * the doorbells off the reply FIFO first, then looks once more, so
         * that a delivery between the two rings again (no lost wake-up). */
        bool fd = filter == 0 && fd_in_use(c), drained = false;
        uint64_t seq = fd ? fd_seq(c) : 0;

        for (;;) {
                struct rxrec rec;
                int r = rx_take_nowait(c, filter, &rec);

                if (r == -ENOMSG && fd && !drained) {
                        drained = true;
                        r = fd_drain(c);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r == -ENOMSG) {
                        if (fd)
                                fd_quiet(c, seq);
                        /* The caller may go to sleep now (an event loop):
                         * bulk releases go out (bulk.c). */
                        bulk_release_flush(c, true);
                        return -EAGAIN;
                }
                if (r < 0)
                        return r;
                if (r > 0) {
                        msg_fill(msg, &rec);
                        return 0;
                }
                /* Something for someone else (an answer, a marker): again. */
        }
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

static int recv_timed(ipcd_client *c, ipcd_msg *msg, long filter, uint64_t deadline);

/* timeout -1: a plain blocking msgrcv(2) (one receiving thread). */
static int recv_blocking(ipcd_client *c, ipcd_msg *msg, long filter)
{
        for (;;) {
                struct rxrec out;
                struct session s;
                struct rxbuf *b;
                bool got, pull;
                int r;

                pthread_mutex_lock(&c->lock);
                {
                        struct rxrec *p = pending_take(c, filter);

                        if (p) {
                                pthread_mutex_unlock(&c->lock);
                                msg_fill(msg, p);
                                free(p);
                                return 0;
                        }
                }
                if (!c->connected) {
                        pthread_mutex_unlock(&c->lock);
                        return -ECONNRESET;
                }
                /* Another thread receives, or timed receivers wait: not alone. */
                if (!c->multi_rx && (c->nblocking > 0 || c->sleeper))
                        rx_go_multi_locked(c);
                if (c->multi_rx) {
                        pthread_mutex_unlock(&c->lock);
                        return recv_timed(c, msg, filter, CLOCK_INFINITY);
                }
                s = c->s;
                pull = c->pull_needed;
                /* Counted under the same lock as the look at the pending
                 * list: a thread adding records after it posts a wake-up. */
                c->nblocking++;
                c->blocking_filter = filter;
                pthread_mutex_unlock(&c->lock);

                r = -ENOMSG;
                if (pull) {
                        r = rx_queue(c, &s, filter, IPC_NOWAIT, &b);
                        if (r == -ENOMSG)
                                pull_if_needed(c, &s);
                }
                if (r == -ENOMSG) {
                        /* Bulk releases reach ipcd before we block (bulk.c). */
                        bulk_release_flush(c, true);
                        r = rx_queue(c, &s, filter, 0, &b);
                }

                /* Sort what came before another receiver may start (see
                 * rx_go_multi_locked). */
                got = false;
                if (r == 0)
                        rx_dispatch(c, &s, b, filter, &out, &got, false);
                pthread_mutex_lock(&c->lock);
                c->nblocking--;
                if (c->multi_rx)
                        pthread_cond_broadcast(&c->cond);
                pthread_mutex_unlock(&c->lock);

                if (r == -EINTR)
                        continue;
                if (r < 0)
                        return r;
                if (got) {
                        msg_fill(msg, &out);
                        return 0;
                }
        }
}

/* timeout > 0: sleep on Sc (wait.c). */
static int recv_timed(ipcd_client *c, ipcd_msg *msg, long filter, uint64_t deadline)
{
        struct waiter w = {.kind = WAITER_RECV, .filter = filter};
        struct rxrec rec;
        int r;

        pthread_mutex_lock(&c->lock);
        /* A thread in a plain blocking msgrcv(2) would race our sweeps. */
        if (c->nblocking > 0)
                rx_go_multi_locked(c);
        client_timed_start_locked(c);
        w.gen = c->s.gen;
        waiter_add(c, &w);
        r = wait_for(c, &w, deadline, &rec);
        waiter_remove(c, &w);
        pthread_mutex_unlock(&c->lock);

        if (r == -ETIMEDOUT && client_peer_gone(c))
                r = -ECONNRESET; /* not a quiet queue: ipcd is gone */
        if (r < 0)
                return r;
        msg_fill(msg, &rec);
        return 0;
}

IPCD_EXPORT int ipcd_recv(ipcd_client *c, ipcd_msg *msg, long type_filter, int timeout_ms)
{
        uint64_t deadline;
        int r;

        if (!c || !msg || type_filter > IPCD_TYPE_MAX || type_filter < -IPCD_TYPE_MAX)
                return -EINVAL;
        /* A failed call leaves a message that releases as a no-op. */
        memset(msg, 0, sizeof(*msg));
        if (client_forked(c))
                return -ECHILD;
        bulk_release_flush(c, false);
        /* What IPCD_MORE held leaves before we wait for an answer to it. */
        r = client_ob_flush(c, timeout_ms == 0);
        if (r < 0 && r != -EAGAIN)
                return r;

        if (timeout_ms > 0) {
                deadline = clock_now_us() + (uint64_t)timeout_ms * USEC_PER_MSEC;
                r = client_ensure(c, deadline, true);
        } else {
                deadline = timeout_ms < 0 ? CLOCK_INFINITY : 0;
                r = client_ensure_in(c, RECONNECT_DEFAULT_USEC, timeout_ms != 0);
        }
        if (r < 0)
                return r;

        if (timeout_ms == 0)
                return recv_nowait(c, msg, type_filter);
        if (timeout_ms < 0)
                return recv_blocking(c, msg, type_filter);
        return recv_timed(c, msg, type_filter, deadline);
}
