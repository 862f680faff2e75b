/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * request.c - libipcd-client: the request path.  Every inbound record the
 * library sends, but the held IPCD_MORE batch (batch.c) and the fixed
 * ones of the core (client_send_op), leaves through lib_send(); every
 * request whose answer it waits for goes through lib_request() (or its
 * two halves, for bulk.c which sends under a lock of its own).
 *
 * One record is one struct wire_in on Qu, encoded by client_record_put()
 * (client.c, the one encoder).  When Qu is full, q->qfull says what to
 * do: wait in msgsnd(2), fail with -EAGAIN (IPCD_NONBLOCK), or retry
 * until q->deadline, looking now and then whether ipcd is still there (a
 * crashed one leaves its queues behind, full).
 *
 * The round trip: Sc must be raised for the answer (TIMED, client.c);
 * the waiter registers before the record is sent, so whichever thread
 * meets the answer finds it (answer.c); then the wait (wait.c) until
 * q->deadline, or answer_usec after the send; the waiter is removed; a
 * timeout while ipcd's end of the reply FIFO is closed is -ECONNRESET
 * (ipcd went away, it was not slow).  Nothing here reconnects: callers
 * call client_ensure() first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/clock.h"

/* Records up to this size are built on the stack (a batch of bulk
 * releases is the largest the library makes on its own). */
#define SEND_STACK_BYTES (sizeof(long) + sizeof(struct wire_in) + WIRE_NAME_MAX + 4096)

/* Qu full (others of our uid are sending a lot): retry until the
 * deadline, and look now and then whether ipcd is still there. */
static int send_retry(ipcd_client *c, const struct session *s, void *msg, size_t len,
                      uint64_t deadline)
{
        uint64_t backoff = 1000, checked = clock_now_us();

        for (;;) {
                uint64_t now;
                int r = client_inbound_send(c, s, msg, len, true);

                if (r != -EAGAIN)
                        return r;
                now = clock_now_us();
                if (now >= deadline)
                        return -ETIMEDOUT;
                if (now - checked >= PEER_CHECK_USEC) {
                        checked = now;
                        if (client_peer_gone(c))
                                return -ECONNRESET;
                }
                clock_sleep_us(MIN(backoff, deadline - now));
                backoff = MIN(backoff * 2, 10 * USEC_PER_MSEC);
        }
}

int lib_send(ipcd_client *c, const struct session *s, const struct lib_req *q, uint64_t cookie)
{
        uint8_t stackbuf[SEND_STACK_BYTES] __attribute__((aligned(8)));
        _cleanup_free_ uint8_t *heapbuf = NULL;
        size_t dst_len = q->dst ? strlen(q->dst) : 0, size, off = 0;
        uint8_t *msg;
        int r;

        if (dst_len >= WIRE_NAME_MAX || q->len > UINT32_MAX)
                return -EINVAL;
        size = sizeof(long) + wire_in_size(dst_len, q->len);
        if (size <= sizeof(stackbuf))
                msg = stackbuf;
        else {
                heapbuf = malloc(size);
                if (!heapbuf)
                        return -ENOMEM;
                msg = heapbuf;
        }
        memcpy(msg, &(long){WIRE_MTYPE_IN}, sizeof(long));
        r = client_record_put(s, q, cookie, msg + sizeof(long), size - sizeof(long), &off);
        if (r < 0)
                return r;
        switch (q->qfull) {
        case QFULL_BLOCK:
                return client_inbound_send(c, s, msg, off, false);
        case QFULL_FAIL:
                return client_inbound_send(c, s, msg, off, true);
        case QFULL_RETRY:
                break;
        }
        return send_retry(c, s, msg, off, q->deadline);
}

int request_begin_locked(ipcd_client *c, struct waiter *w, struct session *s)
{
        client_timed_start_locked(c);
        if (!c->connected)
                return -ECONNRESET;
        *s = c->s;
        w->kind = WAITER_REPLY;
        w->cookie = client_cookie_new(c);
        w->filter = wire_reply_type(w->cookie);
        w->gen = s->gen;
        waiter_add(c, w);
        return 0;
}

int request_finish(ipcd_client *c, struct waiter *w, int sent, uint64_t deadline)
{
        int r = sent;

        pthread_mutex_lock(&c->lock);
        if (r == 0)
                r = wait_for(c, w, deadline, NULL);
        waiter_remove(c, w);
        pthread_mutex_unlock(&c->lock);
        if (r == -ETIMEDOUT && client_peer_gone(c))
                r = -ECONNRESET; /* not slow: ipcd is gone */
        return r < 0 ? r : w->status;
}

int lib_request(ipcd_client *c, const struct lib_req *q, struct waiter *w)
{
        struct waiter local = {.kind = WAITER_REPLY};
        struct session s;
        uint64_t deadline;
        int r;

        if (!w)
                w = &local;
        pthread_mutex_lock(&c->lock);
        r = request_begin_locked(c, w, &s);
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return r;
        r = lib_send(c, &s, q, w->cookie);
        deadline = q->deadline;
        if (q->answer_usec)
                deadline = MIN(deadline, clock_deadline_us(q->answer_usec));
        return request_finish(c, w, r, deadline);
}
