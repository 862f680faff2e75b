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

#include "ipcd/router.h"
#include "shared/log.h"
#include "shared/names.h"
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
        r->start_ms = util_now_ms();
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
                r->nbacklogged--;
        r->backlog_total -= c->bl_bytes;
        c->bl_head = c->bl_tail = NULL;
        c->bl_bytes = c->bl_records = 0;
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
        pthread_mutex_destroy(&r->lock);
}

/* ------------------------------------------------------------------ */
/* Registration and removal.                                            */

static bool rate_take(struct router *r, uid_t uid)
{
        uint64_t now = util_now_ms();
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

static void uidq_release(struct router *r, struct uidq *u)
{
        struct uidq **pp;

        if (--u->nclients > 0)
                return;
        /* The data thread sees EIDRM and exits; the event thread joins it. */
        u->qid = msgq_remove(&r->mq, u->qid);
        u->removed = true;
        for (pp = &r->uidqs; *pp; pp = &(*pp)->next)
                if (*pp == u) {
                        *pp = u->next;
                        break;
                }
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
        if (!rate_take(r, uid)) {
                r->cnt.limit_hits++;
                return -EAGAIN;
        }
        if (r->nclients >= r->lim.max_clients || uid_clients(r, uid) >= r->lim.max_clients_per_uid) {
                r->cnt.limit_hits++;
                return -EDQUOT;
        }
        if (name[0] && router_client_by_name(r, name, strlen(name)))
                return -EADDRINUSE;
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
        c->connected_ms = util_now_ms();

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
        struct wire_in h = { .client_id = c->id, .op = WIRE_OP_UNREGISTER };
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

static void raise_sem(struct client *c)
{
        struct sembuf op = { .sem_num = 0, .sem_op = 1, .sem_flg = IPC_NOWAIT };

        /* ERANGE (the count is at SEMVMX) only means wake-ups are pending. */
        if (c->timed)
                (void)semop(c->semid, &op, 1);
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
                        /* The queue is gone: the client is being removed. */
                        return false;
                }
                c->bl_head = e->next;
                if (!c->bl_head) {
                        c->bl_tail = NULL;
                        r->nbacklogged--;
                }
                c->bl_bytes -= e->size;
                c->bl_records -= e->nrec;
                r->backlog_total -= e->size;
                if (e->nrec)
                        delivered(r, c, e->nrec);
                else
                        raise_sem(c);
                free(e);
        }
        return true;
}

unsigned router_drain_backlogs(struct router *r)
{
        unsigned left = 0;

        if (r->nbacklogged == 0)
                return 0;
        for (struct client *c = r->clients; c; c = c->next)
                if (c->bl_head && !backlog_drain(r, c))
                        left++;
        return left;
}

static int backlog_append(struct router *r, struct client *c, const long *msg, size_t size,
                          uint32_t nrec, bool control)
{
        struct backlog_entry *e;

        if (!control && (c->bl_bytes + size > r->lim.backlog_bytes ||
                         r->backlog_total + size > r->lim.backlog_total_bytes))
                return -EAGAIN;
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
                /* Tell the event thread: it retries backlogs on a timer. */
                if (r->nbacklogged++ == 0 && r->wake)
                        r->wake(r->wake_userdata);
        }
        c->bl_tail = e;
        c->bl_bytes += size;
        c->bl_records += nrec;
        r->backlog_total += size;
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
                        c->dropped += nrec;
                        r->cnt.dropped += nrec;
                        return -EAGAIN;
                }
        }
        e = backlog_append(r, c, msg, size, nrec, control);
        if (e < 0) {
                c->dropped += nrec;
                r->cnt.dropped += nrec;
                return -EAGAIN;
        }
        pull_marker(c);
        return 0;
}

