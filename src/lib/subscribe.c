/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * subscribe.c - libipcd-client: publish/subscribe, topic history, the
 * overflow policy and monitoring.
 *
 * Every one is a request on the request path (request.c).  Those that
 * change this client's state in ipcd (SUBSCRIBE, UNSUBSCRIBE,
 * SET_HISTORY, SET_OVERFLOW, MONITOR) are always answered with a
 * WIRE_OUT_ACK on the reply type of their cookie, and the call waits for
 * it, so a function returns once ipcd has done it: after ipcd_subscribe()
 * returns 0, everything published is delivered, and the topic's history
 * (ipcd_set_history) is already in our queue, ahead of it.  What ipcd
 * accepted is kept for a reconnection (replay.c), under c->cfg_lock.
 *
 * Publishing is like ipcd_send(): not answered unless IPCD_ACK, whose
 * answer's status is the number of subscribers the message reached.
 * Payloads over the inline limit go through the bulk ring (bulk.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/clock.h"
#include "shared/util.h"

/* Start of a public setter (valid: its arguments are): not in a forked
 * child; connected; cfg_lock taken (0), or -errno. */
static int cfg_enter(ipcd_client *c, bool valid)
{
        int r;

        if (!c || !valid)
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        (void)client_ob_flush(c, false); /* IPCD_MORE: held sends go first */
        r = client_ensure_in(c, RECONNECT_DEFAULT_USEC, true);
        if (r == 0)
                pthread_mutex_lock(&c->cfg_lock);
        return r;
}

/* ------------------------------------------------------------------ */
/* Public: topics.                                                      */

/* A subscription's flags (IPCD_SUB_RELIABLE) are kept in its cfg_topic's
 * depth, for the replay after a reconnection. */
IPCD_EXPORT int ipcd_subscribe_flags(ipcd_client *c, const char *pattern, int flags)
{
        struct cfg_topic *t, **pp;
        int r;

        if (flags & ~IPCD_SUB_RELIABLE)
                return -EINVAL;
        r = cfg_enter(c, topic_pattern_is_valid(pattern));
        if (r < 0)
                return r;
        if (!(pp = cfg_find(&c->subs, pattern))) {
                t = cfg_new(pattern, (unsigned)flags);
                if (!t) {
                        r = -ENOMEM;
                        goto out;
                }
        } else
                t = NULL;
        r = cfg_request(c, WIRE_OP_SUBSCRIBE, pattern,
                        (flags & IPCD_SUB_RELIABLE) ? WIRE_SUB_RELIABLE : 0, NULL, 0,
                        clock_deadline_us(ACK_TIMEOUT_USEC));
        if (r >= 0 && t) {
                t->next = c->subs;
                c->subs = TAKE_PTR(t);
        } else if (r >= 0 && pp)
                (*pp)->depth = (unsigned)flags;
        free(t);
out:
        pthread_mutex_unlock(&c->cfg_lock);
        return MIN(r, 0);
}

IPCD_EXPORT int ipcd_subscribe(ipcd_client *c, const char *pattern)
{
        return ipcd_subscribe_flags(c, pattern, 0);
}

IPCD_EXPORT int ipcd_unsubscribe(ipcd_client *c, const char *pattern)
{
        struct cfg_topic **pp;
        int r;

        r = cfg_enter(c, topic_pattern_is_valid(pattern));
        if (r < 0)
                return r;
        r = cfg_request(c, WIRE_OP_UNSUBSCRIBE, pattern, 0, NULL, 0,
                        clock_deadline_us(ACK_TIMEOUT_USEC));
        /* -ENOENT: ipcd has no such subscription, so neither do we. */
        if ((r >= 0 || r == -ENOENT) && (pp = cfg_find(&c->subs, pattern)))
                cfg_drop(pp);
        pthread_mutex_unlock(&c->cfg_lock);
        return MIN(r, 0);
}

IPCD_EXPORT int ipcd_publish(ipcd_client *c, const char *topic, long type, const void *data,
                             size_t len, int flags)
{
        bool ack = flags & IPCD_ACK, nowait = flags & IPCD_NONBLOCK;
        struct lib_req q = {
                .op = WIRE_OP_PUBLISH,
                .wflags = (uint16_t)((ack ? WIRE_IN_ACK : 0) |
                                     ((flags & IPCD_REMOTE) ? WIRE_IN_REMOTE : 0)),
                .dst = topic,
                .type = type,
                .data = data,
                .len = len,
                .qfull = nowait ? QFULL_FAIL : QFULL_BLOCK,
        };
        bool inline_;
        int r;

        if (!c || !name_is_valid(topic) || !wire_type_is_user(type) ||
            (flags & ~(IPCD_NONBLOCK | IPCD_ACK | IPCD_REMOTE)) || (!data && len > 0) ||
            ((flags & IPCD_REMOTE) && len < sizeof(ipcd_origin)))
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        bulk_release_flush(c, false);
        (void)client_ob_flush(c, false); /* IPCD_MORE: held sends go first */
        r = client_ensure_in(c, RECONNECT_DEFAULT_USEC, !nowait);
        if (r < 0)
                return r;

        if (ack)
                q.deadline = clock_deadline_us(ACK_TIMEOUT_USEC);
        /* A topic with reliable subscribers windows its publishers (flow.c);
         * bulk publishes are not windowed. */
        pthread_mutex_lock(&c->lock);
        inline_ = len <= c->s.max_payload;
        pthread_mutex_unlock(&c->lock);
        if (inline_) {
                r = flow_reserve_topic(c, topic, wire_flow_cost(len), flags);
                if (r < 0)
                        return r;
        }
        r = message_send(c, &q, flags); /* with IPCD_ACK, the subscribers reached */
        if (r < 0 && inline_)
                flow_unreserve_topic(c, topic, wire_flow_cost(len));
        return r;
}

IPCD_EXPORT int ipcd_set_history(ipcd_client *c, const char *topic, unsigned depth)
{
        struct cfg_topic **pp, *t = NULL;
        int r;

        r = cfg_enter(c, name_is_valid(topic));
        if (r < 0)
                return r;
        pp = cfg_find(&c->histories, topic);
        if (depth && !pp) {
                t = cfg_new(topic, depth);
                if (!t) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        r = cfg_request(c, WIRE_OP_SET_HISTORY, topic, depth, NULL, 0,
                        clock_deadline_us(ACK_TIMEOUT_USEC));
        if (r >= 0) {
                /* Kept for a reconnection: ipcd forgets it when it restarts. */
                if (t) {
                        t->next = c->histories;
                        c->histories = TAKE_PTR(t);
                } else if (pp && depth)
                        (*pp)->depth = depth;
                else if (pp)
                        cfg_drop(pp);
        }
        free(t);
out:
        pthread_mutex_unlock(&c->cfg_lock);
        return r; /* the depth in effect */
}

IPCD_EXPORT int ipcd_set_overflow(ipcd_client *c, int policy, size_t backlog_bytes, int flags)
{
        int r;

        r = cfg_enter(c, (policy == IPCD_OVERFLOW_DROP_NEW || policy == IPCD_OVERFLOW_DROP_OLD) &&
                             !(flags & ~IPCD_NOTIFY_DROPS));
        if (r < 0)
                return r;
        r = overflow_request(c, policy, backlog_bytes, flags, clock_deadline_us(ACK_TIMEOUT_USEC));
        if (r >= 0) {
                c->ovf_policy = policy;
                c->ovf_bytes = backlog_bytes;
                c->ovf_flags = flags;
        }
        pthread_mutex_unlock(&c->cfg_lock);
        return MIN(r, 0);
}

IPCD_EXPORT int ipcd_monitor(ipcd_client *c, const char *pattern)
{
        int r;

        /* NULL, "" and "*": everything (sent to ipcd as ""). */
        if (!pattern || strcmp(pattern, "*") == 0)
                pattern = "";
        r = cfg_enter(c, !pattern[0] || topic_pattern_is_valid(pattern));
        if (r < 0)
                return r;
        r = cfg_request(c, WIRE_OP_MONITOR, pattern[0] ? pattern : NULL, 0, NULL, 0,
                        clock_deadline_us(ACK_TIMEOUT_USEC));
        if (r >= 0) {
                c->monitor = true;
                snprintf(c->monitor_pattern, sizeof(c->monitor_pattern), "%s", pattern);
        }
        pthread_mutex_unlock(&c->cfg_lock);
        return MIN(r, 0);
}
