/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot-read.c - the reader of ipcd's re-exec state (format:
 * snapshot.h).  Every byte is untrusted (it is fuzzed): each length is
 * checked against what is left, each count against a bound, each string
 * against its field, each id against the clients read, each queue,
 * semaphore and segment against the kernel (ours, of the uid said), each
 * descriptor against the process (open, of the right kind, used once).
 * What it does not check: that reference counts add up (a count too high
 * keeps a chunk of a lane until its owner leaves; one too low frees it
 * early, which only the producer's own payload can notice).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcd/core/channel.h"
#include "ipcd/core/clients.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/held.h"
#include "ipcd/core/router.h"
#include "ipcd/core/snapshot-io.h"
#include "ipcd/core/snapshot.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/util.h"

#define SNAP_MAX_COUNT (1U << 24) /* any list */
#define SNAP_MAX_FD (1 << 20)
#define SNAP_MAX_PAYLOAD (1U << 24)

struct snap_in {
        const uint8_t *p;
        size_t len, off;
        bool bad;
        char *why;
        size_t whylen;
        uint32_t version;         /* the header's */
        uint8_t *fds;             /* descriptors claimed so far (bitmap) */
        struct client *tail;      /* the clients, in the order written */
};

static __attribute__((format(printf, 2, 3))) bool fail(struct snap_in *in, const char *fmt, ...)
{
        va_list ap;

        if (in->bad)
                return false;
        in->bad = true;
        va_start(ap, fmt);
        vsnprintf(in->why, in->whylen, fmt, ap);
        va_end(ap);
        return false;
}

static bool get(struct snap_in *in, void *dst, size_t n)
{
        if (in->bad)
                return false;
        if (n > in->len - in->off)
                return fail(in, "truncated at byte %zu", in->off);
        if (n == 0)
                return true;
        memcpy(dst, in->p + in->off, n);
        in->off += n;
        return true;
}

static uint8_t get_u8(struct snap_in *in)
{
        uint8_t v = 0;

        get(in, &v, 1);
        return v;
}

static bool get_bool(struct snap_in *in)
{
        uint8_t v = get_u8(in);

        if (v > 1)
                fail(in, "a flag of value %u at byte %zu", v, in->off - 1);
        return v == 1;
}

static uint32_t get_u32(struct snap_in *in)
{
        uint32_t v = 0;

        get(in, &v, 4);
        return v;
}

static uint64_t get_u64(struct snap_in *in)
{
        uint64_t v = 0;

        get(in, &v, 8);
        return v;
}

/* A string into buf[size]: shorter than size, without NUL bytes. */
static bool get_str(struct snap_in *in, char *buf, size_t size)
{
        uint16_t n = 0;

        buf[0] = '\0';
        if (!get(in, &n, 2))
                return false;
        if (n >= size)
                return fail(in, "a string of %u bytes at byte %zu", n, in->off);
        if (!get(in, buf, n))
                return false;
        buf[n] = '\0';
        if (strlen(buf) != n)
                return fail(in, "a NUL inside a string at byte %zu", in->off);
        return true;
}

/* A count of items of at least min_bytes each, at most max. */
static uint32_t get_count(struct snap_in *in, uint32_t max, size_t min_bytes)
{
        uint32_t n = get_u32(in);

        if (in->bad)
                return 0;
        if (n > max || (size_t)n * min_bytes > in->len - in->off) {
                fail(in, "a count of %u at byte %zu", n, in->off - 4);
                return 0;
        }
        return n;
}

static bool get_tag(struct snap_in *in, uint32_t tag)
{
        uint32_t t = get_u32(in);

        if (!in->bad && t != tag)
                return fail(in, "section %08x expected at byte %zu, found %08x", tag,
                            in->off - 4, t);
        return !in->bad;
}

/* fd: -1 when allowed, else open, of type mode (S_IFMT bits; 0: any),
 * not claimed before. */
static bool check_fd(struct snap_in *in, int fd, mode_t type, bool optional, const char *what)
{
        struct stat st;

        if (fd == -1 && optional)
                return true;
        if (fd < 3 || fd >= SNAP_MAX_FD)
                return fail(in, "%s: descriptor %d", what, fd);
        if (in->fds[fd / 8] & (1u << (fd % 8)))
                return fail(in, "%s: descriptor %d claimed twice", what, fd);
        if (fstat(fd, &st) < 0)
                return fail(in, "%s: descriptor %d: %s", what, fd, strerror(errno));
        if (type && (st.st_mode & S_IFMT) != type)
                return fail(in, "%s: descriptor %d is not of the right kind", what, fd);
        in->fds[fd / 8] |= (uint8_t)(1u << (fd % 8));
        return true;
}

static bool edge_get(struct snap_in *in, struct snapshot_edge *e)
{
        if (!get_tag(in, SNAP_TAG_EDGE))
                return false;
        e->control_fd = (int)get_u32(in);
        e->lock_fd = (int)get_u32(in);
        e->state_fd = (int)get_u32(in);
        e->sentinel_fd = (int)get_u32(in);
        e->holder_fd = (int)get_u32(in);
        e->sentinel_pid = (pid_t)get_u32(in);
        e->holder_pid = (pid_t)get_u32(in);
        e->control_created = get_bool(in);
        e->line_discard = get_bool(in);
        e->line_len = get_u32(in);
        if (in->bad)
                return false;
        if (e->line_len >= sizeof(e->line))
                return fail(in, "a partial control line of %zu bytes", e->line_len);
        get(in, e->line, e->line_len);
        e->rest_len = get_u32(in);
        if (in->bad)
                return false;
        if (e->rest_len > SNAPSHOT_REST_MAX || e->rest_len > in->len - in->off)
                return fail(in, "%zu control bytes left", e->rest_len);
        if (e->rest_len) {
                e->rest = malloc(e->rest_len);
                if (!e->rest)
                        return fail(in, "out of memory");
                get(in, e->rest, e->rest_len);
        }
        if (e->sentinel_pid < 0 || e->holder_pid < 0)
                return fail(in, "a negative pid");
        return check_fd(in, e->control_fd, S_IFIFO, false, "control FIFO") &&
               check_fd(in, e->lock_fd, S_IFREG, false, "lock file") &&
               check_fd(in, e->state_fd, S_IFREG, false, "state file") &&
               check_fd(in, e->sentinel_fd, S_IFIFO, true, "sentinel pipe") &&
               check_fd(in, e->holder_fd, S_IFIFO, true, "ring holder pipe");
}

static bool router_get(struct snap_in *in, struct router *r, struct snapshot_edge *e)
{
        uint64_t gid;
        uint32_t n;

        if (!get_tag(in, SNAP_TAG_RTR))
                return false;
        r->next_id = get_u64(in);
        r->instance = get_u64(in);
        r->start_ms = get_u64(in);
        get(in, &r->cnt, SNAPSHOT_V1_COUNTERS);
        gid = get_u64(in);
        r->reserved_until_ms = get_u64(in);
        n = get_count(in, SNAP_MAX_COUNT, 6);
        if (in->bad)
                return false;
        flow_group_id_set(gid);
        if (n) {
                e->reserved = calloc(n, sizeof(*e->reserved));
                if (!e->reserved)
                        return fail(in, "out of memory");
        }
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                struct ipcstate_name *nm = &e->reserved[e->nreserved++];

                nm->uid = get_u32(in);
                if (get_str(in, nm->name, sizeof(nm->name)) && !name_is_valid(nm->name))
                        return fail(in, "reserved name '%s' is not valid", nm->name);
        }
        r->reserved = e->reserved;
        r->nreserved = e->nreserved;
        if (in->version < 2 || in->bad)
                return !in->bad;
        r->next_channel_id = get_u64(in);
        n = get_count(in, WIRE_WHOIS_GONE, 10);
        r->gone_next = get_u32(in);
        if (!in->bad && r->gone_next >= WIRE_WHOIS_GONE)
                return fail(in, "gone_next %u", r->gone_next);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                r->gone[i].id = get_u64(in);
                get_str(in, r->gone[i].unit, sizeof(r->gone[i].unit));
        }
        return !in->bad;
}

