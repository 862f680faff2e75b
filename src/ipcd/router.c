/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * router.c - what happens to a message in an inbound queue: authenticate,
 * resolve, batch per destination, deliver with IPC_NOWAIT, or keep it in
 * the destination's bounded backlog, or drop it and count the drop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <unistd.h>

#include "ipcd/policy.h"
#include "ipcd/router.h"
#include "shared/log.h"
#include "shared/names.h"
#include "shared/clock.h"
#include "shared/util.h"

#define INITIAL_BUCKETS 256
/* Messages one pass drains with IPC_NOWAIT after its blocking msgrcv. */
#define PASS_DRAIN_MAX 64

static struct log_ratelimit bad_inbound_rl = LOG_RATELIMIT_INIT(5000, 10);

/* ------------------------------------------------------------------ */
/* Hash tables (chained, power-of-two buckets, grown at load factor 1). */

static uint64_t hash_u64(uint64_t x)
{
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return x;
}

static uint64_t hash_str(const char *s, size_t n)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (size_t i = 0; i < n; i++) {
                h ^= (uint8_t)s[i];
                h *= 1099511628211ULL;
        }
        return h;
}

static void tables_insert(struct router *r, struct client *c)
{
        size_t b = hash_u64(c->id) & (r->nbuckets - 1);

        c->id_next = r->id_buckets[b];
        r->id_buckets[b] = c;
        if (c->name[0]) {
                b = hash_str(c->name, strlen(c->name)) & (r->nbuckets - 1);
                c->name_next = r->name_buckets[b];
                r->name_buckets[b] = c;
        }
}

static int tables_grow(struct router *r)
{
        size_t n = r->nbuckets * 2;
        struct client **ib = calloc(n, sizeof(*ib)), **nb = calloc(n, sizeof(*nb));

        if (!ib || !nb) {
                free(ib);
                free(nb);
                return -ENOMEM;
        }
        free(r->id_buckets);
        free(r->name_buckets);
        r->id_buckets = ib;
        r->name_buckets = nb;
        r->nbuckets = n;
        for (struct client *c = r->clients; c; c = c->next)
                tables_insert(r, c);
        return 0;
}

static void tables_remove(struct router *r, struct client *c)
{
        struct client **pp;
        size_t b = hash_u64(c->id) & (r->nbuckets - 1);

        for (pp = &r->id_buckets[b]; *pp; pp = &(*pp)->id_next)
                if (*pp == c) {
                        *pp = c->id_next;
                        break;
                }
        if (c->name[0]) {
                b = hash_str(c->name, strlen(c->name)) & (r->nbuckets - 1);
                for (pp = &r->name_buckets[b]; *pp; pp = &(*pp)->name_next)
                        if (*pp == c) {
                                *pp = c->name_next;
                                break;
                        }
        }
}

struct client *router_client_by_id(struct router *r, uint64_t id)
{
        for (struct client *c = r->id_buckets[hash_u64(id) & (r->nbuckets - 1)]; c; c = c->id_next)
                if (c->id == id)
                        return c;
        return NULL;
}

struct client *router_client_by_name(struct router *r, const char *name, size_t len)
{
        size_t b = hash_str(name, len) & (r->nbuckets - 1);

        for (struct client *c = r->name_buckets[b]; c; c = c->name_next)
                if (strncmp(c->name, name, len) == 0 && c->name[len] == '\0')
                        return c;
        return NULL;
}

/* Bytes waiting in ipcd: per destination, per uid of the destination, in all. */
static void bl_account(struct router *r, struct client *c, int64_t delta)
{
        c->bl_bytes += (uint64_t)delta;
        r->backlog_total += (uint64_t)delta;
        if (c->uq)
                c->uq->bl_bytes += (uint64_t)delta;
}

/* One uid's clients may hold at most half of the global backlog budget (or
 * one destination's limit, if larger): a uid whose clients never read
 * cannot take the backlog away from every other uid. */
