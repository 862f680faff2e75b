/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * batch.c - libipcd-client: IPCD_MORE, inline sends held for one
 * msgsnd(2).
 *
 * ipcd_send(…, IPCD_MORE) appends its record to c->ob instead of sending
 * it; the batch goes out as one queue message with the first send not so
 * flagged, when the next record would not fit, or before anything else
 * the handle sends (client_ob_flush: every public call that sends or
 * waits calls it first), so per-pair order holds.  Records held across a
 * reconnection are re-stamped for the new session before they go
 * (replay.c).  c->ob_lock is held across the msgsnd(2) that sends them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "shared/macro.h"

/* ob_lock held. */
static int ob_flush_locked(ipcd_client *c, const struct session *s, bool nowait)
{
        int r;

        if (c->ob_len == 0)
                return 0;
        r = replay_batch_restamp(c, s);
        if (r < 0)
                return r;
        r = client_inbound_send(c, s, c->ob, c->ob_len, nowait);
        /* Kept when not sent: a full queue (-EAGAIN), or a session that
         * ended (-ECONNRESET: they go out in the next one, re-stamped). */
        if (r != -EAGAIN && r != -ECONNRESET)
                c->ob_len = 0;
        return r;
}

int client_ob_flush(ipcd_client *c, bool nowait)
{
        struct session s;
        int r;

        if (!c->ob_len) /* a racy peek: a stale answer only costs a lock */
                return 0;
        pthread_mutex_lock(&c->ob_lock);
        pthread_mutex_lock(&c->lock);
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        r = ob_flush_locked(c, &s, nowait);
        pthread_mutex_unlock(&c->ob_lock);
        return r;
}

/*
 * Append an inline SEND record to the held batch; send the batch when
 * this one is not flagged IPCD_MORE, or when the next record would not
 * fit in one queue message.  Per-pair order holds: the batch is one
 * message, sent before anything later.
 */
int batch_send(ipcd_client *c, const struct session *s, const char *dst, long type,
               const void *data, size_t len, int flags, uint16_t wflags)
{
        size_t dst_len = strlen(dst), need = wire_in_size(dst_len, len);
        size_t limit = MIN((size_t)s->max_qmsg, (size_t)65536);
        struct lib_req q = {
                .op = WIRE_OP_SEND,
                .wflags = (uint16_t)(((flags & IPCD_MORE) ? WIRE_IN_MORE : 0) | wflags),
                .dst = dst,
                .type = type,
                .data = data,
                .len = len,
        };
        size_t before;
        int r = 0;

        pthread_mutex_lock(&c->ob_lock);
        r = replay_batch_restamp(c, s);
        if (r < 0)
                goto out;
        if (c->ob_len && c->ob_len + need > limit) {
                r = ob_flush_locked(c, s, flags & IPCD_NONBLOCK);
                if (r < 0)
                        goto out; /* this one not accepted either */
        }
        if (c->ob_cap < sizeof(long) + limit) {
                uint8_t *n = realloc(c->ob, sizeof(long) + limit);

                if (!n) {
                        r = -ENOMEM;
                        goto out;
                }
                c->ob = n;
                c->ob_cap = sizeof(long) + limit;
        }
        memcpy(c->ob, &(long){WIRE_MTYPE_IN}, sizeof(long));
        c->ob_gen = s->gen;
        before = c->ob_len;
        r = client_record_put(s, &q, 0, c->ob + sizeof(long), limit, &c->ob_len);
        if (r < 0)
                goto out;
        if (!(flags & IPCD_MORE)) {
                r = ob_flush_locked(c, s, flags & IPCD_NONBLOCK);
                /* Not sent (-EAGAIN: the inbound queue is full): take this
                 * one back, so that a retry does not send it twice; those
                 * held before stay held. */
                if (r == -EAGAIN)
                        c->ob_len = before;
        } else
                r = 0;
out:
        pthread_mutex_unlock(&c->ob_lock);
        return r;
}