static bool rings_get(struct snap_in *in, struct router *r)
{
        uint32_t n;

        if (!get_tag(in, SNAP_TAG_RING))
                return false;
        n = get_count(in, ROUTER_MAX_RINGS, 26);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                char name[64];
                int shmid, e;
                uint64_t size, lane_size;
                gid_t gid;

                get_str(in, name, sizeof(name));
                shmid = (int)get_u32(in);
                size = get_u64(in);
                lane_size = get_u64(in);
                gid = get_u32(in);
                if (in->bad)
                        return false;
                e = ring_adopt(i, name, shmid, size, lane_size, gid, &r->rings[r->nrings]);
                if (e < 0)
                        return fail(in, "ring %s (segment %d): %s", name, shmid, strerror(-e));
                r->nrings++;
        }
        return !in->bad;
}

/* A queue or semaphore (sem: true) ipcd made for uid. */
static bool ipc_ours(int id, bool sem, uid_t uid)
{
        struct ipc_perm *perm;
        struct msqid_ds mq;
        struct semid_ds sd;

        if (id < 0)
                return false;
        if (sem ? semctl(id, 0, IPC_STAT, &sd) < 0 : msgctl(id, IPC_STAT, &mq) < 0)
                return false;
        perm = sem ? &sd.sem_perm : &mq.msg_perm;
        return perm->cuid == geteuid() && perm->uid == uid && perm->__key == IPC_PRIVATE;
}

