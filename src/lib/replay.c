/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * replay.c - libipcd-client: what a handle asked ipcd for, kept, and
 * given again to a new ipcd after a reconnection.
 *
 * ipcd forgets a client when it restarts or drops it; the handle does
 * not.  Kept here: subscriptions (c->subs), topic history depths
 * (c->histories), the overflow policy and the monitor pattern, set by
 * subscribe.c once ipcd has answered; the new-session hook (replay_hooks,
 * run by client_ensure() once per new session, cfg_lock held, before the
 * call that reconnected goes on) sends them again.  ipcd_fd()'s doorbells
 * are replayed by fd.c's own hook.  A request that the new ipcd refuses
 * (its config changed: -EACCES, -EDQUOT) is forgotten.  c->cfg_lock
 * serialises the setters with the replay, so that an ipcd_unsubscribe()
 * cannot be undone by a replay running at the same time.
 *
 * Inline sends held by IPCD_MORE (batch.c) across a reconnection are
 * re-stamped here for the new session when they finally go out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "shared/clock.h"

/* ------------------------------------------------------------------ */
/* The kept topics.                                                     */

struct cfg_topic **cfg_find(struct cfg_topic **list, const char *name)
{
        for (struct cfg_topic **pp = list; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->name, name) == 0)
                        return pp;
        return NULL;
}

void cfg_drop(struct cfg_topic **pp)
{
        struct cfg_topic *t = *pp;

        *pp = t->next;
        free(t);
}

void cfg_free_all(struct cfg_topic **list)
{
        while (*list)
                cfg_drop(list);
}

struct cfg_topic *cfg_new(const char *name, unsigned depth)
{
        struct cfg_topic *t = calloc(1, sizeof(*t));

        if (t) {
                snprintf(t->name, sizeof(t->name), "%s", name);
                t->depth = depth;
        }
        return t;
}

/* ------------------------------------------------------------------ */
/* Requests, and their replay.                                          */

/* A request changing our state in ipcd: answered, retried while Qu is
 * full. */
int cfg_request(ipcd_client *c, enum wire_op op, const char *dst, uint64_t arg, const void *data,
                size_t len, uint64_t deadline)
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

        return lib_request(c, &q, NULL);
}

int overflow_request(ipcd_client *c, int policy, uint64_t bytes, int flags,
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

/* The session hook (cfg_lock held): the settings, then the topics. */
static int replay_restore(ipcd_client *c)
{
        uint64_t deadline = clock_deadline_us(ACK_TIMEOUT_USEC);
        bool keep;
        int r;

        /* The overflow policy first: the replayed history may fill the queue. */
        if (c->ovf_policy) {
                r = overflow_request(c, c->ovf_policy, c->ovf_bytes, c->ovf_flags, deadline);
                if (!replayed(r, &keep))
                        return -ECONNRESET;
                if (!keep)
                        c->ovf_policy = 0;
        }
        if (c->monitor) {
                r = cfg_request(c, WIRE_OP_MONITOR, c->monitor_pattern, 0, NULL, 0, deadline);
                if (!replayed(r, &keep))
                        return -ECONNRESET;
                if (!keep)
                        c->monitor = false;
        }
        for (struct cfg_topic **pp = &c->histories; *pp;) {
                r = cfg_request(c, WIRE_OP_SET_HISTORY, (*pp)->name, (*pp)->depth, NULL, 0,
                                deadline);
                if (!replayed(r, &keep))
                        return -ECONNRESET;
                if (keep)
                        pp = &(*pp)->next;
                else
                        cfg_drop(pp);
        }
        for (struct cfg_topic **pp = &c->subs; *pp;) {
                /* depth holds its flags (IPCD_SUB_RELIABLE) */
                r = cfg_request(c, WIRE_OP_SUBSCRIBE, (*pp)->name,
                                ((*pp)->depth & IPCD_SUB_RELIABLE) ? WIRE_SUB_RELIABLE : 0, NULL,
                                0, deadline);
                if (!replayed(r, &keep))
                        return -ECONNRESET;
                if (keep)
                        pp = &(*pp)->next;
                else
                        cfg_drop(pp); /* not allowed any more */
        }
        return 0;
}

void replay_free(ipcd_client *c)
{
        cfg_free_all(&c->subs);
        cfg_free_all(&c->histories);
}

const struct session_hooks replay_hooks = {
        .restore = replay_restore,
};

/* ------------------------------------------------------------------ */
/* Held IPCD_MORE sends.                                                */

/*
 * Held records made in a session that is gone (ipcd restarted) were never
 * sent: they go out in the new session s, under its id and token.  A
 * caller whose s is older than the records' session is the stale one:
 * -ECONNRESET, nothing changed.  ob_lock held.
 */
int replay_batch_restamp(ipcd_client *c, const struct session *s)
{
        size_t off = 0;
        struct wire_in h;
        const char *dst;
        const void *payload;

        if (!c->ob_len || c->ob_gen == s->gen)
                return 0;
        if (c->ob_gen > s->gen)
                return -ECONNRESET;
        for (;;) {
                size_t at = off;

                if (wire_in_next(c->ob + sizeof(long), c->ob_len, &off, &h, &dst, &payload) <= 0)
                        break;
                h.client_id = s->client_id;
                memcpy(h.token, s->token, sizeof(h.token));
                memcpy(c->ob + sizeof(long) + at, &h, sizeof(h));
        }
        c->ob_gen = s->gen;
        return 0;
}
