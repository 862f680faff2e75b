/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * recv.c - libipcd-client: ipcd_recv(), and the ipcd_msg it fills.
 *
 * ipcd delivers into our queue Qc messages of one mtype each, holding one
 * or more wire_out records (a batch).  ipcd_recv() receives one queue
 * message into a buffer of its own (pending.c: refcounted per record),
 * returns its first record and keeps the others on the handle's pending
 * list, oldest first (dispatch.c sorts them); later calls look there
 * before the queue.  A returned ipcd_msg points into the buffer and keeps a
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
 * thread waiting for that cookie (answer.c), never to the application, and
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
/* Filling the application's message.                                   */

bool msg_is_ours(const ipcd_msg *msg)
{
        return msg->reserved_[0] && msg->reserved_[1] == (msg->reserved_[0] ^ RELEASE_CHECK);
}

void msg_fill(ipcd_client *c, ipcd_msg *msg, struct rxrec *r)
{
        /* Every field is set below, one by one: a memset of the whole
         * struct (a "rep stos") was 40% of this function, once per record.
         * sender and topic are NUL-terminated; the bytes after the NUL are
         * not set. */
        msg->data = r->payload;
        msg->len = r->h.len;
        memcpy(msg->sender, r->name, r->h.name_len);
        msg->sender[r->h.name_len] = '\0';
        memcpy(msg->topic, r->topic, r->h.topic_len);
        msg->topic[r->h.topic_len] = '\0';
        msg->sender_id = r->h.sender_id;
        msg->sender_uid = (uid_t)r->h.sender_uid;
        msg->sender_pid = (pid_t)r->h.sender_pid;
        msg->id = 0;
        msg->flags = 0;
        for (size_t i = 0; i < ELEMENTSOF(msg->reserved_); i++)
                msg->reserved_[i] = 0;
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
        msg->reserved_[7] = (uint64_t)(uintptr_t)c; /* ipcd_msg_sender_unit (unit.c) */
        if (r->bulk_seg)
                bulk_msg_fill(msg, r); /* data, len, the release in reserved_[2..6] */
        /* From a bridge: ipcd checked the sender may say so and that the
         * payload holds an origin; hide it in front of data. */
        if ((r->h.flags & WIRE_OUT_REMOTE) && msg->len >= sizeof(struct wire_origin)) {
                msg->flags |= IPCD_MSG_REMOTE;
                msg->data = (const uint8_t *)msg->data + sizeof(struct wire_origin);
                msg->len -= sizeof(struct wire_origin);
        }
}

_Static_assert(sizeof(ipcd_origin) == sizeof(struct wire_origin), "ipcd_origin == wire_origin");
_Static_assert(offsetof(ipcd_origin, unit) == offsetof(struct wire_origin, unit),
               "ipcd_origin layout");
_Static_assert(IPCD_ORIGIN_MAGIC == WIRE_ORIGIN_MAGIC, "origin magic");

IPCD_EXPORT int ipcd_msg_origin(const ipcd_msg *msg, ipcd_origin *ret)
{
        struct wire_origin o;

        if (!msg || !ret)
                return -EINVAL;
        if (!(msg->flags & IPCD_MSG_REMOTE) || !msg->data)
                return -ENOENT;
        /* A copy first: a bulk payload lies in a ring others may write. */
        memcpy(&o, (const uint8_t *)msg->data - sizeof(o), sizeof(o));
        if (wire_origin_check(&o) < 0)
                return -EBADMSG;
        memcpy(ret, &o, sizeof(*ret));
        return 0;
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
                        msg_fill(c, msg, &rec);
                        return 0;
                }
                /* Something for someone else (an answer, a marker): again. */
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
                if (pending_take(c, filter, &out)) {
                        pthread_mutex_unlock(&c->lock);
                        msg_fill(c, msg, &out);
                        return 0;
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
                        msg_fill(c, msg, &out);
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
        msg_fill(c, msg, &rec);
        return 0;
}

IPCD_EXPORT int ipcd_recv(ipcd_client *c, ipcd_msg *msg, long type_filter, int timeout_ms)
{
        struct rxrec rec;
        uint64_t deadline;
        bool ready, got;
        int r;

        if (!c || !msg || type_filter > IPCD_TYPE_MAX || type_filter < -IPCD_TYPE_MAX)
                return -EINVAL;
        /* A failed call leaves a message that releases as a no-op (a
         * received one is filled whole by msg_fill). */
        msg->data = NULL;
        msg->len = 0;
        memset(msg->reserved_, 0, sizeof(msg->reserved_));
        if (client_forked(c))
                return -ECHILD;
        bulk_release_flush(c, false);
        /* What IPCD_MORE held leaves before we wait for an answer to it. */
        r = client_ob_flush(c, timeout_ms == 0);
        if (r < 0 && r != -EAGAIN)
                return r;

        /* The common case inside a batch: the record was sorted onto the
         * pending list with the others of its queue message.  One lock
         * (the look at the session is client_ensure's), no clock, no
         * system call. */
        pthread_mutex_lock(&c->lock);
        ready = c->connected && c->restored_gen == c->s.gen;
        got = ready && pending_take(c, type_filter, &rec);
        pthread_mutex_unlock(&c->lock);
        if (got) {
                msg_fill(c, msg, &rec);
                return 0;
        }

        if (timeout_ms > 0) {
                deadline = clock_now_us() + (uint64_t)timeout_ms * USEC_PER_MSEC;
                r = ready ? 0 : client_ensure(c, deadline, true);
        } else {
                deadline = timeout_ms < 0 ? CLOCK_INFINITY : 0;
                r = ready ? 0 : client_ensure_in(c, RECONNECT_DEFAULT_USEC, timeout_ms != 0);
        }
        if (r < 0)
                return r;

        if (timeout_ms == 0)
                return recv_nowait(c, msg, type_filter);
        if (timeout_ms < 0)
                return recv_blocking(c, msg, type_filter);
        return recv_timed(c, msg, type_filter, deadline);
}