static bool uidqs_get(struct snap_in *in, struct router *r)
{
        struct uidq **tail = &r->uidqs;
        uint32_t n;

        if (!get_tag(in, SNAP_TAG_UIDQ))
                return false;
        n = get_count(in, SNAP_MAX_COUNT, 8);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                uid_t uid = get_u32(in);
                int qid = (int)get_u32(in);
                struct uidq *u;

                if (in->bad)
                        return false;
                if (uidq_find(r, uid))
                        return fail(in, "two inbound queues for uid %u", (unsigned)uid);
                if (!ipc_ours(qid, false, uid))
                        return fail(in, "inbound queue %d is not ipcd's for uid %u", qid,
                                    (unsigned)uid);
                u = calloc(1, sizeof(*u));
                if (!u)
                        return fail(in, "out of memory");
                u->router = r;
                u->uid = uid;
                u->qid = qid;
                *tail = u;
                tail = &u->next;
        }
        return !in->bad;
}

static bool client_scalars_get(struct snap_in *in, struct router *r, struct client *c)
{
#define X(f) c->f = (__typeof__(c->f))get_u64(in);
        SNAP_CLIENT_U64(X)
#undef X
#define X(f) c->f = (__typeof__(c->f))get_u32(in);
        SNAP_CLIENT_U32(X)
#undef X
#define X(f) c->f = get_bool(in);
        SNAP_CLIENT_BOOL(X)
#undef X
        for (int i = 0; i < WIRE_DROP_REASONS; i++) {
                c->dropped_by[i] = get_u64(in);
                c->missed_by[i] = get_u64(in);
        }
        get(in, c->token, sizeof(c->token));
        get_str(in, c->name, sizeof(c->name));
        get_str(in, c->monitor_pattern, sizeof(c->monitor_pattern));
        if (in->bad)
                return false;
        if (c->id == 0 || c->id > r->next_id || router_client_by_id(r, c->id))
                return fail(in, "client id %llu", (unsigned long long)c->id);
        if (c->name[0] && (!name_is_valid(c->name) ||
                           router_client_by_name(r, c->name, strlen(c->name))))
                return fail(in, "client %llu: name '%s'", (unsigned long long)c->id, c->name);
        if (c->pid <= 0 || c->qmsg_max > r->mq.msgmax || c->qmsg_max == 0 ||
            (c->overflow != WIRE_OVERFLOW_DROP_NEW && c->overflow != WIRE_OVERFLOW_DROP_OLD) ||
            (r->nrings < 32 && c->ring_access >> r->nrings))
                return fail(in, "client %llu: pid, queue size, overflow or rings",
                            (unsigned long long)c->id);
        if (!ipc_ours(c->qid, false, c->uid) || !ipc_ours(c->semid, true, c->uid))
                return fail(in, "client %llu: queue %d or semaphore %d is not ipcd's",
                            (unsigned long long)c->id, c->qid, c->semid);
        c->uq = uidq_find(r, c->uid);
        if (!c->uq)
                return fail(in, "client %llu: uid %u has no inbound queue",
                            (unsigned long long)c->id, (unsigned)c->uid);
        return check_fd(in, c->fifo_fd, S_IFIFO, false, "reply FIFO") &&
               check_fd(in, c->pidfd, 0, true, "pidfd");
}