static bool uid_backlog_full(struct router *r, struct client *c, size_t size)
{
        uint64_t cap = MAX(r->lim.backlog_total_bytes / 2, r->lim.backlog_bytes);

        return c->uq && c->uq->bl_bytes + size > cap;
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

/* ------------------------------------------------------------------ */

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

static void backlog_free(struct router *r, struct client *c)
{
        struct backlog_entry *e, *n;

        for (e = c->bl_head; e; e = n) {
                n = e->next;
                free(e);
        }
        if (c->bl_head)
                backlogged_remove(r, c);
        bl_account(r, c, -(int64_t)c->bl_bytes);
        c->bl_head = c->bl_tail = NULL;
        c->bl_bytes = c->bl_records = c->bl_ctl_bytes = 0;
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
        r->id_buckets = r->name_buckets = NULL;
        topics_done(&r->topics);
        for (unsigned i = 0; i < r->nrings; i++)
                ring_free(r->rings[i]);
        r->nrings = 0;
        pthread_mutex_destroy(&r->lock);
}

static void send_verdict(struct router *r, struct client *caller, uint64_t cookie, int status);
static void held_drop_all(struct router *r, struct client *c);
static bool held_take(struct client *c, uint32_t ring, uint32_t lane, uint64_t pos);
static void chunk_unref(struct router *r, uint32_t ring, uint32_t lane, uint64_t pos);

/* ------------------------------------------------------------------ */
/* Registration and removal.                                            */

bool router_rate_take(struct router *r, uid_t uid)
{
        uint64_t now = clock_now_ms();
        struct rate_bucket *b = NULL, *victim = NULL;

        if (r->lim.registration_rate == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(r->rate); i++) {
                struct rate_bucket *x = &r->rate[i];

                if (x->used && x->uid == uid) {
                        b = x;
                        break;
                }
                /* Reuse a free bucket or the least recently used one. */
                if (!victim || !x->used || (victim->used && x->last_ms < victim->last_ms))
                        victim = x;
        }
        if (!b) {
                b = victim;
                b->used = true;
                b->uid = uid;
                b->tokens = r->lim.registration_burst;
                b->last_ms = now;
        }
        b->tokens += (double)(now - b->last_ms) * r->lim.registration_rate / 1000.0;
        if (b->tokens > r->lim.registration_burst)
                b->tokens = r->lim.registration_burst;
        b->last_ms = now;
        if (b->tokens < 1.0)
                return false;
        b->tokens -= 1.0;
        return true;
}

static struct uidq *uidq_find(struct router *r, uid_t uid)
{
        for (struct uidq *u = r->uidqs; u; u = u->next)
                if (u->uid == uid && !u->removed)
                        return u;
        return NULL;
}

static int uidq_get(struct router *r, uid_t uid, struct uidq **ret)
{
        struct uidq *u = uidq_find(r, uid);
        int e, qid;

        if (u) {
                *ret = u;
                return 0;
        }
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        qid = msgq_create(&r->mq, uid, r->lim.inbound_queue_bytes, NULL);
        if (qid < 0) {
                free(u);
                return qid;
        }
        u->router = r;
        u->uid = uid;
        u->qid = qid;
        e = pthread_create(&u->thread, NULL, router_uidq_thread, u);
        if (e) {
                msgq_remove(&r->mq, qid);
                free(u);
                return -e;
        }
        u->thread_started = true;
        u->next = r->uidqs;
        r->uidqs = u;
        log_debug("inbound queue %d for uid %u", qid, (unsigned)uid);
        *ret = u;
        return 0;
}

static void uidq_unlink(struct router *r, struct uidq *u)
{
        for (struct uidq **pp = &r->uidqs; *pp; pp = &(*pp)->next)
                if (*pp == u) {
                        *pp = u->next;
                        return;
                }
}

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

static unsigned uid_clients(struct router *r, uid_t uid)
{
        struct uidq *u = uidq_find(r, uid);

        return u ? u->nclients : 0;
}

int router_client_add(struct router *r, uid_t uid, pid_t pid, const char *name,
                      struct client **ret)
{
        struct client *c;
        size_t qbytes = 0;
        int e;

        if (name[0] && !name_is_valid(name))
                return -EINVAL;
        /* (The request rate is checked by the caller, control.c, before
         * anything else: refused requests count too.) */
        if (r->nclients >= r->lim.max_clients || uid_clients(r, uid) >= r->lim.max_clients_per_uid) {
                r->cnt.limit_hits++;
                return -EDQUOT;
        }
        if (name[0] && router_client_by_name(r, name, strlen(name)))
                return -EADDRINUSE;
        if (name[0] && policy_check_name(uid, name) < 0)
                return -EACCES;
        if (r->nclients + 1 > r->nbuckets) {
                e = tables_grow(r);
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
        e = uidq_get(r, uid, &c->uq);
        if (e < 0)
                goto fail;
        c->uq->nclients++;
        c->id = ++r->next_id;
        c->connected_ms = clock_now_ms();
        c->overflow = r->lim.overflow_policy ? r->lim.overflow_policy : WIRE_OVERFLOW_DROP_NEW;

        c->next = r->clients;
        if (r->clients)
                r->clients->prev = c;
        r->clients = c;
        r->nclients++;
        tables_insert(r, c);
        r->cnt.registrations++;
        *ret = c;
        return 0;
fail:
        c->qid = msgq_remove(&r->mq, c->qid);
        c->semid = sem_remove(&r->mq, c->semid);
        free(c);
        return e;
}

void router_client_remove(struct router *r, struct client *c)
{
        if (c->removed)
                return;
        c->removed = true;
        tables_remove(r, c);
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
        if (c->monitor) {
                c->monitor = false;
                r->nmonitors--;
        }
        /* Callers waiting for its replies learn at once that it is gone. */
        for (uint32_t i = 0; i < c->ncalls; i++) {
                struct client *caller = router_client_by_id(r, c->calls[i].caller_id);

                if (caller)
                        send_verdict(r, caller, c->calls[i].cookie, -ECONNRESET);
        }
        free(c->calls);
        c->calls = NULL;
        c->ncalls = c->calls_cap = 0;

        /* Its ring references go; its lanes drain and are freed. */
        held_drop_all(r, c);
        for (unsigned i = 0; i < r->nrings; i++)
                for (uint32_t l = 0; l < r->rings[i]->nlanes; l++)
                        if (r->rings[i]->lanes[l].owner == c)
                                ring_lane_disown(r->rings[i], l);

        /* Messages still waiting for it are lost with it: count them. */
        c->dropped += c->bl_records;
        r->cnt.dropped += c->bl_records;
        backlog_free(r, c);
        c->qid = msgq_remove(&r->mq, c->qid);
        c->semid = sem_remove(&r->mq, c->semid);
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

void router_stop_threads(struct router *r)
{
        r->shutting_down = true;
        for (struct uidq *u = r->uidqs; u; u = u->next)
                u->qid = msgq_remove(&r->mq, u->qid);
}

/* ------------------------------------------------------------------ */
/* Delivery.                                                            */

/* Something arrived in c's queue: raise Sc for timed waits, ring the
 * doorbell for ipcd_fd() users. */
static void raise_sem(struct client *c)
{
        struct sembuf op = { .sem_num = 0, .sem_op = 1, .sem_flg = IPC_NOWAIT };

        /* ERANGE (the count is at SEMVMX) only means wake-ups are pending. */
        if (c->timed)
                (void)semop(c->semid, &op, 1);
        if (c->doorbell && c->fifo_fd >= 0) {
                char b = WIRE_DOORBELL;

                /* EAGAIN: the FIFO is full of doorbells, readable already. */
                if (write(c->fifo_fd, &b, 1) < 0 && errno != EAGAIN)
                        c->doorbell = false;
        }
}

static void pull_marker(struct client *c)
{
        long m = WIRE_TYPE_PULL;

        /* Zero bytes of mtext fit in a queue full by bytes. */
        if (!c->pull_marker && msgsnd(c->qid, &m, 0, IPC_NOWAIT) == 0) {
                c->pull_marker = true;
                raise_sem(c);
        }
}

static void delivered(struct router *r, struct client *c, uint32_t nrec)
{
        c->received += nrec;
        r->cnt.routed += nrec;
        raise_sem(c);
}

static void count_drop(struct router *r, struct client *c, uint32_t nrec)
{
        c->dropped += nrec;
        r->cnt.dropped += nrec;
        if (c->notify_drops)
                c->missed += nrec;
}

/* Tell c how many messages it missed (it asked for it), once nothing
 * waits before the notice: its place in the stream marks the gap. */
static void notice_missed(struct router *r, struct client *c)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_out) + 64];
        } m = { .mtype = WIRE_TYPE_NOTICE };
        struct wire_out h = { .kind = WIRE_OUT_NOTICE, .status = WIRE_NOTICE_DROPPED };
        char text[48];
        size_t off = 0;

        if (!c->missed || c->bl_head)
                return;
        h.cookie = c->missed;
        h.len = (uint32_t)snprintf(text, sizeof(text), "%llu messages missed",
                                   (unsigned long long)c->missed);
        wire_out_put(m.mtext, sizeof(m.mtext), &off, &h, NULL, NULL, text);
        if (msgsnd(c->qid, &m, off, IPC_NOWAIT) == 0) {
                c->missed = 0;
                raise_sem(c);
        }
        (void)r;
}

