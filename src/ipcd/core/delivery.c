/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * delivery.c - putting a queue message into a client's queue with
 * IPC_NOWAIT, or behind its bounded backlog in ipcd (per destination, per
 * uid, in all), or dropping it and counting the drop; retrying backlogs;
 * the "N messages missed" notice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "ipcd/core/delivery.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/held.h"
#include "ipcd/core/router.h"
#include "ipcd/core/wakeup.h"
#include "shared/macro.h"

/* Bytes waiting in ipcd: per destination, per uid of the destination, in
 * all; those under flow control (flow) also apart: the senders' windows
 * and client budgets bound them (flow.c), the limits below do not. */
static void bl_account(struct router *r, struct client *c, int64_t delta, bool flow)
{
        c->bl_bytes += (uint64_t)delta;
        r->backlog_total += (uint64_t)delta;
        unit_backlog_account(c, delta, flow);
        if (c->uq)
                c->uq->bl_bytes += (uint64_t)delta;
        if (!flow)
                return;
        c->bl_flow_bytes += (uint64_t)delta;
        r->backlog_flow += (uint64_t)delta;
        if (c->uq)
                c->uq->bl_flow_bytes += (uint64_t)delta;
}

static void bl_account_entry(struct router *r, struct client *c, const struct backlog_entry *e,
                             int64_t sign)
{
        bl_account(r, c, sign * (int64_t)e->size, e->flow_sender != 0);
}

/* One uid's clients may hold at most half of the global backlog budget (or
 * one destination's limit, if larger): a uid whose clients never read
 * cannot take the backlog away from every other uid. */
static bool uid_backlog_full(struct router *r, struct client *c, size_t size)
{
        uint64_t cap = MAX(r->lim.backlog_total_bytes / 2, r->lim.backlog_bytes);

        return c->uq && c->uq->bl_bytes - c->uq->bl_flow_bytes + size > cap;
}

/* The list of clients with a backlog, so retries cost nothing for the others. */
static void backlogged_add(struct router *r, struct client *c)
{
        c->bl_prev = NULL;
        c->bl_next = r->backlogged;
        if (r->backlogged)
                r->backlogged->bl_prev = c;
        r->backlogged = c;
        /* The first one: tell the event thread, it retries on a timer. */
        if (r->nbacklogged++ == 0 && r->wake)
                r->wake(r->wake_userdata);
}

static void backlogged_remove(struct router *r, struct client *c)
{
        if (c->bl_prev)
                c->bl_prev->bl_next = c->bl_next;
        else
                r->backlogged = c->bl_next;
        if (c->bl_next)
                c->bl_next->bl_prev = c->bl_prev;
        c->bl_next = c->bl_prev = NULL;
        r->nbacklogged--;
}

void backlog_free(struct router *r, struct client *c)
{
        struct backlog_entry *e, *n;

        for (e = c->bl_head; e; e = n) {
                n = e->next;
                free(e);
        }
        if (c->bl_head)
                backlogged_remove(r, c);
        bl_account(r, c, -(int64_t)c->bl_flow_bytes, true);
        bl_account(r, c, -(int64_t)c->bl_bytes, false);
        c->bl_head = c->bl_tail = NULL;
        c->bl_bytes = c->bl_flow_bytes = c->bl_records = c->bl_ctl_bytes = 0;
}

static void delivered(struct router *r, struct client *c, uint32_t nrec)
{
        c->received += nrec;
        r->cnt.routed += nrec;
        wakeup_raise(c);
}

void count_drop_why(struct router *r, struct client *c, uint32_t nrec, int why)
{
        c->dropped += nrec;
        r->cnt.dropped += nrec;
        c->dropped_by[why] += nrec;
        r->cnt.dropped_by[why] += nrec;
        if (c->notify_drops) {
                c->missed += nrec;
                c->missed_by[why] += nrec;
        }
}

void count_drop(struct router *r, struct client *c, uint32_t nrec)
{
        count_drop_why(r, c, nrec, WIRE_DROP_MEMORY);
}

static const char *const drop_reason_text[WIRE_DROP_REASONS] = {
        [WIRE_DROP_OVERFLOW] = "overflow",
        [WIRE_DROP_IGNORED] = "ignored back pressure",
        [WIRE_DROP_RING] = "ring not mapped",
        [WIRE_DROP_GONE] = "receiver gone",
        [WIRE_DROP_MEMORY] = "ipcd memory limit",
};

static int notice_backlog(struct router *r, struct client *c, const long *msg, size_t size);

/* Tell c how many messages it missed (it asked for it), once nothing
 * waits before the notice: its place in the stream marks the gap.  A full
 * queue does not lose it: it waits first in c's backlog (the backlog has
 * just emptied, or nothing was in it; nothing else would try again). */
