/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topics.c - libipcd-client: requests to ipcd (publish/subscribe, topic
 * history, overflow policy, monitoring) and their replay after a
 * reconnection.
 *
 * Every request is one inbound record (struct wire_in) on Qu.  Those that
 * change this client's state in ipcd (SUBSCRIBE, UNSUBSCRIBE,
 * SET_HISTORY, SET_OVERFLOW, MONITOR) are always answered with a
 * WIRE_OUT_ACK on the reply type of their cookie; the library waits for
 * that answer (wait.c), so a function returns once ipcd has done it: after
 * ipcd_subscribe() returns 0, everything published is delivered, and the
 * topic's history (ipcd_set_history) is already in our queue, ahead of it.
 *
 * What the handle asked for is kept (c->subs, c->histories, the overflow
 * setting, the monitor pattern, doorbells for ipcd_fd) and sent again in
 * the next session when ipcd restarted or dropped us: client_ensure()
 * calls client_restore() once per new session, before the call that
 * reconnected goes on.  A request that the new ipcd refuses (its config
 * changed: -EACCES, -EDQUOT) is forgotten.  c->cfg_lock serialises these
 * requests with the replay, so that an ipcd_unsubscribe() cannot be undone
 * by a replay running at the same time.
 *
 * Publishing is like ipcd_send(): not answered unless IPCD_ACK, whose
 * answer's status is the number of subscribers the message reached.
 * Payloads over the inline limit go through the bulk ring (bulk.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/clock.h"
#include "shared/util.h"

/* ------------------------------------------------------------------ */
/* Sending one record, and waiting for its answer.                      */

int lib_send(ipcd_client *c, const struct session *s, const struct lib_req *q, uint64_t cookie)
{
        uint8_t stackbuf[1024] __attribute__((aligned(8)));
        _cleanup_free_ uint8_t *heapbuf = NULL;
        struct wire_in h = {
                .client_id = s->client_id,
                .op = (uint16_t)q->op,
                .flags = q->wflags,
                .type = q->type,
                .cookie = cookie,
                .arg = q->arg,
                .len = (uint32_t)q->len,
        };
        size_t dst_len = q->dst ? strlen(q->dst) : 0, size, off = 0;
        uint64_t backoff = 1000, checked;
        uint8_t *msg;
        int r;

        if (dst_len >= WIRE_NAME_MAX || q->len > UINT32_MAX)
                return -EINVAL;
        h.dst_len = (uint8_t)dst_len;
        memcpy(h.token, s->token, sizeof(h.token));
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
        r = wire_in_put(msg + sizeof(long), size - sizeof(long), &off, &h, q->dst, q->data);
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
        /* Qu full (others of our uid are sending a lot): retry until the
         * deadline, and look now and then whether ipcd is still there (a
         * crashed one leaves its queues behind, full). */
        checked = clock_now_us();
        for (;;) {
                uint64_t now;

                r = client_inbound_send(c, s, msg, off, true);
                if (r != -EAGAIN)
                        return r;
                now = clock_now_us();
                if (now >= q->deadline)
                        return -ETIMEDOUT;
                if (now - checked >= PEER_CHECK_USEC) {
                        checked = now;
                        if (client_peer_gone(c))
                                return -ECONNRESET;
                }
                clock_sleep_us(MIN(backoff, q->deadline - now));
                backoff = MIN(backoff * 2, 10 * USEC_PER_MSEC);
        }
}

int lib_request(ipcd_client *c, const struct lib_req *q)
{
        struct waiter w = {.kind = WAITER_REPLY};
        struct session s;
        int r;

        pthread_mutex_lock(&c->lock);
        /* Sc must be raised for the answer; register before sending, so
         * that whichever thread meets the answer finds us. */
        client_timed_start_locked(c);
        if (!c->connected) {
                pthread_mutex_unlock(&c->lock);
                return -ECONNRESET;
        }
        s = c->s;
        w.cookie = client_cookie_new(c);
        w.filter = wire_reply_type(w.cookie);
        w.gen = s.gen;
        waiter_add(c, &w);
        pthread_mutex_unlock(&c->lock);

        r = lib_send(c, &s, q, w.cookie);

        pthread_mutex_lock(&c->lock);
        if (r == 0)
                r = wait_for(c, &w, q->deadline, NULL);
        waiter_remove(c, &w);
        pthread_mutex_unlock(&c->lock);
        if (r == -ETIMEDOUT && client_peer_gone(c))
                r = -ECONNRESET;
        return r < 0 ? r : w.status;
}

/* A request changing our state in ipcd: answered, retried while Qu is
 * full. */
static int cfg_request(ipcd_client *c, enum wire_op op, const char *dst, uint64_t arg,
                       const void *data, size_t len, uint64_t deadline)
{
        struct lib_req q = {
                .op = op,
                .dst = dst,
                .arg = arg,
                .data = data,
                .len = len,
                .qfull = QFULL_RETRY,
                .deadline = deadline,
        };

        return lib_request(c, &q);
}

/* Start of a public call: not in a forked child; connected. */
static int enter(ipcd_client *c, bool persist)
{
        if (client_forked(c))
                return -ECHILD;
        (void)client_ob_flush(c, false); /* IPCD_MORE: held sends go first */
        return client_ensure_in(c, RECONNECT_DEFAULT_USEC, persist);
}

/* ------------------------------------------------------------------ */
/* What a reconnection restores.                                        */

static struct cfg_topic **cfg_find(struct cfg_topic **list, const char *name)
{
        for (struct cfg_topic **pp = list; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->name, name) == 0)
                        return pp;
        return NULL;
}