/* Try to empty c's backlog into its queue.  true if it is empty now. */
static bool backlog_drain(struct router *r, struct client *c)
{
        struct backlog_entry *e;

        while ((e = c->bl_head)) {
                if (msgsnd(c->qid, e->msg, e->size, IPC_NOWAIT) < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                pull_marker(c);
                                return false;
                        }
                        /* The queue is gone (the client is leaving, or removed
                         * its own queue): what waits for it is lost, counted. */
                        count_drop(r, c, (uint32_t)c->bl_records);
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
                bl_account(r, c, -(int64_t)e->size);
                c->bl_records -= e->nrec;
                if (e->nrec)
                        delivered(r, c, e->nrec);
                else
                        raise_sem(c);
                free(e);
        }
        notice_missed(r, c);
        return true;
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

/* A backlog entry dropped (drop-old) may carry bulk descriptors: the
 * chunks they reference were counted as held by c; give them back. */
static void entry_release_bulk(struct router *r, struct client *c, const struct backlog_entry *e)
{
        size_t off = 0;
        struct wire_out h;
        const char *name, *topic;
        const void *payload;

        while (wire_out_next(e->msg + 1, e->size, &off, &h, &name, &topic, &payload) > 0) {
                struct wire_bulk_out bo;

                if (!(h.flags & WIRE_OUT_BULK) || h.kind != WIRE_OUT_MSG || h.len != sizeof(bo))
                        continue;
                memcpy(&bo, payload, sizeof(bo));
                if (held_take(c, bo.ring, bo.lane, bo.pos))
                        chunk_unref(r, bo.ring, bo.lane, bo.pos);
        }
}

static int backlog_append(struct router *r, struct client *c, const long *msg, size_t size,
                          uint32_t nrec, bool control)
{
        uint64_t cap = c->backlog_limit && c->backlog_limit < r->lim.backlog_bytes
                               ? c->backlog_limit
                               : r->lim.backlog_bytes;
        struct backlog_entry *e;

        if (!control && c->overflow == WIRE_OVERFLOW_DROP_OLD && size <= cap) {
                /* Make room by dropping the oldest waiting user messages. */
                struct backlog_entry **pp = &c->bl_head, *prev = NULL;
                bool had = c->bl_head != NULL;

                while (*pp && (c->bl_bytes + size > cap ||
                               r->backlog_total + size > r->lim.backlog_total_bytes ||
                               uid_backlog_full(r, c, size))) {
                        e = *pp;
                        if (e->control) {
                                prev = e;
                                pp = &e->next;
                                continue;
                        }
                        *pp = e->next;
                        if (c->bl_tail == e)
                                c->bl_tail = prev;
                        bl_account(r, c, -(int64_t)e->size);
                        c->bl_records -= e->nrec;
                        count_drop(r, c, e->nrec);
                        entry_release_bulk(r, c, e);
                        free(e);
                }
                if (had && !c->bl_head) {
                        c->bl_tail = NULL;
                        backlogged_remove(r, c);
                }
        }
        if (!control && (c->bl_bytes + size > cap ||
                         r->backlog_total + size > r->lim.backlog_total_bytes ||
                         uid_backlog_full(r, c, size)))
                return -EAGAIN;
        if (control && (c->bl_ctl_bytes + size > ROUTER_CTL_BACKLOG ||
                        r->backlog_total + size > r->lim.backlog_total_bytes))
                return -EAGAIN; /* a client that never reads its answers */
        e = malloc(sizeof(*e) + sizeof(long) + size);
        if (!e)
                return -ENOMEM;
        e->next = NULL;
        e->size = (uint32_t)size;
        e->nrec = nrec;
        e->control = control;
        memcpy(e->msg, msg, sizeof(long) + size);
        if (c->bl_tail)
                c->bl_tail->next = e;
        else {
                c->bl_head = e;
                backlogged_add(r, c);
        }
        c->bl_tail = e;
        bl_account(r, c, (int64_t)size);
        c->bl_records += nrec;
        if (control)
                c->bl_ctl_bytes += size;
        return 0;
}

/*
 * Deliver one queue message (mtype + size bytes) holding nrec user records
 * to c: straight into its queue if nothing waits before it, else behind its
 * backlog, else drop.  0 delivered or queued in ipcd, -EAGAIN dropped.
 */
static int deliver(struct router *r, struct client *c, const long *msg, size_t size,
                   uint32_t nrec, bool control)
{
        int e;

        if (c->removed)
                return -ECONNRESET;
        if (!control && c->missed)
                notice_missed(r, c);
        /* Control records (ACKs) have their own type: order does not bind them. */
        if (!c->bl_head || control) {
                if (msgsnd(c->qid, msg, size, IPC_NOWAIT) == 0) {
                        if (nrec)
                                delivered(r, c, nrec);
                        else
                                raise_sem(c);
                        return 0;
                }
                if (errno != EAGAIN && errno != EINTR) {
                        /* Queue gone (client leaving) or a kernel limit. */
                        count_drop(r, c, nrec);
                        return -EAGAIN;
                }
        }
        e = backlog_append(r, c, msg, size, nrec, control);
        if (e < 0) {
                count_drop(r, c, nrec);
                return -EAGAIN;
        }
        pull_marker(c);
        return 0;
}

/* An answer on the client's own reply type, with an optional small body. */
static void send_answer_data(struct router *r, struct client *c, uint16_t kind, uint64_t cookie,
                             int status, const void *data, uint32_t len)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_out) + 128];
        } m = { .mtype = wire_reply_type(cookie) };
        struct wire_out h = {
                .kind = kind,
                .cookie = cookie,
                .status = status,
                .len = len,
        };
        size_t off = 0;

        if (c->removed || len > 128)
                return;
        wire_out_put(m.mtext, sizeof(m.mtext), &off, &h, NULL, NULL, data);
        if (kind == WIRE_OUT_ACK && status == 0 && len == 0) {
                /* When its queue is full of messages it has not read (it is
                 * busy sending), a zero-byte message still fits: it means 0. */
                if (msgsnd(c->qid, &m, off, IPC_NOWAIT) == 0 ||
                    (errno == EAGAIN && msgsnd(c->qid, &m, 0, IPC_NOWAIT) == 0)) {
                        raise_sem(c);
                        return;
                }
        }
        (void)deliver(r, c, &m.mtype, off, 0, true);
}

static void send_answer(struct router *r, struct client *c, uint16_t kind, uint64_t cookie,
                        int status)
{
        send_answer_data(r, c, kind, cookie, status, NULL, 0);
}

/* The outcome of a request: 0 or -errno (or a count). */
static void send_ack(struct router *r, struct client *c, uint64_t cookie, int status)
{
        send_answer(r, c, WIRE_OUT_ACK, cookie, status);
}