/* An answer on the sender's own reply type: ACK outcome. */
static void send_ack(struct router *r, struct client *c, uint64_t cookie, int status)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_out)];
        } m = { .mtype = wire_reply_type(cookie) };
        struct wire_out h = {
                .kind = WIRE_OUT_ACK,
                .cookie = cookie,
                .status = status,
                .sender_pid = 0,
        };
        size_t off = 0;

        if (c->removed)
                return;
        wire_out_put(m.mtext, sizeof(m.mtext), &off, &h, NULL, NULL, NULL);
        (void)deliver(r, c, &m.mtype, off, 0, true);
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
                                  const struct wire_out *h, const char *name, const void *payload)
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
        if (wire_out_put((uint8_t *)(b->msg + 1), b->cap, &b->len, h, name, NULL, payload) < 0)
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

static void handle_send(struct router_pass *p, struct client *s, const struct wire_in *h,
                        const char *dst_name, const void *payload)
{
        struct router *r = p->r;
        struct client *d;
        struct wire_out o;
        struct batch *b;
        int status = 0;

        if (!wire_type_is_user(h->type)) {
                bad_record(p, s, "message type out of range");
                status = -EINVAL;
                goto ack;
        }
        if (!name_is_valid_n(dst_name, h->dst_len)) {
                bad_record(p, s, "invalid destination name");
                status = -EINVAL;
                goto ack;
        }
        if (h->len > r->lim.max_payload) {
                bad_record(p, s, "payload too large");
                status = -EMSGSIZE;
                goto ack;
        }
        d = router_client_by_name(r, dst_name, h->dst_len);
        if (!d) {
                r->cnt.unroutable++;
                status = -ENOENT;
                goto ack;
        }

        s->sent++;
        r->cnt.accepted++;
        o = (struct wire_out){
                .kind = WIRE_OUT_MSG,
                .flags = (h->flags & WIRE_IN_REQUEST) ? WIRE_OUT_REQUEST : 0,
                .name_len = (uint8_t)strlen(s->name),
                .type = h->type,
                .sender_id = s->id,
                .sender_uid = (uint32_t)s->uid,
                .sender_pid = s->pid,
                .cookie = h->cookie,
                .len = h->len,
        };
        b = batch_append(p, d, h->type, &o, s->name, payload);
        if (!b) {
                d->dropped++;
                r->cnt.dropped++;
                status = -ENOMEM;
                goto ack;
        }
        /* The sender waits for the outcome: deliver now, answer with it. */
        if (h->flags & WIRE_IN_ACK)
                status = batch_flush(p, b);
ack:
        if (h->flags & WIRE_IN_ACK)
                send_ack(r, s, h->cookie, status);
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

                if (k == 0)
                        return;
                if (k < 0) {
                        bad_record(p, NULL, "malformed record");
                        return;
                }
                s = router_client_by_id(r, h.client_id);
                if (!s || s->uq != p->uq || !wire_token_equal(s->token, h.token)) {
                        /* Unknown id, another uid's client, or a forged token. */
                        bad_record(p, NULL, "unknown client or bad token");
                        continue;
                }
                switch (h.op) {
                case WIRE_OP_SEND:
                        handle_send(p, s, &h, dst, payload);
                        break;
                case WIRE_OP_UNREGISTER:
                        /* Everything it sent before is routed: flush, then remove. */
                        flush_all(p);
                        router_client_remove(r, s);
                        break;
                case WIRE_OP_PULL:
                        s->pull_marker = false;
                        backlog_drain(r, s);
                        break;
                case WIRE_OP_TIMED:
                        s->timed = true;
                        break;
                case WIRE_OP_PING:
                        send_ack(r, s, h.cookie, 0);
                        break;
                default:
                        bad_record(p, s, "unknown operation");
                        if (h.flags & WIRE_IN_ACK)
                                send_ack(r, s, h.cookie, -EOPNOTSUPP);
                        break;
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
        int qid;

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
                atomic_store(&u->pass_start_ms, util_now_ms());
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
        if (r->wake)
                r->wake(r->wake_userdata);
        pthread_mutex_unlock(&r->lock);
        return NULL;
}