static void cfg_drop(struct cfg_topic **pp)
{
        struct cfg_topic *t = *pp;

        *pp = t->next;
        free(t);
}

static void cfg_free_all(struct cfg_topic **list)
{
        while (*list)
                cfg_drop(list);
}

static struct cfg_topic *cfg_new(const char *name, unsigned depth)
{
        struct cfg_topic *t = calloc(1, sizeof(*t));

        if (t) {
                snprintf(t->name, sizeof(t->name), "%s", name);
                t->depth = depth;
        }
        return t;
}

void client_ext_init(ipcd_client *c)
{
        /* Default attributes: cannot fail on Linux. */
        (void)pthread_mutex_init(&c->cfg_lock, NULL);
        c->epoll_fd = c->event_fd = c->epoll_fifo = -1;
}

void client_ext_free(ipcd_client *c, bool forked)
{
        fd_free(c);
        cfg_free_all(&c->subs);
        cfg_free_all(&c->histories);
        if (!forked)
                pthread_mutex_destroy(&c->cfg_lock);
}

static bool have_state(ipcd_client *c)
{
        return c->subs || c->histories || c->ovf_policy || c->monitor || fd_in_use(c);
}

static int overflow_request(ipcd_client *c, int policy, uint64_t bytes, int flags,
                            uint64_t deadline)
{
        uint64_t arg = (uint64_t)policy | (flags & IPCD_NOTIFY_DROPS ? WIRE_OVERFLOW_NOTIFY : 0);

        return cfg_request(c, WIRE_OP_SET_OVERFLOW, NULL, arg, bytes ? &bytes : NULL,
                           bytes ? sizeof(bytes) : 0, deadline);
}

/* Outcome of a replayed request: true to go on, false when the session
 * was lost again (the next session replays everything). */
static bool replayed(int r, bool *keep)
{
        *keep = r >= 0 || r == -ETIMEDOUT || r == -EAGAIN || r == -ENOMEM;
        return r != -ECONNRESET;
}

void client_restore(ipcd_client *c)
{
        uint64_t gen, deadline = clock_deadline_us(ACK_TIMEOUT_USEC);
        bool keep;
        int r;

        pthread_mutex_lock(&c->cfg_lock);
        pthread_mutex_lock(&c->lock);
        gen = c->s.gen;
        if (!c->connected || c->restored_gen == gen || !have_state(c)) {
                if (c->connected)
                        c->restored_gen = gen;
                pthread_mutex_unlock(&c->lock);
                pthread_mutex_unlock(&c->cfg_lock);
                return;
        }
        pthread_mutex_unlock(&c->lock);

        /* The overflow policy first: the replayed history may fill the queue. */
        if (c->ovf_policy) {
                r = overflow_request(c, c->ovf_policy, c->ovf_bytes, c->ovf_flags, deadline);
                if (!replayed(r, &keep))
                        goto out;
                if (!keep)
                        c->ovf_policy = 0;
        }
        if (fd_in_use(c) && fd_restore(c) == -ECONNRESET)
                goto out;
        if (c->monitor) {
                r = cfg_request(c, WIRE_OP_MONITOR, c->monitor_pattern, 0, NULL, 0, deadline);
                if (!replayed(r, &keep))
                        goto out;
                if (!keep)
                        c->monitor = false;
        }
        for (struct cfg_topic **pp = &c->histories; *pp;) {
                r = cfg_request(c, WIRE_OP_SET_HISTORY, (*pp)->name, (*pp)->depth, NULL, 0,
                                deadline);
                if (!replayed(r, &keep))
                        goto out;
                if (keep)
                        pp = &(*pp)->next;
                else
                        cfg_drop(pp);
        }
        for (struct cfg_topic **pp = &c->subs; *pp;) {
                r = cfg_request(c, WIRE_OP_SUBSCRIBE, (*pp)->name, 0, NULL, 0, deadline);
                if (!replayed(r, &keep))
                        goto out;
                if (keep)
                        pp = &(*pp)->next;
                else
                        cfg_drop(pp); /* not allowed any more */
        }

        pthread_mutex_lock(&c->lock);
        if (c->s.gen == gen)
                c->restored_gen = gen;
        pthread_mutex_unlock(&c->lock);
out:
        pthread_mutex_unlock(&c->cfg_lock);
}

