/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-snapshot.c - the re-exec state (snapshot.h): a router with clients,
 * names, subscriptions, history, a backlog, held chunks, a pending call, a
 * flow pair and a lane written and read back into another router, which
 * writes the same number of bytes; every truncation and every flipped
 * byte refused without a crash (and with a recomputed checksum, read or
 * refused, never a crash or a leak); the version 1 fixture
 * tests/reexec-v1.state and the version 2 one tests/reexec-v2.state still
 * read (snapshot.h: how a newer reader must keep reading them); `test-snapshot
 * --write-fixture FILE` wrote the latter (an older build the former).
 * Version 2: a direct channel, clients' groups and units (their unit's
 * books and backlog) come back; a channel whose segment does not match
 * (another owner) is dropped, closed and removed, one whose segment is
 * gone is dropped, and neither refuses the state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "ipcd/core/clients.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/held.h"
#include "ipcd/core/router.h"
#include "ipcd/core/snapshot-io.h"
#include "ipcd/core/snapshot.h"
#include "shared/chanfmt.h"
#include "shared/util.h"

#define TEST_CHECK_EXITS
#include "shared/test-util.h"

static struct router_limits lim = {
        .max_clients = 16, .max_clients_per_uid = 16, .max_payload = 4000,
        .backlog_bytes = 1 << 16, .backlog_total_bytes = 1 << 20,
        .registration_rate = 1000, .registration_burst = 1000, .garbage_kick = 5,
        .max_subscriptions = 16, .history_per_topic = 8, .history_total = 64,
        .history_per_uid = 64, .history_total_bytes = 1 << 20, .max_calls = 8,
};

/* The descriptors of the fixture: fixed numbers. */
#define FX_CONTROL 100
#define FX_LOCK 101
#define FX_STATE 102

static void fixture_fds(void)
{
        int p[2];
        FILE *f = tmpfile(), *g = tmpfile();

        CHECK(pipe(p) == 0 && f && g);
        CHECK(dup2(p[0], FX_CONTROL) == FX_CONTROL);
        CHECK(dup2(fileno(f), FX_LOCK) == FX_LOCK);
        CHECK(dup2(fileno(g), FX_STATE) == FX_STATE);
        close(p[0]);
        close(p[1]);
        fclose(f);
        fclose(g);
}

static struct ipcstate_name fx_names[2] = { { 1000, "printer" }, { 1001, "scanner/0" } };

static void fixture_edge(struct snapshot_edge *e)
{
        *e = (struct snapshot_edge){ .control_fd = FX_CONTROL, .lock_fd = FX_LOCK,
                                     .state_fd = FX_STATE, .sentinel_fd = -1, .holder_fd = -1,
                                     .sentinel_pid = 4242, .control_created = true,
                                     .line = "REGIS", .line_len = 5,
                                     .rest = (uint8_t *)"\nSTATUS\n", .rest_len = 8 };
}

static void fixture_router(struct router *r)
{
        CHECK(router_init(r, &lim, -1, getegid()) == 0);
        r->next_id = 77;
        r->instance = 0x1122334455667788ULL;
        r->start_ms = 1234;
        r->cnt.accepted = 42;
        r->cnt.routed = 41;
        r->cnt.dropped_by[WIRE_DROP_GONE] = 1;
        r->reserved = fx_names;
        r->nreserved = 2;
        r->reserved_until_ms = 99999;
        /* version 2 */
        r->next_channel_id = 5;
        r->gone[3].id = 12;
        snprintf(r->gone[3].unit, sizeof(r->gone[3].unit), "printer.service");
        r->gone_next = 4;
}