/* ipcd's verdict on a call: the callee is missing, full, or gone. */
static void send_verdict(struct router *r, struct client *caller, uint64_t cookie, int status)
{
        send_answer(r, caller, WIRE_OUT_REPLY, cookie, status);
}

/* ------------------------------------------------------------------ */
/* A pass: one blocking msgrcv and what follows it, under the lock.     */

struct batch {
        struct client *dst;
        size_t len;   /* mtext bytes used */
        size_t cap;   /* mtext capacity */
        uint32_t nrec;
        long *msg;    /* msg[0] mtype, then mtext */
};

struct router_pass {
        struct router *r;
        struct uidq *uq;
        struct batch *b;
        size_t nb, cap;
};

struct router_pass *router_pass_new(struct router *r, struct uidq *uq)
{
        struct router_pass *p = calloc(1, sizeof(*p));

        if (!p)
                return NULL;
        p->r = r;
        p->uq = uq;
        return p;
}

void router_pass_free(struct router_pass *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->cap; i++)
                free(p->b[i].msg);
        free(p->b);
        free(p);
}

static int batch_flush(struct router_pass *p, struct batch *b)
{
        int e;

        if (b->nrec == 0 && b->len == 0)
                return 0;
        e = deliver(p->r, b->dst, b->msg, b->len, b->nrec, false);
        b->len = 0;
        b->nrec = 0;
        return e;
}

static struct batch *batch_for(struct router_pass *p, struct client *dst)
{
        for (size_t i = 0; i < p->nb; i++)
                if (p->b[i].dst == dst)
                        return &p->b[i];
        if (p->nb == p->cap) {
                size_t ncap = p->cap ? p->cap * 2 : 16;
                struct batch *nb = realloc(p->b, ncap * sizeof(*nb));

                if (!nb)
                        return NULL;
                memset(nb + p->cap, 0, (ncap - p->cap) * sizeof(*nb));
                p->b = nb;
                p->cap = ncap;
        }
        p->b[p->nb].dst = dst;
        p->b[p->nb].len = 0;
        p->b[p->nb].nrec = 0;
        return &p->b[p->nb++];
}

void router_pass_end(struct router_pass *p)
{
        for (size_t i = 0; i < p->nb; i++)
                batch_flush(p, &p->b[i]);
        p->nb = 0;
}

/*
 * Append a record for dst with mtype type.  A batch closes when the type
 * changes (selective receive still works) or when it is full.  Returns the
 * batch, or NULL when memory ran out (the record is then dropped).
 */
static struct batch *batch_append(struct router_pass *p, struct client *dst, long type,
                                  const struct wire_out *h, const char *name, const char *topic,
                                  const void *payload)
{
        struct router *r = p->r;
        struct batch *b = batch_for(p, dst);
        size_t need = wire_out_size(h->name_len, h->topic_len, h->len);

        if (!b)
                return NULL;
        if (b->nrec && (b->msg[0] != type || b->len + need > dst->qmsg_max))
                batch_flush(p, b);
        if (b->cap < dst->qmsg_max) {
                long *m = realloc(b->msg, sizeof(long) + dst->qmsg_max);

                if (!m)
                        return NULL;
                b->msg = m;
                b->cap = dst->qmsg_max;
        }
        b->msg[0] = type;
        /* Never more than this destination's queue takes in one message. */
        if (wire_out_put((uint8_t *)(b->msg + 1), dst->qmsg_max, &b->len, h, name, topic, payload) < 0)
                return NULL;
        b->nrec++;
        (void)r;
        return b;
}

static void flush_all(struct router_pass *p)
{
        router_pass_end(p);
}

static void bad_record(struct router_pass *p, struct client *c, const char *why)
{
        struct router *r = p->r;

        r->cnt.bad_inbound++;
        if (c) {
                c->garbage++;
                log_ratelimited(&bad_inbound_rl, LOG_NOTICE,
                                "client %llu (uid %u, pid %d): invalid request: %s",
                                (unsigned long long)c->id, (unsigned)c->uid, (int)c->pid, why);
                if (r->lim.garbage_kick && c->garbage > r->lim.garbage_kick) {
                        log_warning("client %llu (uid %u, pid %d) sent %u invalid requests: "
                                    "disconnecting it",
                                    (unsigned long long)c->id, (unsigned)c->uid, (int)c->pid,
                                    c->garbage);
                        flush_all(p);
                        router_client_remove(r, c);
                }
        } else
                log_ratelimited(&bad_inbound_rl, LOG_NOTICE,
                                "inbound queue of uid %u: rejected record: %s",
                                (unsigned)p->uq->uid, why);
}

/* The sender's identity on a delivered record: ipcd's record of the
 * client, never anything the client wrote (the one place it is set). */
static void stamp_sender(struct wire_out *o, const struct client *s)
{
        o->name_len = (uint8_t)strlen(s->name);
        o->sender_id = s->id;
        o->sender_uid = (uint32_t)s->uid;
        o->sender_pid = s->pid;
}

/* ---- bulk ---- */

static void wake_producer(struct ring *rg, uint32_t lane)
{
        struct client *o = rg->lanes[lane].owner;

        /* It may be waiting for room in its lane (a timed wait on Sc). */
        if (o && !o->removed)
                raise_sem(o);
}

static int held_add(struct client *c, const struct held_chunk *h)
{
        if (util_array_reserve(&c->held, &c->held_cap, c->nheld + 1, sizeof(*c->held), 16) < 0)
                return -ENOMEM;
        c->held[c->nheld++] = *h;
        c->held_bytes += h->len;
        return 0;
}

/* Remove c's reference to a chunk; false if it holds none. Releases come
 * mostly oldest first: search from the front, keep the order. */
static bool held_take(struct client *c, uint32_t ring, uint32_t lane, uint64_t pos)
{
        for (size_t i = 0; i < c->nheld; i++)
                if (c->held[i].pos == pos && c->held[i].lane == lane && c->held[i].ring == ring) {
                        c->held_bytes -= c->held[i].len;
                        memmove(&c->held[i], &c->held[i + 1], (c->nheld - i - 1) * sizeof(*c->held));
                        c->nheld--;
                        return true;
                }
        return false;
}

static void chunk_unref(struct router *r, uint32_t ring, uint32_t lane, uint64_t pos)
{
        if (ring < r->nrings && ring_chunk_unref(r->rings[ring], lane, pos))
                wake_producer(r->rings[ring], lane);
}

static void held_drop_all(struct router *r, struct client *c)
{
        for (size_t i = 0; i < c->nheld; i++)
                chunk_unref(r, c->held[i].ring, c->held[i].lane, c->held[i].pos);
        free(c->held);
        c->held = NULL;
        c->nheld = c->held_cap = 0;
        c->held_bytes = 0;
}

