/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * router.c - the routing state's life: set up, limits, registration of a
 * client (its queue, semaphore, token and uid queue), and the teardown.
 * What happens to a message in an inbound queue starts in datathread.c
 * (the thread), dispatch.c (its records) and ops.c (the operations).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/clients.h"
#include "ipcd/core/datathread.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/router.h"
#include "shared/ipcstate.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/util.h"

#define INITIAL_BUCKETS 256

int router_init(struct router *r, const struct router_limits *lim, int state_fd, gid_t gid)
{
        int e;

        memset(r, 0, sizeof(*r));
        e = pthread_mutex_init(&r->lock, NULL);
        if (e)
                return -e;
        r->lim = *lim;
        msgq_ctx_init(&r->mq, state_fd, gid);
        r->nbuckets = INITIAL_BUCKETS;
        r->id_buckets = calloc(r->nbuckets, sizeof(*r->id_buckets));
        r->name_buckets = calloc(r->nbuckets, sizeof(*r->name_buckets));
        if (!r->id_buckets || !r->name_buckets)
                return -ENOMEM;
        r->start_ms = clock_now_ms();
        e = topics_init(&r->topics);
        if (e < 0)
                return e;
        e = util_random_bytes(&r->instance, sizeof(r->instance));
        if (e < 0)
                return e;
        return 0;
}

void router_set_limits(struct router *r, const struct router_limits *lim)
{
        r->lim = *lim;
}

void router_done(struct router *r)
{
        struct client *c, *n;
        struct uidq *u, *un;

        while (r->clients)
                router_client_remove(r, r->clients);
        for (c = r->reap; c; c = n) {
                n = c->next;
                free(c);
        }
        r->reap = NULL;
        for (u = r->uidqs; u; u = un) {
                un = u->next;
                msgq_remove(&r->mq, u->qid);
                free(u);
        }
        for (u = r->dead_uidqs; u; u = un) {
                un = u->next;
                free(u);
        }
        r->uidqs = r->dead_uidqs = NULL;
        free(r->id_buckets);
        free(r->name_buckets);
        free(r->flow_hash);
        r->id_buckets = r->name_buckets = NULL;
        topics_done(&r->topics);
        policy_rules_free(&r->policy);
        unit_limits_free(&r->unit_limits);
        for (unsigned i = 0; i < r->nrings; i++)
                ring_free(r->rings[i]);
        r->nrings = 0;
        for (struct watch_slot *w = atomic_load(&r->watch), *wn; w; w = wn) {
                wn = w->next;
                free(w);
        }
        atomic_store(&r->watch, NULL);
        pthread_mutex_destroy(&r->lock);
}

/* name is reserved for another uid than uid (a crashed predecessor's). */
static bool name_reserved_for_other(struct router *r, uid_t uid, const char *name)
{
        if (!r->nreserved || clock_now_ms() >= r->reserved_until_ms)
                return false;
        for (size_t i = 0; i < r->nreserved; i++)
                if (strcmp(r->reserved[i].name, name) == 0)
                        return r->reserved[i].uid != uid;
        return false;
}

int router_client_add(struct router *r, uid_t uid, pid_t pid, const char *name,
                      struct client **ret)
{
        struct policy_subject who = { .uid = uid, .gid = (gid_t)-1, .unit = "" };

        return router_client_add_as(r, &who, pid, name, ret);
}

/* Its groups and unit, for the rules from now on. */
static void client_set_identity(struct client *c, const struct policy_subject *who)
{
        c->gid = who->gid;
        c->ngroups = (uint32_t)MIN(who->ngroups, (size_t)CLIENT_GROUPS_MAX);
        for (uint32_t i = 0; i < c->ngroups; i++)
                c->groups[i] = who->groups[i];
        snprintf(c->unit, sizeof(c->unit), "%s", who->unit ? who->unit : "");
}

int router_client_add_as(struct router *r, const struct policy_subject *who, pid_t pid,
                         const char *name, struct client **ret)
{
        uid_t uid = who->uid;
        struct client *c;
        size_t qbytes = 0;
        int e;

        if (name[0] && !name_is_valid(name))
                return ROUTER_E_INVALID;
        /* (The request rate is checked by the caller, control.c, before
         * anything else: refused requests count too.) */
        if (r->nclients >= r->lim.max_clients || uid_clients(r, uid) >= r->lim.max_clients_per_uid) {
                r->cnt.limit_hits++;
                return ROUTER_E_QUOTA;
        }
        if (unit_clients_full(r, who->unit)) {
                r->cnt.limit_hits++;
                return ROUTER_E_QUOTA;
        }
        if (name[0] && (router_client_by_name(r, name, strlen(name)) ||
                        name_reserved_for_other(r, uid, name)))
                return ROUTER_E_NAME_TAKEN;
        if (name[0]) {
                e = policy_check_name(r, who, name);
                if (e != 0)
                        return e;
        }
        if (r->nclients + 1 > r->nbuckets) {
                e = clients_grow(r);
                if (e < 0)
                        return e;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->qid = c->semid = c->fifo_fd = c->pidfd = -1;
        c->uid = uid;
        c->pid = pid;
        snprintf(c->name, sizeof(c->name), "%s", name);
        client_set_identity(c, who);
        e = util_random_bytes(c->token, sizeof(c->token));
        if (e < 0)
                goto fail;
        c->qid = msgq_create(&r->mq, uid, r->lim.queue_bytes, &qbytes);
        if (c->qid < 0) {
                e = c->qid;
                goto fail;
        }
        c->qmsg_max = MIN(qbytes, r->mq.msgmax);
        c->semid = sem_create(&r->mq, uid);
        if (c->semid < 0) {
                e = c->semid;
                goto fail;
        }
        e = uid_books_join(r, uid);
        if (e < 0)
                goto fail;
        e = unit_books_join(r, c);
        if (e < 0) {
                uid_books_leave(r, uid);
                goto fail;
        }
        e = uidq_get(r, uid, &c->uq);
        if (e < 0) {
                unit_books_leave(r, c);
                uid_books_leave(r, uid);
                goto fail;
        }
        c->uq->nclients++;
        c->id = ++r->next_id;
        c->connected_ms = clock_now_ms();
        c->overflow = r->lim.overflow_policy ? r->lim.overflow_policy : WIRE_OVERFLOW_DROP_NEW;

        c->next = r->clients;
        if (r->clients)
                r->clients->prev = c;
        r->clients = c;
        r->nclients++;
        clients_insert(r, c);
        (void)ipcstate_record_name(r->mq.state_fd, uid, c->name, false);
        r->cnt.registrations++;
        *ret = c;
        return 0;
fail:
        c->qid = msgq_remove(&r->mq, c->qid);
        c->semid = sem_remove(&r->mq, c->semid);
        free(c);
        return e;
}