/* Into the tables (so that later clients see its id and name). */
static bool client_link(struct snap_in *in, struct router *r, struct client *c)
{
        if (r->nclients + 1 > r->nbuckets && clients_grow(r) < 0)
                return fail(in, "out of memory");
        if (uid_books_join(r, c->uid) < 0 || unit_books_join(r, c) < 0)
                return fail(in, "out of memory");
        c->uq->nclients++;
        c->prev = in->tail;
        if (in->tail)
                in->tail->next = c;
        else
                r->clients = c;
        in->tail = c;
        r->nclients++;
        clients_insert(r, c);
        if (c->monitor)
                r->nmonitors++;
        return true;
}

static bool held_calls_get(struct snap_in *in, struct router *r, struct client *c)
{
        uint32_t n = get_count(in, SNAP_MAX_COUNT, 32);

        for (uint32_t i = 0; i < n && !in->bad; i++) {
                struct held_chunk h;

                h.ring = get_u32(in);
                h.lane = get_u32(in);
                h.pos = get_u64(in);
                h.len = get_u64(in);
                h.sender_id = get_u64(in);
                if (in->bad)
                        return false;
                if (h.ring >= r->nrings || h.lane >= r->rings[h.ring]->nlanes || h.len == 0 ||
                    h.len > r->rings[h.ring]->lane_size)
                        return fail(in, "client %llu: a held chunk out of bounds",
                                    (unsigned long long)c->id);
                if (held_add(c, &h) < 0)
                        return fail(in, "out of memory");
        }
        n = get_count(in, SNAP_MAX_COUNT, 16);
        if (n && util_array_reserve(&c->calls, &c->calls_cap, n, sizeof(*c->calls), 4) < 0)
                return fail(in, "out of memory");
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                c->calls[i].caller_id = get_u64(in);
                c->calls[i].cookie = get_u64(in);
                /* its latency counts from the take-over (not carried) */
                c->calls[i].start_us = clock_now_us();
                c->ncalls++;
        }
        return !in->bad;
}

static bool subs_get(struct snap_in *in, struct router *r, struct client *c)
{
        struct sub **tail = &c->subs;
        uint32_t n = get_count(in, SNAP_MAX_COUNT, 3);

        for (uint32_t i = 0; i < n && !in->bad; i++) {
                char pattern[64];
                bool reliable;
                struct sub *sb;

                get_str(in, pattern, sizeof(pattern));
                reliable = get_bool(in);
                if (in->bad)
                        return false;
                if (!topic_pattern_is_valid(pattern))
                        return fail(in, "client %llu: pattern '%s'", (unsigned long long)c->id,
                                    pattern);
                if (topics_subscribe(&r->topics, c, pattern, &sb) < 0)
                        return fail(in, "client %llu: subscription '%s' twice, or no memory",
                                    (unsigned long long)c->id, pattern);
                sb->reliable = reliable;
                sb->client_next = NULL;
                *tail = sb;
                tail = &sb->client_next;
                c->nsubs++;
                c->nreliable += reliable;
        }
        n = get_count(in, SNAP_MAX_COUNT, 6);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                char topic[64];
                uint32_t depth, eff;

                get_str(in, topic, sizeof(topic));
                depth = get_u32(in);
                if (in->bad)
                        return false;
                if (!name_is_valid(topic) || depth == 0 || depth > SNAP_MAX_COUNT ||
                    topics_set_history(&r->topics, c, topic, strlen(topic), depth, UINT64_MAX,
                                       UINT64_MAX, &eff) < 0)
                        return fail(in, "client %llu: history depth %u of '%s'",
                                    (unsigned long long)c->id, depth, topic);
        }
        return !in->bad;
}

