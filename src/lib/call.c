/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * call.c - libipcd-client: calls (ipcd_call, ipcd_reply) and answers that
 * come without a record.
 *
 * A call is a SEND with WIRE_IN_REQUEST and a fresh cookie.  ipcd delivers
 * it to the callee flagged WIRE_OUT_REQUEST with our cookie and id (the
 * callee's ipcd_recv() gives IPCD_MSG_REQUEST, id = the cookie, sender_id
 * = us), remembers the pending call, and answers us with exactly one
 * WIRE_OUT_REPLY record on wire_reply_type(cookie): the callee's reply
 * (status 0, its type and payload, stamped with the callee's identity), or
 * ipcd's verdict (status -ENOENT no such callee, -EAGAIN the callee is
 * full, -ECONNRESET the callee went away before replying: sent at once
 * when ipcd removes it).
 *
 * The caller waits for that one type with a REPLY waiter that takes a
 * record (wait.c: want_rec), so a call never receives or reorders the
 * handle's other messages, and any number of threads may have calls in
 * flight on one handle, each on its own reply type.  Whichever thread
 * meets the answer (the sleeper's sweep, or a receiver with filter 0)
 * hands it over in rx_dispatch() -> answer_record_locked(); a reply that
 * nobody waits for any more (the call timed out) is dropped there and
 * never reaches the application.
 *
 * ipcd_reply_error() is a bridge's answer for a call it forwarded to
 * another host that failed there: the caller's ipcd_call() returns the
 * error as it would ipcd's verdict (root or ipcd's group only: ipcd checks).
 *
 * A call must wait: timeout 0 is -EINVAL.  Requests and replies travel
 * inline (at most ipcd_max_inline() bytes; -EMSGSIZE beyond).
 */
#include <errno.h>
#include <string.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/clock.h"
#include "shared/util.h"

IPCD_EXPORT int ipcd_call(ipcd_client *c, const char *dst, long type, const void *req, size_t len,
                          ipcd_msg *reply, int timeout_ms)
{
        struct waiter w = {.kind = WAITER_REPLY, .want_rec = true};
        struct lib_req q = {
                .op = WIRE_OP_SEND,
                .wflags = WIRE_IN_REQUEST,
                .dst = dst,
                .type = type,
                .data = req,
                .len = len,
                .qfull = QFULL_RETRY,
        };
        uint64_t deadline;
        int r;

        if (reply)
                memset(reply, 0, sizeof(*reply)); /* a failed call releases as a no-op */
        if (!c || !reply || !name_is_valid(dst) || !wire_type_is_user(type) ||
            (!req && len > 0) || timeout_ms == 0)
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        bulk_release_flush(c, false);
        (void)client_ob_flush(c, false); /* IPCD_MORE: held sends go first */
        deadline = timeout_ms > 0 ? clock_now_us() + (uint64_t)timeout_ms * USEC_PER_MSEC
                                  : CLOCK_INFINITY;
        q.deadline = deadline;
        r = client_ensure(c,
                          timeout_ms > 0 ? deadline : clock_now_us() + RECONNECT_DEFAULT_USEC,
                          true);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->lock);
        r = len > c->s.max_payload ? -EMSGSIZE : 0;
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return r;
        /* A timeout while ipcd is gone is -ECONNRESET, not a slow callee. */
        r = lib_request(c, &q, &w);
        if (r == 0 && !w.has_rec)
                r = -EPROTO;
        if (r < 0) {
                if (w.has_rec)
                        rxbuf_unref(w.rec.buf);
                return r;
        }
        msg_fill(c, reply, &w.rec); /* takes the reference */
        return 0;
}

IPCD_EXPORT int ipcd_reply(ipcd_client *c, const ipcd_msg *request, long type, const void *data,
                           size_t len)
{
        struct lib_req q = {
                .op = WIRE_OP_REPLY,
                .type = type,
                .data = data,
                .len = len,
                .qfull = QFULL_BLOCK,
        };
        struct session s;

        if (!c || !request || !(request->flags & IPCD_MSG_REQUEST) || request->sender_id == 0 ||
            !wire_type_is_user(type) || (!data && len > 0))
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        (void)client_ob_flush(c, false); /* IPCD_MORE: held sends go first */
        q.arg = request->sender_id;

        /* No reconnection here: a request belongs to the session that
         * received it, and a new session has no pending call to answer. */
        pthread_mutex_lock(&c->lock);
        if (!c->connected) {
                pthread_mutex_unlock(&c->lock);
                return -ECONNRESET;
        }
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        if (len > s.max_payload)
                return -EMSGSIZE;
        return lib_send(c, &s, &q, request->id);
}

IPCD_EXPORT int ipcd_reply_error(ipcd_client *c, const ipcd_msg *request, int error)
{
        int32_t status = error;
        struct lib_req q = {
                .op = WIRE_OP_REPLY,
                .wflags = WIRE_IN_REMOTE,
                .type = 1,
                .data = &status,
                .len = sizeof(status),
                .qfull = QFULL_BLOCK,
        };
        struct session s;

        if (!c || !request || !(request->flags & IPCD_MSG_REQUEST) || request->sender_id == 0 ||
            !wire_remote_verdict_ok(status))
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        (void)client_ob_flush(c, false);
        q.arg = request->sender_id;
        pthread_mutex_lock(&c->lock);
        if (!c->connected) {
                pthread_mutex_unlock(&c->lock);
                return -ECONNRESET;
        }
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        return lib_send(c, &s, &q, request->id);
}