/* Check a producer's descriptor and record its chunk with one reference
 * for the routing in progress (dropped by bulk_done()). */
static int bulk_accept(struct router *r, struct client *s, const struct wire_in *h,
                       const void *payload, struct wire_bulk *d)
{
        struct ring *rg;
        int e;

        if (h->len != sizeof(*d))
                return -EINVAL;
        memcpy(d, payload, sizeof(*d));
        if (d->ring >= r->nrings || !(s->ring_access & (1u << d->ring)))
                return -EACCES;
        rg = r->rings[d->ring];
        e = ring_chunk_add(rg, s, d);
        if (e < 0)
                return e;
        ring_chunk_ref(rg, d->lane, d->pos);
        s->bulk_sent += d->len;
        return 0;
}

static void bulk_done(struct router *r, const struct wire_bulk *d)
{
        chunk_unref(r, d->ring, d->lane, d->pos);
}

/*
 * Deliver a chunk to c: a descriptor record through its queue, and a
 * reference that c's release (or death) drops.  A receiver that cannot map
 * the ring, or already holds its share, gets nothing: the drop is counted.
 */
static int bulk_deliver(struct router_pass *p, struct client *c, const struct wire_bulk *d,
                        const struct wire_out *tmpl, const char *name, const char *topic)
{
        struct router *r = p->r;
        struct ring *rg = r->rings[d->ring];
        struct held_chunk hc = { d->ring, d->lane, d->pos, d->len };
        struct wire_bulk_out bo = {
                .shmid = rg->shmid,
                .ring = d->ring,
                .lane = d->lane,
                .offset = rg->data_off + (uint64_t)d->lane * rg->lane_size + d->pos % rg->lane_size,
                .len = d->len,
                .pos = d->pos,
        };
        struct wire_out o = *tmpl;
        struct batch *b;
        int e;

        if (!(c->ring_access & (1u << d->ring))) {
                count_drop(r, c, 1);
                return -EACCES;
        }
        /* Half a lane at most; one chunk of any size when it holds nothing. */
        if ((c->held_bytes &&
             c->held_bytes + d->len > (r->lim.held_bytes ? r->lim.held_bytes : rg->lane_size / 2)) ||
            c->nheld >= r->lim.max_held_chunks) {
                count_drop(r, c, 1);
                return -EAGAIN;
        }
        if (held_add(c, &hc) < 0) {
                count_drop(r, c, 1);
                return -ENOMEM;
        }
        ring_chunk_ref(rg, d->lane, d->pos);
        o.flags |= WIRE_OUT_BULK;
        o.len = sizeof(bo);
        b = batch_append(p, c, o.type, &o, name, topic, &bo);
        e = b ? batch_flush(p, b) : -ENOMEM;
        if (e < 0) {
                if (!b)
                        count_drop(r, c, 1);
                held_take(c, d->ring, d->lane, d->pos);
                chunk_unref(r, d->ring, d->lane, d->pos);
                return e;
        }
        c->bulk_received += d->len;
        return 0;
}

static void handle_release(struct router_pass *p, struct client *s, const struct wire_in *h,
                           const void *payload)
{
        struct wire_release rel;

        if (h->len % sizeof(rel)) {
                bad_record(p, s, "malformed release");
                return;
        }
        for (size_t off = 0; off < h->len; off += sizeof(rel)) {
                memcpy(&rel, (const uint8_t *)payload + off, sizeof(rel));
                /* Only what was delivered to it, once. */
                if (!held_take(s, rel.ring, rel.lane, rel.pos)) {
                        bad_record(p, s, "release of a chunk it does not hold");
                        continue;
                }
                chunk_unref(p->r, rel.ring, rel.lane, rel.pos);
        }
}

static int handle_lane(struct router *r, struct client *s, struct wire_lane_grant *g)
{
        for (unsigned i = 0; i < r->nrings; i++) {
                struct ring *rg = r->rings[i];
                int lane;

                if (!(s->ring_access & (1u << i)))
                        continue;
                if (ring_lanes_of(rg, s->uid) >= r->lim.lanes_per_uid) {
                        r->cnt.limit_hits++;
                        return -EDQUOT;
                }
                lane = ring_lane_acquire(rg, s, s->uid);
                if (lane < 0)
                        return lane;
                *g = (struct wire_lane_grant){
                        .shmid = rg->shmid,
                        .ring = i,
                        .lane = (uint32_t)lane,
                        .nlanes = rg->nlanes,
                        .lane_size = rg->lane_size,
                        .data_off = rg->data_off,
                        .size = rg->size,
                        .free_pos = rg->lanes[lane].free_pos,
                };
                return 0;
        }
        return -EACCES;
}

static void handle_lane_drop(struct router *r, struct client *s, const struct wire_in *h)
{
        uint32_t ring = (uint32_t)(h->arg >> 32), lane = (uint32_t)h->arg;

        if (ring < r->nrings && lane < r->rings[ring]->nlanes &&
            r->rings[ring]->lanes[lane].owner == s)
                ring_lane_disown(r->rings[ring], lane);
}

/* Copies for monitors of a message routed to dst (a name or a topic). */
static void monitor_copy(struct router_pass *p, struct client *s, const struct wire_in *h,
                         const char *dst, bool topic, const void *payload)
{
        struct router *r = p->r;
        char dname[WIRE_NAME_MAX];
        struct wire_out o = {
                .kind = WIRE_OUT_MONITOR,
                .flags = topic ? WIRE_OUT_TOPIC : 0,
                .topic_len = h->dst_len,
                .type = h->type,
                .cookie = h->len,
                .len = MIN(h->len, (uint32_t)WIRE_MONITOR_BYTES),
        };
        stamp_sender(&o, s);

        if (h->flags & WIRE_IN_BULK) {
                /* The payload lies in the ring: report its size only. */
                struct wire_bulk d;

                memcpy(&d, payload, sizeof(d));
                o.flags |= WIRE_OUT_BULK;
                o.cookie = d.len;
                o.len = 0;
        }

        memcpy(dname, dst, h->dst_len);
        dname[h->dst_len] = '\0';
        for (struct client *m = r->clients; m; m = m->next) {
                if (!m->monitor || m == s)
                        continue;
                if (m->monitor_pattern[0] && !topic_pattern_match(m->monitor_pattern, dname))
                        continue;
                /* A monitor that does not keep up loses copies, counted on it. */
                if (!batch_append(p, m, h->type, &o, s->name, dname, payload))
                        count_drop(r, m, 1);
        }
}