static bool flow_groups_get(struct snap_in *in, struct client *c)
{
        struct flow_topic **tail = &c->flow_topics;
        uint32_t n = get_count(in, SNAP_MAX_COUNT, 30);

        for (uint32_t i = 0; i < n && !in->bad; i++) {
                struct flow_topic *g = calloc(1, sizeof(*g));
                uint32_t m;

                if (!g)
                        return fail(in, "out of memory");
                *tail = g;
                tail = &g->next;
                g->id = get_u64(in);
                get_str(in, g->topic, sizeof(g->topic));
                g->charged = get_u64(in);
                g->credited = get_u64(in);
                m = get_count(in, SNAP_MAX_COUNT, 16);
                if (in->bad)
                        return false;
                if (g->id == 0 || g->id > flow_group_id_last() || g->credited > g->charged ||
                    !name_is_valid(g->topic))
                        return fail(in, "client %llu: a topic flow group",
                                    (unsigned long long)c->id);
                if (m && util_array_reserve(&g->members, &g->cap, m, sizeof(*g->members), 4) < 0)
                        return fail(in, "out of memory");
                for (uint32_t k = 0; k < m && !in->bad; k++) {
                        g->members[k].client_id = get_u64(in);
                        g->members[k].done = get_u64(in);
                        g->nmembers++;
                }
        }
        return !in->bad;
}

static bool backlog_get(struct snap_in *in, struct router *r, struct client *c)
{
        uint32_t n = get_count(in, SNAP_MAX_COUNT, 74);

        for (uint32_t i = 0; i < n && !in->bad; i++) {
                struct backlog_entry h = { 0 }, *e;
                long mtype;

                h.size = get_u32(in);
                h.nrec = get_u32(in);
                h.control = get_bool(in);
                h.has_bulk = get_bool(in);
                h.flow_sender = get_u64(in);
                h.flow_group = get_u64(in);
                h.flow_cost = get_u64(in);
                h.bulk.ring = get_u32(in);
                h.bulk.lane = get_u32(in);
                h.bulk.pos = get_u64(in);
                h.bulk.len = get_u64(in);
                h.bulk.sender_id = get_u64(in);
                mtype = (long)get_u64(in);
                if (in->bad)
                        return false;
                if (h.size > r->mq.msgmax || h.size > SNAP_MAX_PAYLOAD || mtype <= 0 ||
                    h.nrec > h.size ||
                    (h.has_bulk && (h.bulk.ring >= r->nrings ||
                                    h.bulk.lane >= r->rings[h.bulk.ring]->nlanes)))
                        return fail(in, "client %llu: backlog entry %u",
                                    (unsigned long long)c->id, i);
                e = malloc(sizeof(*e) + sizeof(long) + h.size);
                if (!e)
                        return fail(in, "out of memory");
                *e = h;
                e->msg[0] = mtype;
                if (!get(in, &e->msg[1], h.size)) {
                        free(e);
                        return false;
                }
                backlog_restore(r, c, e);
        }
        return !in->bad;
}

/* Version 2: its groups and unit as read at its registration, and its
 * unit's books (client_link joined it in none). */
static bool identity_get(struct snap_in *in, struct router *r, struct client *c)
{
        c->gid = get_u32(in);
        c->ngroups = get_u32(in);
        if (!in->bad && c->ngroups > CLIENT_GROUPS_MAX)
                return fail(in, "client %llu: %u groups", (unsigned long long)c->id, c->ngroups);
        for (uint32_t i = 0; i < c->ngroups && !in->bad; i++)
                c->groups[i] = get_u32(in);
        get_str(in, c->unit, sizeof(c->unit));
        if (in->bad)
                return false;
        if (unit_books_rejoin(r, c) < 0)
                return fail(in, "out of memory");
        return true;
}