static void notice_missed(struct router *r, struct client *c)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_out) + 192];
        } m = { .mtype = WIRE_TYPE_NOTICE };
        struct wire_out h = { .kind = WIRE_OUT_NOTICE, .status = WIRE_NOTICE_DROPPED };
        char text[184];
        size_t off = 0, n;
        const char *sep = " (";

        if (!c->missed || c->bl_head)
                return;
        h.cookie = c->missed;
        /* "N messages missed (3 overflow, 2 receiver gone)": by reason. */
        n = (size_t)snprintf(text, sizeof(text), "%llu messages missed",
                             (unsigned long long)c->missed);
        for (int i = 0; i < WIRE_DROP_REASONS && n < sizeof(text); i++)
                if (c->missed_by[i]) {
                        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%llu %s", sep,
                                              (unsigned long long)c->missed_by[i],
                                              drop_reason_text[i]);
                        sep = ", ";
                }
        if (*sep == ',' && n < sizeof(text))
                n += (size_t)snprintf(text + n, sizeof(text) - n, ")");
        h.len = (uint32_t)MIN(n, sizeof(text) - 1);
        wire_out_put(m.mtext, sizeof(m.mtext), &off, &h, NULL, NULL, text);
        if (msgsnd(c->qid, &m, off, IPC_NOWAIT) == 0)
                wakeup_raise(c);
        else if (errno != EAGAIN && errno != EINTR)
                return; /* the queue is gone: c is leaving */
        else if (notice_backlog(r, c, &m.mtype, off) != 0)
                return; /* ipcd's memory: tried again with the next message */
        c->missed = 0;
        memset(c->missed_by, 0, sizeof(c->missed_by));
}

/* Try to empty c's backlog into its queue.  true if it is empty now. */
bool backlog_drain(struct router *r, struct client *c)
{
        struct backlog_entry *e;

        while ((e = c->bl_head)) {
                if (msgsnd(c->qid, e->msg, e->size, IPC_NOWAIT) < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                wakeup_pull_marker(c);
                                return false;
                        }
                        /* The queue is gone (the client is leaving, or removed
                         * its own queue): what waits for it is lost, counted. */
                        count_drop_why(r, c, (uint32_t)c->bl_records, WIRE_DROP_GONE);
                        backlog_free(r, c);
                        return true;
                }
                c->bl_head = e->next;
                if (!c->bl_head) {
                        c->bl_tail = NULL;
                        backlogged_remove(r, c);
                }
                if (e->control)
                        c->bl_ctl_bytes -= e->size;
                bl_account_entry(r, c, e, -1);
                c->bl_records -= e->nrec;
                if (e->nrec)
                        delivered(r, c, e->nrec);
                else
                        wakeup_raise(c);
                flow_delivered(r, c, e->flow_sender, e->flow_group, e->flow_cost);
                free(e);
        }
        notice_missed(r, c);
        return !c->bl_head;
}

unsigned router_drain_backlogs(struct router *r)
{
        struct client *c, *next;
        unsigned left = 0;

        for (c = r->backlogged; c; c = next) {
                next = c->bl_next;
                if (!backlog_drain(r, c))
                        left++;
        }
        return left;
}

/* A backlog entry dropped (drop-old) may carry a bulk descriptor: the
 * chunk it references was counted as held by c; give it back. */
static void entry_release_bulk(struct router *r, struct client *c, const struct backlog_entry *e)
{
        struct held_chunk hc;

        if (e->has_bulk && held_take_get(c, e->bulk.ring, e->bulk.lane, e->bulk.pos, &hc)) {
                chunk_unref(r, e->bulk.ring, e->bulk.lane, e->bulk.pos);
                flow_bulk_released(r, c, hc.sender_id, hc.len);
        }
}

/* Would size more bytes for c pass a user-message limit (its own, its
 * uid's, the global one)?  Flow-controlled bytes do not count. */
static bool backlog_over(struct router *r, struct client *c, size_t size, uint64_t cap)
{
        return c->bl_bytes - c->bl_flow_bytes + size > cap ||
               r->backlog_total - r->backlog_flow + size > r->lim.backlog_total_bytes ||
               uid_backlog_full(r, c, size) || unit_backlog_full(c, size);
}

/* Drop-old: make room for size bytes by dropping the oldest waiting user
 * messages (answers stay). */
static void backlog_drop_old(struct router *r, struct client *c, size_t size, uint64_t cap)
{
        struct backlog_entry **pp = &c->bl_head, *prev = NULL, *e;
        bool had = c->bl_head != NULL;

        while (*pp && backlog_over(r, c, size, cap)) {
                e = *pp;
                if (e->control) {
                        prev = e;
                        pp = &e->next;
                        continue;
                }
                *pp = e->next;
                if (c->bl_tail == e)
                        c->bl_tail = prev;
                bl_account_entry(r, c, e, -1);
                c->bl_records -= e->nrec;
                count_drop_why(r, c, e->nrec, WIRE_DROP_OVERFLOW);
                entry_release_bulk(r, c, e);
                flow_delivered(r, c, e->flow_sender, e->flow_group, e->flow_cost);
                free(e);
        }
        if (had && !c->bl_head) {
                c->bl_tail = NULL;
                backlogged_remove(r, c);
        }
}