static int call_add(struct router *r, struct client *callee, uint64_t caller_id, uint64_t cookie)
{
        if (callee->ncalls >= r->lim.max_calls)
                return -EAGAIN;
        if (util_array_reserve(&callee->calls, &callee->calls_cap, callee->ncalls + 1,
                               sizeof(*callee->calls), 8) < 0)
                return -ENOMEM;
        callee->calls[callee->ncalls++] = (struct pending_call){ caller_id, cookie };
        return 0;
}

static bool call_take(struct client *callee, uint64_t caller_id, uint64_t cookie)
{
        for (uint32_t i = 0; i < callee->ncalls; i++)
                if (callee->calls[i].caller_id == caller_id && callee->calls[i].cookie == cookie) {
                        callee->calls[i] = callee->calls[--callee->ncalls];
                        return true;
                }
        return false;
}

/*
 * The checks a SEND or PUBLISH record passes before it is routed: type,
 * destination name or topic, size, and for bulk the descriptor (which
 * then holds a routing reference: bulk_done()).  0 or the status to
 * answer with; *bulk is false when no reference was taken.
 */
static int message_accept(struct router_pass *p, struct client *s, const struct wire_in *h,
                          const char *dst, const void *payload, struct wire_bulk *d, bool *bulk)
{
        int e;

        if (!wire_type_is_user(h->type)) {
                bad_record(p, s, "message type out of range");
                *bulk = false;
                return -EINVAL;
        }
        if (!name_is_valid_n(dst, h->dst_len)) {
                bad_record(p, s, "invalid destination name or topic");
                *bulk = false;
                return -EINVAL;
        }
        if (h->len > p->r->lim.max_payload) {
                bad_record(p, s, "payload too large");
                *bulk = false;
                return -EMSGSIZE;
        }
        if (*bulk) {
                e = bulk_accept(p->r, s, h, payload, d);
                if (e < 0) {
                        bad_record(p, s, "invalid bulk descriptor");
                        *bulk = false;
                        return e;
                }
        }
        return 0;
}

static void handle_send(struct router_pass *p, struct client *s, const struct wire_in *h,
                        const char *dst_name, const void *payload)
{
        struct router *r = p->r;
        bool request = h->flags & WIRE_IN_REQUEST, bulk = h->flags & WIRE_IN_BULK;
        struct wire_bulk d;
        struct client *dst = NULL;
        struct wire_out o;
        struct batch *b;
        int status = 0;

        status = message_accept(p, s, h, dst_name, payload, &d, &bulk);
        if (status < 0)
                goto answer;
        dst = router_client_by_name(r, dst_name, h->dst_len);
        if (!dst) {
                r->cnt.unroutable++;
                status = -ENOENT;
                goto answer;
        }
        status = policy_check_send(s, dst);
        if (status < 0)
                goto answer;
        if (request && dst->ncalls >= r->lim.max_calls) {
                r->cnt.limit_hits++;
                status = -EAGAIN;
                goto answer;
        }

        s->sent++;
        r->cnt.accepted++;
        o = (struct wire_out){
                .kind = WIRE_OUT_MSG,
                .flags = request ? WIRE_OUT_REQUEST : 0,
                .type = h->type,
                .cookie = h->cookie,
                .len = h->len,
        };
        stamp_sender(&o, s);
        if (r->nmonitors)
                monitor_copy(p, s, h, dst_name, false, payload);
        if (bulk) {
                status = bulk_deliver(p, dst, &d, &o, s->name, NULL);
        } else {
                b = batch_append(p, dst, h->type, &o, s->name, NULL, payload);
                if (!b) {
                        count_drop(r, dst, 1);
                        status = -ENOMEM;
                        goto answer;
                }
                /* The sender waits for the outcome: deliver now, answer with it. */
                if ((h->flags & WIRE_IN_ACK) || request)
                        status = batch_flush(p, b);
        }
        if (request && status == 0) {
                status = call_add(r, dst, s->id, h->cookie);
                if (status == 0)
                        goto out; /* the callee answers */
        }
answer:
        if (request)
                send_verdict(r, s, h->cookie, status);
        else if (h->flags & WIRE_IN_ACK)
                send_ack(r, s, h->cookie, status);
out:
        if (bulk)
                bulk_done(r, &d);
}

static void handle_reply(struct router_pass *p, struct client *s, const struct wire_in *h,
                         const void *payload)
{
        struct router *r = p->r;
        struct client *caller;
        struct wire_out o;
        long *msg;
        size_t off = 0, size;

        if (!wire_type_is_user(h->type) || h->len > r->lim.max_payload) {
                bad_record(p, s, "invalid reply");
                return;
        }
        /* Only the callee of a pending call may answer it, once. */
        if (!call_take(s, h->arg, h->cookie)) {
                bad_record(p, s, "reply to no pending call");
                return;
        }
        caller = router_client_by_id(r, h->arg);
        if (!caller)
                return; /* the caller left; nobody to tell */
        o = (struct wire_out){
                .kind = WIRE_OUT_REPLY,
                .type = h->type,
                .cookie = h->cookie,
                .len = h->len,
        };
        stamp_sender(&o, s);
        size = wire_out_size(o.name_len, 0, o.len);
        msg = malloc(sizeof(long) + size);
        if (!msg) {
                send_verdict(r, caller, h->cookie, -ENOMEM);
                return;
        }
        msg[0] = wire_reply_type(h->cookie);
        wire_out_put((uint8_t *)(msg + 1), size, &off, &o, s->name, NULL, payload);
        s->sent++;
        r->cnt.accepted++;
        /* Replies bypass the backlog limit: one per call, and calls are bounded. */
        if (deliver(r, caller, msg, off, 1, true) < 0)
                send_verdict(r, caller, h->cookie, -EAGAIN);
        free(msg);
}

struct publish_ctx {
        struct router_pass *p;
        struct client *s;
        const struct wire_out *o;
        const char *topic;
        const void *payload;
        const struct wire_bulk *bulk; /* NULL: inline */
};

static void publish_one(struct client *c, void *userdata)
{
        struct publish_ctx *x = userdata;

        if (x->bulk)
                (void)bulk_deliver(x->p, c, x->bulk, x->o, x->s->name, x->topic);
        else if (!batch_append(x->p, c, x->o->type, x->o, x->s->name, x->topic, x->payload))
                count_drop(x->p->r, c, 1);
}

