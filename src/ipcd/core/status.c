/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * status.c - the STATUS snapshot: copied out of the routing state under
 * the lock, then completed with what only the kernel knows (queue lengths
 * and sizes, msgctl IPC_STAT) after the lock is released, so a snapshot
 * never makes the data threads wait on a system call per client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "ipcd/core/channel.h"
#include "ipcd/core/router.h"
#include "shared/clock.h"

static void status_daemon(struct router *r, struct wire_status_daemon *sd)
{
        *sd = (struct wire_status_daemon){
                .nclients = r->nclients,
                .uptime_ms = clock_now_ms() - r->start_ms,
                .routed = r->cnt.routed,
                .dropped = r->cnt.dropped,
                .accepted = r->cnt.accepted,
                .registrations = r->cnt.registrations,
                .refused = r->cnt.refused,
                .bad_control = r->cnt.bad_control,
                .bad_inbound = r->cnt.bad_inbound,
                .backlog_bytes = r->backlog_total,
                .max_clients = r->lim.max_clients,
                .max_payload = r->lim.max_payload,
                .limit_hits = r->cnt.limit_hits,
                .published = r->cnt.published,
                .unheard = r->cnt.unheard,
                .ntopics = (uint32_t)r->topics.ntopics,
                .nmonitors = r->nmonitors,
                .unroutable = r->cnt.unroutable,
                .policy_denied = r->cnt.policy_denied,
                .policy_rules = (uint32_t)r->policy.n,
        };
        memcpy(sd->dropped_by, r->cnt.dropped_by, sizeof(sd->dropped_by));
        sd->data_busy_us = r->cnt.data_busy_us;
        sd->call_latency_sum_us = r->cnt.call_latency_sum_us;
        memcpy(sd->call_latency, r->cnt.call_latency, sizeof(sd->call_latency));
}

static void status_client(struct router *r, const struct client *c, struct wire_status_client *sc)
{
        *sc = (struct wire_status_client){
                .id = c->id,
                .uid = (uint32_t)c->uid,
                .pid = c->pid,
                .qid = c->qid,
                .inbound_qid = c->uq ? c->uq->qid : -1,
                .sent = c->sent,
                .received = c->received,
                .dropped = c->dropped,
                .backlog_bytes = c->bl_bytes,
                .connected_ms = clock_now_ms() - c->connected_ms,
                .subscriptions = c->nsubs,
                .pending_calls = c->ncalls,
                .bulk_sent = c->bulk_sent,
                .bulk_received = c->bulk_received,
                .bulk_held = c->held_bytes,
                .dropped_ignored = c->dropped_ignored,
                .reliable_subs = c->nreliable,
                .unroutable = c->unroutable,
                /* Waiting in ipcd; router_status_complete() adds its queue. */
                .queued = c->bl_records,
        };
        memcpy(sc->dropped_by, c->dropped_by, sizeof(sc->dropped_by));
        for (unsigned i = 0; i < r->nrings; i++)
                for (uint32_t l = 0; l < r->rings[i]->nlanes; l++)
                        if (r->rings[i]->lanes[l].owner == c)
                                sc->lanes++;
        snprintf(sc->name, sizeof(sc->name), "%s", c->name);
        snprintf(sc->unit, sizeof(sc->unit), "%s", c->unit);
}

static void status_ring(const struct ring *rg, struct wire_status_ring *sr)
{
        *sr = (struct wire_status_ring){
                .shmid = rg->shmid,
                .lanes = rg->nlanes,
                .size = rg->size,
                .used = rg->used,
                .lanes_used = rg->lanes_used,
                .gid = (uint32_t)rg->gid,
                .lane_size = rg->lane_size,
        };
        snprintf(sr->name, sizeof(sr->name), "%s", rg->name);
}

static uint32_t count_reliable(const struct sub *s)
{
        uint32_t n = 0;

        for (; s; s = s->next)
                n += s->reliable;
        return n;
}

static void status_topic(struct topic *t, void *userdata)
{
        struct router_status *st = userdata;
        struct wire_status_topic *ts;

        if (st->set.ntopics == st->topics_cap)
                return; /* topics counted before: cannot grow under the same lock */
        ts = &st->set.topics[st->set.ntopics++];
        *ts = (struct wire_status_topic){
                .subscribers = t->nexact,
                .wildcard_subscribers = t->nwild,
                .history_depth = t->depth,
                .history_len = t->hlen,
                .published = t->published,
                .delivered = t->delivered,
                .reliable = count_reliable(t->exact) + count_reliable(t->wild),
        };
        snprintf(ts->name, sizeof(ts->name), "%s", t->name);
}

static unsigned count_uidqs(const struct router *r)
{
        unsigned n = 0;

        for (const struct uidq *u = r->uidqs; u; u = u->next)
                n++;
        return n;
}

int router_status_collect(struct router *r, struct router_status *st)
{
        size_t i = 0;

        memset(st, 0, sizeof(*st));
        st->topics_cap = r->topics.ntopics;
        st->set.queues = calloc(count_uidqs(r) + 1, sizeof(*st->set.queues));
        st->set.clients = calloc(r->nclients + 1, sizeof(*st->set.clients));
        st->set.rings = calloc(r->nrings + 1, sizeof(*st->set.rings));
        st->set.topics = calloc(st->topics_cap + 1, sizeof(*st->set.topics));
        st->set.channels = calloc(r->nchannels + 1, sizeof(*st->set.channels));
        if (!st->set.queues || !st->set.clients || !st->set.rings || !st->set.topics ||
            !st->set.channels) {
                router_status_free(st);
                return -ENOMEM;
        }
        status_daemon(r, &st->set.daemon);
        st->sample_qid = r->clients ? r->clients->qid : -1;
        st->default_qbytes = r->mq.msgmnb;
        for (struct uidq *u = r->uidqs; u; u = u->next)
                st->set.queues[st->set.nqueues++] = (struct wire_status_queue){
                        .uid = (uint32_t)u->uid, .qid = u->qid, .nclients = u->nclients
                };
        for (struct client *c = r->clients; c; c = c->next)
                status_client(r, c, &st->set.clients[i++]);
        st->set.nclients = i;
        for (unsigned k = 0; k < r->nrings; k++)
                status_ring(r->rings[k], &st->set.rings[st->set.nrings++]);
        topics_foreach(&r->topics, status_topic, st);
        channel_status(r, st->set.channels, r->nchannels, &st->set.nchannels);
        return 0;
}

void router_status_complete(struct router_status *st)
{
        struct msqid_ds ds;

        /* The queue size in effect: ask the kernel about one queue. */
        if (st->sample_qid >= 0 && msgctl(st->sample_qid, IPC_STAT, &ds) == 0)
                st->set.daemon.queue_bytes = (uint32_t)ds.msg_qbytes;
        else
                st->set.daemon.queue_bytes = (uint32_t)st->default_qbytes;
        for (size_t i = 0; i < st->set.nqueues; i++)
                if (msgctl(st->set.queues[i].qid, IPC_STAT, &ds) == 0)
                        st->set.queues[i].qnum = (uint32_t)ds.msg_qnum;
        /* Plus queue messages (batches) in each client's queue. */
        for (size_t i = 0; i < st->set.nclients; i++)
                if (msgctl(st->set.clients[i].qid, IPC_STAT, &ds) == 0)
                        st->set.clients[i].queued += ds.msg_qnum;
}

void router_status_free(struct router_status *st)
{
        wire_status_set_free(&st->set);
        memset(st, 0, sizeof(*st));
}