/* Put e at the end of c's backlog and count it (backlog_append, and the
 * state a re-exec hands over). */
void backlog_restore(struct router *r, struct client *c, struct backlog_entry *e)
{
        e->next = NULL;
        if (c->bl_tail)
                c->bl_tail->next = e;
        else {
                c->bl_head = e;
                backlogged_add(r, c);
        }
        c->bl_tail = e;
        bl_account_entry(r, c, e, 1);
        c->bl_records += e->nrec;
        if (e->control)
                c->bl_ctl_bytes += e->size;
}

/* 0 queued in ipcd, ROUTER_E_FULL over a limit (*why: which), or -ENOMEM. */
static int backlog_append(struct router *r, struct client *c, const struct delivery *m, int *why)
{
        uint64_t cap = c->backlog_limit && c->backlog_limit < r->lim.backlog_bytes
                               ? c->backlog_limit
                               : r->lim.backlog_bytes;
        struct backlog_entry *e;
        bool flow;

        if (!m->control && c->overflow == WIRE_OVERFLOW_DROP_OLD && m->size <= cap)
                backlog_drop_old(r, c, m->size, cap);
        /* A flow-controlled message is bounded by its sender's window and
         * client budget (flow.c), not by these limits: only a receiver that
         * chose to drop caps it. */
        flow = !m->control && m->flow_sender && !c->drop_chosen;
        *why = WIRE_DROP_MEMORY;
        if (!m->control && !flow && backlog_over(r, c, m->size, cap)) {
                /* Its own cap (or its choice), or ipcd's totals. */
                if (c->bl_bytes + m->size > cap)
                        *why = WIRE_DROP_OVERFLOW;
                return ROUTER_E_FULL;
        }
        if (m->control && (c->bl_ctl_bytes + m->size > ROUTER_CTL_BACKLOG ||
                           r->backlog_total + m->size > r->lim.backlog_total_bytes))
                return ROUTER_E_FULL; /* a client that never reads its answers */
        e = malloc(sizeof(*e) + sizeof(long) + m->size);
        if (!e)
                return -ENOMEM;
        *e = (struct backlog_entry){
                .size = (uint32_t)m->size,
                .nrec = m->nrec,
                .control = m->control,
                .has_bulk = m->bulk != NULL,
                /* A receiver that chose to drop credits its senders on
                 * entry (deliver()): its own cap bounds its backlog. */
                .flow_sender = c->drop_chosen ? 0 : m->flow_sender,
                .flow_group = m->flow_group,
                .flow_cost = m->flow_cost,
        };
        if (m->bulk)
                e->bulk = *m->bulk;
        memcpy(e->msg, m->msg, sizeof(long) + m->size);
        backlog_restore(r, c, e);
        return 0;
}

/* The drop notice of notice_missed(), first in c's (empty) backlog: a
 * control entry, so drop-old passes it by and the drain keeps its place. */
static int notice_backlog(struct router *r, struct client *c, const long *msg, size_t size)
{
        struct delivery m = {.msg = msg, .size = size, .control = true};
        int why;

        if (backlog_append(r, c, &m, &why) != 0)
                return -1;
        wakeup_pull_marker(c);
        return 0;
}

int deliver(struct router *r, struct client *c, const struct delivery *m)
{
        int why = WIRE_DROP_MEMORY;

        if (c->removed)
                return ROUTER_E_GONE;
        if (!m->control && c->missed)
                notice_missed(r, c);
        /* Control records (ACKs) have their own type: order does not bind them. */
        if (!c->bl_head || m->control) {
                if (msgsnd(c->qid, m->msg, m->size, IPC_NOWAIT) == 0) {
                        if (m->nrec)
                                delivered(r, c, m->nrec);
                        else if (m->answer)
                                wakeup_waiters(c);
                        else
                                wakeup_raise(c);
                        flow_delivered(r, c, m->flow_sender, m->flow_group, m->flow_cost);
                        return 0;
                }
                if (errno != EAGAIN && errno != EINTR) {
                        /* Queue gone (client leaving) or a kernel limit. */
                        count_drop_why(r, c, m->nrec, WIRE_DROP_GONE);
                        flow_delivered(r, c, m->flow_sender, m->flow_group, m->flow_cost);
                        return ROUTER_E_FULL;
                }
        }
        if (backlog_append(r, c, m, &why) != 0) {
                count_drop_why(r, c, m->nrec, why);
                flow_delivered(r, c, m->flow_sender, m->flow_group, m->flow_cost);
                return ROUTER_E_FULL;
        }
        /* It chose to drop rather than hold its senders back: queued in
         * its (capped) backlog is as good as delivered for their windows. */
        if (c->drop_chosen)
                flow_delivered(r, c, m->flow_sender, m->flow_group, m->flow_cost);
        wakeup_pull_marker(c);
        return 0;
}
