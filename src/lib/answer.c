/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * answer.c - libipcd-client: the waiter list and the mailboxes of reply
 * waiters.
 *
 * A thread that expects an answer registers a struct waiter (kind
 * WAITER_REPLY, its cookie's reply type) on c->waiters before it sends;
 * whichever thread then meets the answer in the queue (dispatch.c) drops
 * it into that waiter's mailbox here, under c->lock: a status (and the
 * answer's payload if the waiter gave room for it), or for ipcd_call() the
 * reply record itself with a reference on its buffer.  An answer nobody
 * waits for any more (the request timed out) is dropped.  The waiting
 * itself is wait.c; the whole round trip is request.c.
 */
#include <errno.h>
#include <string.h>

#include "lib/client.h"
#include "shared/macro.h"

void waiter_add(ipcd_client *c, struct waiter *w)
{
        w->next = c->waiters;
        c->waiters = w;
}

void waiter_remove(ipcd_client *c, struct waiter *w)
{
        for (struct waiter **pp = &c->waiters; *pp; pp = &(*pp)->next)
                if (*pp == w) {
                        *pp = w->next;
                        w->next = NULL;
                        return;
                }
}

bool answer_deliver_locked(ipcd_client *c, uint64_t cookie, int status, const void *data,
                           size_t len)
{
        for (struct waiter *w = c->waiters; w; w = w->next) {
                if (w->kind != WAITER_REPLY || w->cookie != cookie || w->done)
                        continue;
                /* An outcome is a count (>= 0: publish, set_history) or a
                 * negative errno. */
                w->status = status >= -4095 ? status : -EPROTO;
                w->done = true;
                if (w->answer) {
                        size_t n = MIN(len, w->answer_size);

                        if (n)
                                memcpy(w->answer, data, n);
                        memset((uint8_t *)w->answer + n, 0, w->answer_size - n);
                        w->answer_len = len;
                }
                return true;
        }
        return false; /* nobody waits for it any more */
}

bool answer_empty_locked(ipcd_client *c, const struct session *s, long mtype)
{
        /* Only a successful ACK without a body is ever sent so. */
        for (struct waiter *w = c->waiters; w; w = w->next) {
                if (w->kind != WAITER_REPLY || w->done || w->want_rec || w->filter != mtype ||
                    w->gen != s->gen)
                        continue;
                w->status = 0;
                w->done = true;
                if (w->answer) {
                        memset(w->answer, 0, w->answer_size);
                        w->answer_len = 0;
                }
                return true;
        }
        return false;
}

bool answer_record_locked(ipcd_client *c, struct rxbuf *b, const struct wire_out *h,
                          const char *name, const void *payload)
{
        struct waiter *w;

        for (w = c->waiters; w; w = w->next)
                if (w->kind == WAITER_REPLY && w->cookie == h->cookie && !w->done)
                        break;
        if (!w)
                return false; /* late (the call timed out): dropped */
        w->done = true;
        if (h->status < 0) {
                /* ipcd's verdict. */
                w->status = h->status >= -4095 ? h->status : -EPROTO;
                return true;
        }
        if (!w->want_rec || h->status != 0 || !wire_type_is_user(h->type) ||
            (h->flags & WIRE_OUT_BULK)) {
                w->status = -EPROTO;
                return true;
        }
        rxbuf_ref(b);
        memset(&w->rec, 0, sizeof(w->rec));
        w->rec.buf = b;
        w->rec.mtype = h->type; /* the callee's type, not the reply type */
        w->rec.h = *h;
        w->rec.h.topic_len = 0;
        w->rec.name = name;
        w->rec.topic = "";
        w->rec.payload = payload;
        w->has_rec = true;
        w->status = 0;
        return true;
}