static void handle_publish(struct router_pass *p, struct client *s, const struct wire_in *h,
                           const char *topic_in, const void *payload)
{
        struct router *r = p->r;
        char topic[WIRE_NAME_MAX];
        bool bulk = h->flags & WIRE_IN_BULK;
        struct publish_ctx x;
        struct wire_bulk d;
        struct wire_out o;
        struct topic *t;
        unsigned n;
        int status;

        status = message_accept(p, s, h, topic_in, payload, &d, &bulk);
        if (status < 0)
                goto answer;
        memcpy(topic, topic_in, h->dst_len);
        topic[h->dst_len] = '\0';
        status = policy_check_publish(s, topic);
        if (status < 0) {
                if (bulk)
                        bulk_done(r, &d);
                bulk = false;
                goto answer;
        }
        s->sent++;
        r->cnt.accepted++;
        r->cnt.published++;
        o = (struct wire_out){
                .kind = WIRE_OUT_MSG,
                .topic_len = h->dst_len,
                .type = h->type,
                .len = h->len,
        };
        stamp_sender(&o, s);
        x = (struct publish_ctx){ p, s, &o, topic, payload, bulk ? &d : NULL };
        n = topics_match(&r->topics, topic, h->dst_len, publish_one, &x);
        if (n == 0)
                r->cnt.unheard++;
        t = topics_find(&r->topics, topic, h->dst_len);
        if (t) {
                t->published++;
                t->delivered += n;
                /* History keeps inline messages: a ring chunk is not pinned for
                 * late joiners. */
                if (t->depth && !bulk) {
                        struct hist_entry e = {
                                .type = h->type,
                                .sender_id = s->id,
                                .sender_uid = (uint32_t)s->uid,
                                .sender_pid = s->pid,
                                .name_len = o.name_len,
                                .len = h->len,
                        };

                        memcpy(e.name, s->name, o.name_len);
                        topics_history_add(&r->topics, t, &e, payload, r->lim.history_total,
                                           r->lim.history_total_bytes);
                }
        }
        if (r->nmonitors)
                monitor_copy(p, s, h, topic, true, payload);
        status = (int)MIN(n, (unsigned)INT32_MAX);
answer:
        if (h->flags & WIRE_IN_ACK)
                send_ack(r, s, h->cookie, status);
        if (bulk)
                bulk_done(r, &d);
}

struct replay_ctx {
        struct router_pass *p;
        struct client *c;
};

static void replay_one(struct topic *t, const struct hist_entry *e, void *userdata)
{
        struct replay_ctx *x = userdata;
        struct wire_out o = {
                .kind = WIRE_OUT_MSG,
                .flags = WIRE_OUT_HISTORY,
                .name_len = e->name_len,
                .topic_len = (uint8_t)strlen(t->name),
                .type = e->type,
                .sender_id = e->sender_id,
                .sender_uid = e->sender_uid,
                .sender_pid = e->sender_pid,
                .len = e->len,
        };

        if (!batch_append(x->p, x->c, e->type, &o, e->name, t->name, e->data))
                count_drop(x->p->r, x->c, 1);
}

/* Copy a counted name into a NUL-terminated buffer. */
static void cstr(char out[WIRE_NAME_MAX], const char *in, size_t n)
{
        memcpy(out, in, n);
        out[n] = '\0';
}

static int handle_subscribe(struct router_pass *p, struct client *s, const struct wire_in *h,
                            const char *dst)
{
        struct router *r = p->r;
        char pattern[WIRE_NAME_MAX];
        struct replay_ctx x = { p, s };
        struct sub *sb;
        int e;

        cstr(pattern, dst, h->dst_len);
        if (!topic_pattern_is_valid(pattern))
                return -EINVAL;
        e = policy_check_subscribe(s, pattern);
        if (e < 0)
                return e;
        if (s->nsubs >= r->lim.max_subscriptions) {
                r->cnt.limit_hits++;
                return -EDQUOT;
        }
        e = topics_subscribe(&r->topics, s, pattern, &sb);
        if (e == -EEXIST)
                return 0;
        if (e < 0)
                return e;
        sb->client_next = s->subs;
        s->subs = sb;
        s->nsubs++;
        /* Late joiner: the history of what it now hears, oldest first,
         * ahead of anything published from now on. */
        topics_history_replay(&r->topics, pattern, replay_one, &x);
        return 0;
}

static int handle_unsubscribe(struct router *r, struct client *s, const struct wire_in *h,
                              const char *dst)
{
        char pattern[WIRE_NAME_MAX];

        cstr(pattern, dst, h->dst_len);
        for (struct sub **pp = &s->subs; *pp; pp = &(*pp)->client_next)
                if (strcmp((*pp)->pattern, pattern) == 0) {
                        struct sub *sb = *pp;

                        *pp = sb->client_next;
                        s->nsubs--;
                        topics_unsubscribe(&r->topics, sb);
                        return 0;
                }
        return -ENOENT;
}

static int handle_set_history(struct router *r, const struct wire_in *h, const char *dst)
{
        uint32_t depth;
        int e;

        if (!name_is_valid_n(dst, h->dst_len))
                return -EINVAL;
        depth = (uint32_t)MIN(h->arg, (uint64_t)r->lim.history_per_topic);
        e = topics_set_history(&r->topics, dst, h->dst_len, depth, r->lim.history_total);
        if (e == -EDQUOT)
                r->cnt.limit_hits++;
        return e < 0 ? e : (int)depth;
}

static int handle_monitor(struct router *r, struct client *s, const struct wire_in *h,
                          const char *dst)
{
        char pattern[WIRE_NAME_MAX];
        int e = policy_check_monitor(s);

        if (e < 0)
                return e;
        cstr(pattern, dst, h->dst_len);
        if (pattern[0] && !topic_pattern_is_valid(pattern))
                return -EINVAL;
        if (strcmp(pattern, "*") == 0)
                pattern[0] = '\0';
        memcpy(s->monitor_pattern, pattern, sizeof(pattern));
        if (!s->monitor) {
                s->monitor = true;
                r->nmonitors++;
        }
        return 0;
}

static int handle_set_overflow(struct router *r, struct client *s, const struct wire_in *h,
                               const void *payload)
{
        int policy = (int)(h->arg & 0xff);
        uint64_t bytes = 0;

        if ((policy != WIRE_OVERFLOW_DROP_NEW && policy != WIRE_OVERFLOW_DROP_OLD) ||
            (h->arg & ~(uint64_t)(0xff | WIRE_OVERFLOW_NOTIFY)))
                return -EINVAL;
        if (h->len == sizeof(bytes))
                memcpy(&bytes, payload, sizeof(bytes));
        else if (h->len != 0)
                return -EINVAL;
        s->overflow = policy;
        s->notify_drops = h->arg & WIRE_OVERFLOW_NOTIFY;
        s->backlog_limit = MIN(bytes, r->lim.backlog_bytes);
        (void)r;
        return 0;
}