static bool clients_get(struct snap_in *in, struct router *r)
{
        uint32_t n;

        if (!get_tag(in, SNAP_TAG_CLNT))
                return false;
        n = get_count(in, SNAP_MAX_COUNT, 200);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                struct client *c = calloc(1, sizeof(*c));

                if (!c)
                        return fail(in, "out of memory");
                c->qid = c->semid = c->fifo_fd = c->pidfd = -1;
                if (!client_scalars_get(in, r, c)) {
                        /* Not in the tables: nothing of it is ours to undo. */
                        held_drop_all(r, c);
                        free(c);
                        return false;
                }
                if (!client_link(in, r, c)) {
                        free(c);
                        return false;
                }
                if (!held_calls_get(in, r, c) || !subs_get(in, r, c) ||
                    !flow_groups_get(in, c) || !backlog_get(in, r, c) ||
                    (in->version >= 2 && !identity_get(in, r, c)))
                        return false;
        }
        return !in->bad;
}

static bool chunks_get(struct snap_in *in, const struct ring *rg, struct ring_lane *l)
{
        uint32_t n = get_count(in, SNAP_MAX_COUNT, 20);

        if (n && util_array_reserve(&l->chunks, &l->cap, n, sizeof(*l->chunks), 16) < 0)
                return fail(in, "out of memory");
        for (uint32_t j = 0; j < n && !in->bad; j++) {
                struct ring_chunk *ch = &l->chunks[j];

                ch->pos = get_u64(in);
                ch->len = get_u64(in);
                ch->refs = get_u32(in);
                if (in->bad)
                        return false;
                l->nchunks++;
                if (ch->len == 0 || ch->len > rg->lane_size || ch->pos < l->free_pos ||
                    ch->pos + ch->len < ch->pos || ch->pos + ch->len > l->free_pos + rg->lane_size ||
                    (j > 0 && l->chunks[j - 1].pos + l->chunks[j - 1].len > ch->pos))
                        return fail(in, "ring %s: a chunk out of order or bounds", rg->name);
        }
        return !in->bad;
}

static bool lanes_get(struct snap_in *in, struct router *r)
{
        if (!get_tag(in, SNAP_TAG_LANE))
                return false;
        for (unsigned i = 0; i < r->nrings && !in->bad; i++) {
                struct ring *rg = r->rings[i];

                if (get_u32(in) != rg->nlanes)
                        return fail(in, "ring %s: lane count", rg->name);
                for (uint32_t k = 0; k < rg->nlanes && !in->bad; k++) {
                        struct ring_lane *l = &rg->lanes[k];
                        uint64_t owner = get_u64(in);

                        l->uid = get_u32(in);
                        l->busy = get_bool(in);
                        l->free_pos = get_u64(in);
                        l->hold = get_u64(in);
                        l->end = get_u64(in);
                        if (in->bad)
                                return false;
                        l->owner = owner ? router_client_by_id(r, owner) : NULL;
                        if ((owner && (!l->owner || !l->busy || l->owner->uid != l->uid)) ||
                            l->hold < l->free_pos || l->end < l->free_pos ||
                            l->end > l->free_pos + rg->lane_size)
                                return fail(in, "ring %s: lane %u", rg->name, k);
                        chunks_get(in, rg, l);
                }
                ring_recount(rg);
        }
        return !in->bad;
}