static int write_fixture(const char *path)
{
        struct router r;
        struct snapshot_edge e;
        uint8_t *buf;
        size_t len;
        FILE *f;

        fixture_fds();
        fixture_router(&r);
        fixture_edge(&e);
        CHECK(snapshot_write(&r, &e, &buf, &len) == 0);
        f = fopen(path, "we");
        CHECK(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
        free(buf);
        router_done(&r);
        return 0;
}

/* Versions 1 and 2 as written then: every later reader reads them. */
static void read_fixture(unsigned version)
{
        const char *src = getenv("top_srcdir");
        char path[4096];
        static uint8_t buf[1 << 16];
        struct snapshot_edge e;
        struct router r;
        char why[256];
        size_t len;
        FILE *f;

        snprintf(path, sizeof(path), "%s/tests/reexec-v%u.state", src ? src : ".", version);
        f = fopen(path, "re");
        CHECK(f);
        len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        fixture_fds();
        CHECK(router_init(&r, &lim, -1, getegid()) == 0);
        CHECK(snapshot_read(&r, &e, buf, len, why, sizeof(why)) == 0);
        CHECK(e.control_fd == FX_CONTROL && e.lock_fd == FX_LOCK && e.state_fd == FX_STATE);
        CHECK(e.sentinel_fd == -1 && e.sentinel_pid == 4242 && e.control_created);
        CHECK(e.line_len == 5 && memcmp(e.line, "REGIS", 5) == 0);
        CHECK(e.rest_len == 8 && memcmp(e.rest, "\nSTATUS\n", 8) == 0);
        CHECK(r.next_id == 77 && r.instance == 0x1122334455667788ULL && r.start_ms == 1234);
        CHECK(r.cnt.accepted == 42 && r.cnt.routed == 41);
        CHECK(r.cnt.dropped_by[WIRE_DROP_GONE] == 1);
        CHECK(e.nreserved == 2 && r.reserved_until_ms == 99999);
        CHECK(strcmp(e.reserved[1].name, "scanner/0") == 0 && e.reserved[1].uid == 1001);
        CHECK(e.version == version);
        if (version >= 2) {
                CHECK(r.next_channel_id == 5 && r.gone_next == 4 && r.gone[3].id == 12);
                CHECK(strcmp(r.gone[3].unit, "printer.service") == 0);
        } else
                CHECK(r.next_channel_id == 0 && r.gone_next == 0 && r.gone[3].id == 0);
        free(e.reserved);
        free(e.rest);
        snapshot_discard(&r);
        for (int fd = FX_CONTROL; fd <= FX_STATE; fd++)
                close(fd);
}

/* A channel as channel.c makes it: a segment of ipcd's, 0600, owned by
 * owner (the uid the phase gave it to), group ipcd's, its header naming
 * it, marked for removal when open. */
static struct channel *channel_make(struct router *r, struct client *o, struct client *a,
                                    enum channel_phase phase, uid_t owner)
{
        struct channel *ch = calloc(1, sizeof(*ch));
        struct chan_shm_hdr *h;
        struct shmid_ds ds;

        CHECK(ch);
        ch->dir_bytes = 4096;
        ch->shmid = shmget(IPC_PRIVATE, chan_seg_size(ch->dir_bytes), IPC_CREAT | 0600);
        CHECK(ch->shmid >= 0);
        ch->base = shmat(ch->shmid, NULL, 0);
        CHECK(ch->base != (void *)-1);
        CHECK(shmctl(ch->shmid, IPC_STAT, &ds) == 0);
        ds.shm_perm.uid = owner;
        ds.shm_perm.gid = r->mq.gid;
        ds.shm_perm.mode = 0600;
        CHECK(shmctl(ch->shmid, IPC_SET, &ds) == 0);
        if (phase == CHANNEL_OPEN)
                CHECK(shmctl(ch->shmid, IPC_RMID, NULL) == 0);
        ch->id = ++r->next_channel_id;
        ch->phase = phase;
        ch->opener = o;
        ch->acceptor = a;
        ch->charged_uid = o->uid;
        h = ch->base;
        *h = (struct chan_shm_hdr){ .magic = CHAN_MAGIC, .version = CHAN_VERSION,
                                    .dir_bytes = ch->dir_bytes, .id = ch->id };
        ch->next = r->channels;
        r->channels = ch;
        r->nchannels++;
        return ch;
}

static struct client *add(struct router *r, const char *name, int *fifo)
{
        struct client *c;
        int p[2];

        CHECK(router_client_add(r, getuid(), getpid(), name, &c) == 0);
        CHECK(pipe(p) == 0);
        c->fifo_fd = p[0];
        *fifo = p[1];
        return c;
}

static void populate(struct router *r, struct client *a, struct client *b)
{
        struct sub *sb;
        struct backlog_entry *e = calloc(1, sizeof(*e) + sizeof(long) + 16);
        struct hist_entry h = { .type = 3, .sender_id = b->id, .len = 4 };
        struct flow_pair v = { .outstanding = 100, .due = 50 };
        struct held_chunk hc = { .ring = 0, .lane = 0, .pos = 0, .len = 4096 };
        struct wire_bulk d = { .lane = 0, .pos = 0, .len = 4096, .hold = 0 };
        uint32_t eff;

        CHECK(topics_subscribe(&r->topics, a, "news/*", &sb) == 0);
        sb->reliable = true;
        a->subs = sb;
        a->nsubs = a->nreliable = 1;
        CHECK(topics_set_history(&r->topics, b, "news/x", 6, 3, 64, 64, &eff) == 0);
        topics_history_add(&r->topics, topics_find(&r->topics, "news/x", 6), &h, "abcd", 64, 1 << 20);
        topics_history_add(&r->topics, topics_find(&r->topics, "news/x", 6), &h, "efgh", 64, 1 << 20);
        e->size = 16;
        e->nrec = 1;
        e->msg[0] = 7;
        memcpy(&e->msg[1], "0123456789abcdef", 16);
        backlog_restore(r, a, e);
        CHECK(flow_pair_restore(r, a, b, &v) == 0);
        CHECK(ring_lane_acquire(r->rings[0], b, b->uid) == 0);
        CHECK(ring_chunk_add(r->rings[0], b, &d) == 0);
        CHECK(ring_chunk_ref(r->rings[0], 0, 0) == 0);
        CHECK(held_add(a, &hc) == 0);
        CHECK(util_array_reserve(&a->calls, &a->calls_cap, 1, sizeof(*a->calls), 4) == 0);
        a->calls[a->ncalls++] = (struct pending_call){ .caller_id = b->id, .cookie = 9 };
        r->cnt.accepted = 5;
        /* version 2 */
        snprintf(a->unit, sizeof(a->unit), "alice.service");
        CHECK(unit_books_rejoin(r, a) == 0 && a->ub && a->ub->bl_bytes == 16);
        a->gid = 7;
        a->ngroups = 2;
        a->groups[0] = 5;
        a->groups[1] = 6;
        channel_make(r, a, b, CHANNEL_OPEN, b->uid);
        r->gone[0].id = 99;
        snprintf(r->gone[0].unit, sizeof(r->gone[0].unit), "gone.service");
        r->gone_next = 1;
}

static void check_copy(struct router *r2, const struct client *a)
{
        struct client *x = router_client_by_name(r2, "alice", 5);
        struct topic *t = topics_find(&r2->topics, "news/x", 6);

        CHECK(r2->nclients == 3 && x && x->id == a->id);
        CHECK(memcmp(x->token, a->token, sizeof(x->token)) == 0 && x->qid == a->qid);
        CHECK(x->nsubs == 1 && x->nreliable == 1 && x->subs->reliable);
        CHECK(x->bl_records == 1 && x->bl_bytes == 16 && r2->nbacklogged == 1);
        CHECK(x->nheld == 1 && x->held_bytes == 4096 && x->ncalls == 1);
        CHECK(t && t->depth == 3 && t->hlen == 2);
        CHECK(r2->flow_npairs == 1 && x->flow_in && x->flow_in->outstanding == 100);
        CHECK(r2->nrings == 1 && r2->rings[0]->lanes[0].owner ==
                                         router_client_by_name(r2, "bob", 3));
        CHECK(r2->rings[0]->lanes[0].nchunks == 1 && r2->rings[0]->used == 4096);
        CHECK(r2->cnt.accepted == 5 && r2->uidqs && !r2->uidqs->next);
        /* version 2 */
        CHECK(strcmp(x->unit, "alice.service") == 0 && x->ub && x->ub->nclients == 1);
        CHECK(x->ub->bl_bytes == 16 && r2->units == x->ub && !r2->units->next);
        CHECK(x->gid == 7 && x->ngroups == 2 && x->groups[0] == 5 && x->groups[1] == 6);
        CHECK(r2->nchannels == 1 && r2->channels && !r2->channels->next);
        CHECK(r2->channels->id == 1 && r2->next_channel_id == 1);
        CHECK(r2->channels->opener == x && r2->channels->phase == CHANNEL_OPEN);
        CHECK(r2->channels->acceptor == router_client_by_name(r2, "bob", 3));
        CHECK(((struct chan_shm_hdr *)r2->channels->base)->id == 1);
        CHECK(r2->gone[0].id == 99 && strcmp(r2->gone[0].unit, "gone.service") == 0);
        CHECK(r2->gone_next == 1);
}

/* A channel whose segment has another owner than its phase says is
 * dropped (told closed, removed); one whose segment is gone is dropped;
 * the state still reads. */
static void channels_dropped(struct router *r, struct client *a, struct client *b,
                             struct snapshot_edge *e)
{
        struct channel *bad = channel_make(r, a, b, CHANNEL_GRANTED, 4242);
        struct channel *gone = channel_make(r, b, a, CHANNEL_OFFERED, a->uid);
        struct snapshot_edge e2;
        struct shmid_ds ds;
        struct router r2;
        uint8_t *buf;
        size_t len;
        char why[256];

        CHECK(snapshot_write(r, e, &buf, &len) == 0);
        /* gone: its ends left, the segment went */
        r->channels = gone->next;
        r->nchannels--;
        CHECK(shmdt(gone->base) == 0 && shmctl(gone->shmid, IPC_RMID, NULL) == 0);
        free(gone);
        CHECK(router_init(&r2, &lim, -1, getegid()) == 0);
        CHECK(snapshot_read(&r2, &e2, buf, len, why, sizeof(why)) == 0);
        CHECK(r2.nchannels == 1 && r2.channels->id == 1);
        CHECK(((struct chan_shm_hdr *)bad->base)->state == CHAN_STATE_CLOSED);
        CHECK(shmctl(bad->shmid, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST));
        free(e2.reserved);
        free(e2.rest);
        snapshot_discard(&r2);
        free(buf);
}

/* buf, cut or changed: refused (or, with a good checksum, maybe read);
 * never a crash or a leak. */
static void read_damaged(const uint8_t *buf, size_t len, bool fix_sum)
{
        struct snapshot_edge e;
        struct router r;
        char why[256];
        int ret;

        CHECK(router_init(&r, &lim, -1, getegid()) == 0);
        if (fix_sum && len >= sizeof(struct snap_header)) {
                struct snap_header h;

                memcpy(&h, buf, sizeof(h));
                h.checksum = snap_fnv64(buf + sizeof(h), len - sizeof(h));
                memcpy((void *)buf, &h, sizeof(h));
        }
        ret = snapshot_read(&r, &e, buf, len, why, sizeof(why));
        if (!fix_sum)
                CHECK(ret == -EBADMSG && why[0]);
        free(e.reserved);
        free(e.rest);
        snapshot_discard(&r);
}

static void damage(const uint8_t *buf, size_t len)
{
        uint8_t *copy = malloc(len);
        size_t step = len / 300 + 1;

        CHECK(copy);
        for (size_t n = 0; n < len; n += step) {
                memcpy(copy, buf, n);
                read_damaged(copy, n, false);
        }
        for (size_t i = 0; i < len; i += step) {
                memcpy(copy, buf, len);
                copy[i] ^= 0x5a;
                read_damaged(copy, len, false);
                if (i >= sizeof(struct snap_header)) {
                        memcpy(copy, buf, len);
                        copy[i] ^= 0x5a;
                        read_damaged(copy, len, true);
                }
        }
        free(copy);
}

int main(int argc, char **argv)
{
        struct router r, r2;
        struct snapshot_edge e, e2;
        struct client *a, *b, *c;
        struct ring *rg;
        int wa, wb, wc;
        uint8_t *buf, *buf2;
        size_t len, len2;
        char why[256];

        if (argc == 3 && strcmp(argv[1], "--write-fixture") == 0)
                return write_fixture(argv[2]);
        test_unshare_ipc(argv);
        read_fixture(1);
        read_fixture(2);

        CHECK(router_init(&r, &lim, -1, getegid()) == 0);
        CHECK(ring_create(&r.mq, 0, "default", 1 << 20, 1 << 18, getegid(), false, &rg) == 0);
        r.rings[r.nrings++] = rg;
        a = add(&r, "alice", &wa);
        b = add(&r, "bob", &wb);
        c = add(&r, "", &wc);
        populate(&r, a, b);
        CHECK(router_pause_threads(&r) == 0);
        fixture_fds();
        fixture_edge(&e);
        CHECK(snapshot_write(&r, &e, &buf, &len) == 0);

        CHECK(router_init(&r2, &lim, -1, getegid()) == 0);
        CHECK(snapshot_read(&r2, &e2, buf, len, why, sizeof(why)) == 0);
        check_copy(&r2, a);
        CHECK(snapshot_write(&r2, &e, &buf2, &len2) == 0);
        CHECK(len2 == len);
        free(buf2);
        free(e2.reserved);
        free(e2.rest);
        snapshot_discard(&r2);

        damage(buf, len);
        free(buf);
        channels_dropped(&r, a, b, &e);
        (void)c;
        router_done(&r);
        close(wa);
        close(wb);
        close(wc);
        return test_result("test-snapshot");
}