void router_pass_handle(struct router_pass *p, const void *mtext, size_t n)
{
        struct router *r = p->r;
        size_t off = 0;

        for (;;) {
                struct wire_in h;
                const char *dst;
                const void *payload;
                struct client *s;
                int k = wire_in_next(mtext, n, &off, &h, &dst, &payload);
                int status = 0;

                if (k == 0)
                        return;
                if (k < 0) {
                        bad_record(p, NULL, "malformed record");
                        return;
                }
                s = router_client_by_id(r, h.client_id);
                if (!s && h.op == WIRE_OP_UNREGISTER && h.arg == WIRE_UNREGISTER_DEATH &&
                    h.client_id && h.client_id <= r->next_id)
                        /* Our own death notice for a client that unregistered itself
                         * just before it closed its FIFO. */
                        continue;
                if (!s || s->uq != p->uq || !wire_token_equal(s->token, h.token)) {
                        /* Unknown id, another uid's client, or a forged token. */
                        bad_record(p, NULL, "unknown client or bad token");
                        continue;
                }
                if ((h.flags & ~(WIRE_IN_ACK | WIRE_IN_REQUEST | WIRE_IN_MORE | WIRE_IN_BULK)) ||
                    ((h.flags & WIRE_IN_BULK) && h.op != WIRE_OP_SEND && h.op != WIRE_OP_PUBLISH)) {
                        bad_record(p, s, "unsupported flags");
                        status = -EINVAL;
                        if (h.flags & WIRE_IN_REQUEST)
                                send_verdict(r, s, h.cookie, status);
                        else if (h.flags & WIRE_IN_ACK)
                                send_ack(r, s, h.cookie, status);
                        continue;
                }
                switch (h.op) {
                case WIRE_OP_SEND:
                        handle_send(p, s, &h, dst, payload);
                        continue;
                case WIRE_OP_PUBLISH:
                        handle_publish(p, s, &h, dst, payload);
                        continue;
                case WIRE_OP_REPLY:
                        handle_reply(p, s, &h, payload);
                        continue;
                case WIRE_OP_UNREGISTER:
                        /* Everything it sent before is routed: flush, then remove. */
                        flush_all(p);
                        router_client_remove(r, s);
                        continue;
                case WIRE_OP_PULL:
                        s->pull_marker = false;
                        backlog_drain(r, s);
                        continue;
                case WIRE_OP_RELEASE:
                        handle_release(p, s, &h, payload);
                        continue;
                case WIRE_OP_LANE_DROP:
                        handle_lane_drop(r, s, &h);
                        continue;
                case WIRE_OP_LANE: {
                        struct wire_lane_grant g;

                        status = handle_lane(r, s, &g);
                        if (status == 0)
                                send_answer_data(r, s, WIRE_OUT_ACK, h.cookie, 0, &g, sizeof(g));
                        else
                                send_ack(r, s, h.cookie, status);
                        continue;
                }
                case WIRE_OP_TIMED:
                        s->timed = true;
                        break;
                case WIRE_OP_DOORBELL:
                        s->doorbell = true;
                        break;
                case WIRE_OP_PING:
                        break;
                case WIRE_OP_SUBSCRIBE:
                        status = handle_subscribe(p, s, &h, dst);
                        break;
                case WIRE_OP_UNSUBSCRIBE:
                        status = handle_unsubscribe(r, s, &h, dst);
                        break;
                case WIRE_OP_SET_HISTORY:
                        status = handle_set_history(r, &h, dst);
                        break;
                case WIRE_OP_MONITOR:
                        status = handle_monitor(r, s, &h, dst);
                        break;
                case WIRE_OP_SET_OVERFLOW:
                        status = handle_set_overflow(r, s, &h, payload);
                        break;
                default:
                        bad_record(p, s, "unknown operation");
                        status = -EOPNOTSUPP;
                        break;
                }
                /* Requests that change state are always answered; the others
                 * when the client asked. */
                if (h.op == WIRE_OP_PING || h.op == WIRE_OP_SUBSCRIBE ||
                    h.op == WIRE_OP_UNSUBSCRIBE || h.op == WIRE_OP_SET_HISTORY ||
                    h.op == WIRE_OP_MONITOR || h.op == WIRE_OP_SET_OVERFLOW ||
                    (h.flags & WIRE_IN_ACK)) {
                        /* The answer follows whatever it caused (history) in its queue. */
                        if (h.op == WIRE_OP_SUBSCRIBE)
                                flush_all(p);
                        send_ack(r, s, h.cookie, status);
                }
        }
}

/* ------------------------------------------------------------------ */

void *router_uidq_thread(void *arg)
{
        struct uidq *u = arg;
        struct router *r = u->router;
        size_t cap = MAX(r->mq.msgmax, (size_t)8192);
        struct router_pass *p = router_pass_new(r, u);
        long *buf = malloc(sizeof(long) + cap);
        int qid = -1;

        if (!p || !buf) {
                log_error("data thread for uid %u: out of memory", (unsigned)u->uid);
                goto out;
        }
        pthread_mutex_lock(&r->lock);
        qid = u->qid;
        pthread_mutex_unlock(&r->lock);

        for (;;) {
                ssize_t n = msgrcv(qid, buf, cap, 0, MSG_NOERROR);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EIDRM && errno != EINVAL)
                                log_error_errno(-errno, "msgrcv on inbound queue %d", qid);
                        break;
                }
                atomic_store(&u->pass_start_ms, clock_now_ms());
                atomic_store(&u->busy, true);
                pthread_mutex_lock(&r->lock);
                router_pass_handle(p, buf + 1, (size_t)n);
                for (int i = 0; i < PASS_DRAIN_MAX; i++) {
                        n = msgrcv(qid, buf, cap, 0, IPC_NOWAIT | MSG_NOERROR);
                        if (n < 0)
                                break;
                        router_pass_handle(p, buf + 1, (size_t)n);
                }
                router_pass_end(p);
                /* Retry backlogs this pass may have made room for. */
                router_drain_backlogs(r);
                pthread_mutex_unlock(&r->lock);
                atomic_store(&u->busy, false);
                atomic_fetch_add(&u->passes, 1);
        }
out:
        router_pass_free(p);
        free(buf);
        pthread_mutex_lock(&r->lock);
        if (!u->removed && !r->shutting_down) {
                /* Its queue vanished under it (its uid may remove it): new
                 * clients of that uid get a new one; the present ones are
                 * removed when they go (their death notice finds no queue). */
                log_warning("inbound queue %d of uid %u removed behind ipcd's back", qid,
                            (unsigned)u->uid);
                u->qid = msgq_remove(&r->mq, u->qid);
                u->removed = true;
                uidq_unlink(r, u);
        }
        if (r->wake)
                r->wake(r->wake_userdata);
        pthread_mutex_unlock(&r->lock);
        return NULL;
}
