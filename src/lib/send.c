/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * send.c - libipcd-client: ipcd_send().
 *
 * Inline payloads (up to max_payload) are one SEND record on Qu
 * (request.c), or appended to the held batch (IPCD_MORE, batch.c); larger
 * ones are copied into our bulk lane and a descriptor sent (bulk.c).
 * With IPCD_ACK the call waits for ipcd's outcome (the destination
 * exists, had room, and we may send to it): a request like any other
 * (request.c), waiting at most ACK_TIMEOUT_USEC once the record is sent.
 */
#include <errno.h>

#include "lib/client.h"
#include "shared/names.h"
#include "shared/clock.h"

int message_send(ipcd_client *c, const struct lib_req *q, int flags)
{
        struct session s;

        pthread_mutex_lock(&c->lock);
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        /* Payloads larger than max_payload go through the bulk ring
         * (bulk.c): copied into our lane, a descriptor sent (for a
         * publish, one for every subscriber). */
        if (q->len > s.max_payload)
                return bulk_send_copy(c, q->op, q->dst, q->type, q->data, q->len, flags);
        if (!(flags & IPCD_ACK))
                return lib_send(c, &s, q, 0);
        return lib_request(c, q, NULL);
}

IPCD_EXPORT int ipcd_send(ipcd_client *c, const char *dst, long type, const void *data, size_t len,
                          int flags)
{
        bool ack = flags & IPCD_ACK, nowait = flags & IPCD_NONBLOCK;
        struct lib_req q = {
                .op = WIRE_OP_SEND,
                .wflags = ack ? WIRE_IN_ACK : 0,
                .dst = dst,
                .type = type,
                .data = data,
                .len = len,
                .qfull = nowait ? QFULL_FAIL : QFULL_BLOCK,
                .deadline = CLOCK_INFINITY,
                .answer_usec = ACK_TIMEOUT_USEC,
        };
        struct session s;
        bool learn;
        uint16_t fw;
        int r;

        if (!c || !dst || !name_is_valid(dst) || !wire_type_is_user(type) ||
            (flags & ~(IPCD_NONBLOCK | IPCD_ACK | IPCD_MORE)) || (!data && len > 0))
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        /* Releases made before this send reach ipcd before it (bulk.c). */
        bulk_release_flush(c, !nowait);
        r = client_ensure_in(c, RECONNECT_DEFAULT_USEC, !nowait);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->lock);
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        /* Larger payloads go through the ring, windowed there (bulk.c). */
        if (len > s.max_payload) {
                r = client_ob_flush(c, nowait);
                if (r < 0)
                        return r;
                r = message_send(c, &q, flags);
                return r > 0 ? -EPROTO : r;
        }
        /* Flow control: room in dst's window, or wait for it (flow.c). */
        r = flow_reserve(c, dst, wire_flow_cost(len), false, flags, &learn, &fw);
        if (r < 0)
                return r;
        q.wflags |= fw;
        if (learn && !ack) {
                /* dst went away: this send says whether the name is back. */
                flags |= IPCD_ACK;
                q.wflags |= WIRE_IN_ACK;
                ack = true;
        }
        pthread_mutex_lock(&c->lock);
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        /* Inline, no answer awaited: through the held batch when one is
         * open or asked for (IPCD_MORE). */
        if (!ack && ((flags & IPCD_MORE) || c->ob_len))
                r = batch_send(c, &s, dst, type, data, len, flags, fw);
        else {
                /* Anything else goes after what is held. */
                r = client_ob_flush(c, nowait);
                if (r == 0)
                        r = message_send(c, &q, flags);
                if (r > 0)
                        r = -EPROTO; /* a send's outcome is 0 or -errno */
        }
        if (r < 0)
                flow_unreserve(c, dst, wire_flow_cost(len), false);
        if (learn)
                flow_learned(c, dst, r);
        return r;
}