static bool history_get(struct snap_in *in, struct router *r, struct topic *t)
{
        uint32_t n = get_count(in, SNAP_MAX_COUNT, 30);

        if (n > t->depth)
                return fail(in, "topic %s: %u entries for a depth of %u", t->name, n, t->depth);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                struct hist_entry e = { 0 };
                uint8_t *data;

                e.type = (long)get_u64(in);
                e.sender_id = get_u64(in);
                e.sender_uid = get_u32(in);
                e.sender_pid = (int32_t)get_u32(in);
                get_str(in, e.name, sizeof(e.name));
                e.name_len = (uint8_t)strlen(e.name);
                e.len = get_u32(in);
                if (in->bad)
                        return false;
                if (e.len > SNAP_MAX_PAYLOAD || e.len > in->len - in->off)
                        return fail(in, "topic %s: an entry of %u bytes", t->name, e.len);
                data = malloc(e.len ? e.len : 1);
                if (!data)
                        return fail(in, "out of memory");
                get(in, data, e.len);
                topics_history_add(&r->topics, t, &e, data, UINT64_MAX, UINT64_MAX);
                free(data);
        }
        return !in->bad;
}

static bool topics_get(struct snap_in *in, struct router *r)
{
        uint32_t n;

        if (!get_tag(in, SNAP_TAG_TOPH))
                return false;
        n = get_count(in, SNAP_MAX_COUNT, 22);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                char name[64];
                uint64_t published, delivered;
                struct topic *t;

                get_str(in, name, sizeof(name));
                published = get_u64(in);
                delivered = get_u64(in);
                if (in->bad)
                        return false;
                t = topics_find(&r->topics, name, strlen(name));
                if (!t)
                        return fail(in, "topic %s: neither subscribed nor with history", name);
                t->published = published;
                t->delivered = delivered;
                history_get(in, r, t);
        }
        return !in->bad;
}

static bool flow_get(struct snap_in *in, struct router *r)
{
        uint32_t n;

        if (!get_tag(in, SNAP_TAG_FLOW))
                return false;
        n = get_count(in, SNAP_MAX_COUNT, 49);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                struct flow_pair v = { 0 };
                uint64_t dst = get_u64(in), snd = get_u64(in);
                struct client *d, *s;
                int e;

                v.outstanding = get_u64(in);
                v.due = get_u64(in);
                v.bulk_out = get_u64(in);
                v.bulk_due = get_u64(in);
                v.maybe_blocked = get_bool(in);
                if (in->bad)
                        return false;
                d = router_client_by_id(r, dst);
                s = router_client_by_id(r, snd);
                if (!d || !s)
                        return fail(in, "a flow pair of unknown clients");
                e = flow_pair_restore(r, d, s, &v);
                if (e < 0)
                        return fail(in, "flow pair %llu -> %llu: %s", (unsigned long long)snd,
                                    (unsigned long long)dst, strerror(-e));
        }
        return !in->bad;
}

/* Every member of a topic flow group is a client read. */
static bool groups_check(struct snap_in *in, struct router *r)
{
        for (struct client *c = r->clients; c; c = c->next)
                for (struct flow_topic *g = c->flow_topics; g; g = g->next)
                        for (size_t i = 0; i < g->nmembers; i++)
                                if (!router_client_by_id(r, g->members[i].client_id))
                                        return fail(in, "topic flow group %llu: member %llu",
                                                    (unsigned long long)g->id,
                                                    (unsigned long long)g->members[i].client_id);
        return true;
}

/* Version 2: the direct channels.  What contradicts the rest of the
 * state refuses it; a segment that does not match (its ends may have gone
 * during the re-exec) only drops its channel. */