/* ------------------------------------------------------------------ */
/* Public: topics.                                                      */

IPCD_EXPORT int ipcd_subscribe(ipcd_client *c, const char *pattern)
{
        struct cfg_topic *t;
        int r;

        if (!c || !topic_pattern_is_valid(pattern))
                return -EINVAL;
        r = enter(c, true);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->cfg_lock);
        if (!cfg_find(&c->subs, pattern)) {
                t = cfg_new(pattern, 0);
                if (!t) {
                        r = -ENOMEM;
                        goto out;
                }
        } else
                t = NULL;
        r = cfg_request(c, WIRE_OP_SUBSCRIBE, pattern, 0, NULL, 0,
                        clock_deadline_us(ACK_TIMEOUT_USEC));
        if (r >= 0 && t) {
                t->next = c->subs;
                c->subs = TAKE_PTR(t);
        }
        free(t);
out:
        pthread_mutex_unlock(&c->cfg_lock);
        return MIN(r, 0);
}

IPCD_EXPORT int ipcd_unsubscribe(ipcd_client *c, const char *pattern)
{
        struct cfg_topic **pp;
        int r;

        if (!c || !topic_pattern_is_valid(pattern))
                return -EINVAL;
        r = enter(c, true);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->cfg_lock);
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
                .wflags = ack ? WIRE_IN_ACK : 0,
                .dst = topic,
                .type = type,
                .data = data,
                .len = len,
                .qfull = nowait ? QFULL_FAIL : QFULL_BLOCK,
        };
        struct session s;
        int r;

        if (!c || !name_is_valid(topic) || !wire_type_is_user(type) ||
            (flags & ~(IPCD_NONBLOCK | IPCD_ACK)) || (!data && len > 0))
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        bulk_release_flush(c, false);
        (void)client_ob_flush(c, false); /* IPCD_MORE: held sends go first */
        r = client_ensure_in(c, RECONNECT_DEFAULT_USEC, !nowait);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->lock);
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        /* Larger than a queue message: through the ring, one copy for
         * every subscriber (bulk.c). */
        if (len > s.max_payload)
                return bulk_send_copy(c, WIRE_OP_PUBLISH, topic, type, data, len, flags);
        if (!ack)
                return lib_send(c, &s, &q, 0);
        q.deadline = clock_deadline_us(ACK_TIMEOUT_USEC);
        return lib_request(c, &q); /* the number of subscribers reached */
}

IPCD_EXPORT int ipcd_set_history(ipcd_client *c, const char *topic, unsigned depth)
{
        struct cfg_topic **pp, *t = NULL;
        int r;

        if (!c || !name_is_valid(topic))
                return -EINVAL;
        r = enter(c, true);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->cfg_lock);
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

        if (!c || (policy != IPCD_OVERFLOW_DROP_NEW && policy != IPCD_OVERFLOW_DROP_OLD) ||
            (flags & ~IPCD_NOTIFY_DROPS))
                return -EINVAL;
        r = enter(c, true);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->cfg_lock);
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

        if (!c)
                return -EINVAL;
        /* NULL, "" and "*": everything (sent to ipcd as ""). */
        if (!pattern || strcmp(pattern, "*") == 0)
                pattern = "";
        if (pattern[0] && !topic_pattern_is_valid(pattern))
                return -EINVAL;
        r = enter(c, true);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->cfg_lock);
        r = cfg_request(c, WIRE_OP_MONITOR, pattern[0] ? pattern : NULL, 0, NULL, 0,
                        clock_deadline_us(ACK_TIMEOUT_USEC));
        if (r >= 0) {
                c->monitor = true;
                snprintf(c->monitor_pattern, sizeof(c->monitor_pattern), "%s", pattern);
        }
        pthread_mutex_unlock(&c->cfg_lock);
        return MIN(r, 0);
}
