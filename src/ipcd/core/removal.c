/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * removal.c - a client leaves: out of the tables under the lock, its
 * subscriptions, monitor, pending calls, held chunks, lanes and backlog
 * undone, its queue and semaphore removed, then onto router->reap for the
 * event thread.  Its death notice (an UNREGISTER in its inbound queue)
 * keeps the removal in order with what it sent before.  The last client
 * of a uid takes the uid's inbound queue with it.
 */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "ipcd/core/calls.h"
#include "ipcd/core/channel.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/clients.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/held.h"
#include "ipcd/core/router.h"
#include "ipcd/core/whois.h"
#include "shared/ipcstate.h"

static void uidq_release(struct router *r, struct uidq *u)
{
        if (--u->nclients > 0)
                return;
        /* The data thread sees EIDRM and exits; the event thread joins it. */
        u->qid = msgq_remove(&r->mq, u->qid);
        if (r->shutting_down) {
                /* Shutdown joins every thread on r->uidqs: keep it there. */
                u->removed = true;
                return;
        }
        /* (One whose thread died early was unlinked then.) */
        if (!u->removed)
                uidq_unlink(r, u);
        u->removed = true;
        u->next = r->dead_uidqs;
        r->dead_uidqs = u;
}

void router_client_remove(struct router *r, struct client *c)
{
        if (c->removed)
                return;
        /* Its senders' windows: given back, blocked senders woken (while
         * it still has its name, which the credits carry). */
        flow_client_gone(r, c);
        c->removed = true;
        whois_client_gone(r, c);
        clients_remove(r, c);
        (void)ipcstate_record_name(r->mq.state_fd, c->uid, c->name, true);
        if (c->prev)
                c->prev->next = c->next;
        else
                r->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = NULL;
        r->nclients--;

        while (c->subs) {
                struct sub *sb = c->subs;

                c->subs = sb->client_next;
                topics_unsubscribe(&r->topics, sb);
        }
        c->nsubs = 0;
        /* Its history depths go: each topic keeps the largest left. */
        topics_client_gone(&r->topics, c);
        if (c->monitor) {
                c->monitor = false;
                r->nmonitors--;
        }
        /* Callers waiting for its replies learn at once that it is gone. */
        calls_fail_all(r, c);
        /* Its direct channels close: the other ends get -ECONNRESET. */
        channel_client_gone(r, c);

        /* Its ring references go; its lanes drain and are freed. */
        held_drop_all(r, c);
        for (unsigned i = 0; i < r->nrings; i++)
                for (uint32_t l = 0; l < r->rings[i]->nlanes; l++)
                        if (r->rings[i]->lanes[l].owner == c)
                                ring_lane_disown(r->rings[i], l);

        /* Messages still waiting for it are lost with it: count them. */
        c->dropped += c->bl_records;
        r->cnt.dropped += c->bl_records;
        c->dropped_by[WIRE_DROP_GONE] += c->bl_records;
        r->cnt.dropped_by[WIRE_DROP_GONE] += c->bl_records;
        backlog_free(r, c);
        c->qid = msgq_remove(&r->mq, c->qid);
        c->semid = sem_remove(&r->mq, c->semid);
        uid_books_leave(r, c->uid);
        unit_books_leave(r, c);
        if (c->uq)
                uidq_release(r, c->uq);

        c->next = r->reap;
        r->reap = c;
        if (r->wake)
                r->wake(r->wake_userdata);
}

int router_client_post_death(struct router *r, struct client *c)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_in)];
        } m = { .mtype = WIRE_MTYPE_IN };
        struct wire_in h = { .client_id = c->id, .op = WIRE_OP_UNREGISTER,
                             .arg = WIRE_UNREGISTER_DEATH };
        size_t off = 0;

        if (c->removed || c->dying)
                return 0;
        memcpy(h.token, c->token, sizeof(h.token));
        wire_in_put(m.mtext, sizeof(m.mtext), &off, &h, NULL, NULL);
        if (msgsnd(c->uq->qid, &m, off, IPC_NOWAIT) < 0) {
                if (errno == EAGAIN)
                        return -EAGAIN;
                /* The inbound queue is gone: remove directly. */
                router_client_remove(r, c);
                return 0;
        }
        c->dying = true;
        return 0;
}