static bool channels_get(struct snap_in *in, struct router *r)
{
        uint32_t n;

        if (in->version < 2)
                return true;
        if (!get_tag(in, SNAP_TAG_CHAN))
                return false;
        n = get_count(in, SNAP_MAX_COUNT, 41);
        for (uint32_t i = 0; i < n && !in->bad; i++) {
                struct channel ch = { 0 };
                uint64_t opener, acceptor;
                uint8_t phase;
                char why[128] = "";
                int e;

                ch.id = get_u64(in);
                ch.shmid = (int)get_u32(in);
                ch.dir_bytes = get_u64(in);
                phase = get_u8(in);
                opener = get_u64(in);
                acceptor = get_u64(in);
                ch.charged_uid = get_u32(in);
                if (in->bad)
                        return false;
                ch.phase = (enum channel_phase)phase;
                ch.opener = router_client_by_id(r, opener);
                ch.acceptor = router_client_by_id(r, acceptor);
                if (ch.id == 0 || ch.id > r->next_channel_id || phase > CHANNEL_OPEN ||
                    !ch.opener || !ch.acceptor || ch.opener == ch.acceptor ||
                    ch.charged_uid != ch.opener->uid || ch.shmid < 0 ||
                    ch.dir_bytes < 4096 || ch.dir_bytes > (1ULL << 30) ||
                    (ch.dir_bytes & (ch.dir_bytes - 1)))
                        return fail(in, "channel %llu", (unsigned long long)ch.id);
                for (const struct channel *o = r->channels; o; o = o->next)
                        if (o->id == ch.id || o->shmid == ch.shmid)
                                return fail(in, "channel %llu twice", (unsigned long long)ch.id);
                e = channel_adopt(r, &ch, why, sizeof(why));
                if (e == -ENOMEM)
                        return fail(in, "out of memory");
                if (e < 0)
                        log_warning("re-exec: channel %llu (segment %d, clients %llu and "
                                    "%llu) dropped: %s",
                                    (unsigned long long)ch.id, ch.shmid,
                                    (unsigned long long)opener, (unsigned long long)acceptor,
                                    why);
        }
        return !in->bad;
}

static bool header_get(struct snap_in *in)
{
        struct snap_header h;

        if (!get(in, &h, sizeof(h)))
                return false;
        if (memcmp(h.magic, SNAPSHOT_MAGIC, sizeof(h.magic)) != 0)
                return fail(in, "not an ipcd state (magic)");
        if (h.version < 1 || h.version > SNAPSHOT_VERSION)
                return fail(in, "state version %u; this ipcd reads 1 to %u", h.version,
                            SNAPSHOT_VERSION);
        in->version = h.version;
        if (h.flags != 0)
                return fail(in, "unknown flags %#x", h.flags);
        if (h.body_len != in->len - in->off)
                return fail(in, "body of %llu bytes, %zu present", (unsigned long long)h.body_len,
                            in->len - in->off);
        if (snap_fnv64(in->p + in->off, in->len - in->off) != h.checksum)
                return fail(in, "checksum mismatch");
        return true;
}

int snapshot_read(struct router *r, struct snapshot_edge *edge, const uint8_t *buf, size_t len,
                  char *why, size_t whylen)
{
        struct snap_in in = { .p = buf, .len = len, .why = why, .whylen = whylen };
        bool ok;

        memset(edge, 0, sizeof(*edge));
        edge->control_fd = edge->lock_fd = edge->state_fd = -1;
        edge->sentinel_fd = edge->holder_fd = -1;
        if (whylen)
                why[0] = '\0';
        if (len > SNAPSHOT_MAX_BYTES)
                return fail(&in, "%zu bytes is too large", len), -EBADMSG;
        in.fds = calloc(SNAP_MAX_FD / 8, 1);
        if (!in.fds)
                return -ENOMEM;
        ok = header_get(&in) && edge_get(&in, edge) && router_get(&in, r, edge) &&
             rings_get(&in, r) && uidqs_get(&in, r) && clients_get(&in, r) &&
             lanes_get(&in, r) && topics_get(&in, r) && flow_get(&in, r) &&
             groups_check(&in, r) && channels_get(&in, r) && get_tag(&in, SNAP_TAG_END);
        if (ok && in.off != in.len)
                ok = fail(&in, "%zu bytes after the end", in.len - in.off);
        free(in.fds);
        edge->version = in.version;
        return ok ? 0 : -EBADMSG;
}

void snapshot_discard(struct router *r)
{
        r->mq.state_fd = -1; /* records nothing */
        channel_detach_all(r, false);
        for (struct client *c = r->clients; c; c = c->next) {
                c->qid = c->semid = -1;
                c->fifo_fd = c->pidfd = -1;
        }
        for (struct uidq *u = r->uidqs; u; u = u->next)
                u->qid = -1;
        r->wake = NULL;
        router_done(r);
}
