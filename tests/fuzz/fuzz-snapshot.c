/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-snapshot - libFuzzer target: the re-exec state reader
 * (core/snapshot-read.c), fed as the new image feeds it (reexec.c
 * reexec_adopt): a router_init'ed router with the config's limits, then
 * snapshot_read() of the bytes, and on failure what reexec_adopt frees
 * (the edge's reserved names and control bytes, snapshot_discard()).
 *
 * The objects and descriptors a state names must exist for a state to
 * be read, so LLVMFuzzerInitialize builds, in the private IPC namespace,
 * the router a state of the corpus describes: a ring with a busy lane
 * and a chunk, three clients of our uid ("alice" holding the chunk, with
 * a subscription, a backlog entry, a pending call, a topic flow group;
 * "bob" with a history topic of two entries, a pidfd; an anonymous
 * monitor), a flow pair, reserved names, a direct channel from alice to
 * bob (open: its segment marked for removal, kept by our mapping), alice's
 * unit and groups (state version 2); and the edge's descriptors at
 * fixed numbers (100 control FIFO, 101 lock file, 102 state file, 103
 * sentinel pipe; reply FIFOs 104-106, pidfd 107).  In a fresh IPC
 * namespace the kernel gives the objects the same ids every time, so a
 * state written by one run reads in the next:
 *
 *   IPCD_FUZZ_WRITE_SEED=FILE unshare --ipc --map-root-user \
 *       env IPCD_FUZZ_UNSHARED=1 tests/fuzz/fuzz-snapshot
 *
 * wrote corpus/fuzz-snapshot/v2-clients.state (v1-clients.state is the
 * same router as version 1 wrote it, before the channel; v1-fixture.state
 * and v2-fixture.state, copies of tests/reexec-v1.state and
 * tests/reexec-v2.state, are seeds without a client).  Initialization
 * also checks that this state reads back.
 *
 * A mutated byte almost never keeps the header's checksum right, so each
 * input is read twice: as it is (the checksum must refuse anything that
 * does not match), and with the header's body length and checksum
 * recomputed, which is what reaches the sections.  A state that reads
 * must be written again (snapshot_write) into one that reads too and is
 * written back byte for byte; and whatever happened, nothing leaks (LeakSanitizer) and
 * no object of the namespace is removed (the next input needs them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcd/core/clients.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/flow.h"
#include "ipcd/core/held.h"
#include "ipcd/core/ring.h"
#include "ipcd/core/snapshot-io.h"
#include "ipcd/core/snapshot.h"
#include "shared/chanfmt.h"
#include "shared/util.h"
#include "fuzz-common.h"

#define LANE (64 * 1024)
#define FD_CONTROL 100
#define FD_LOCK 101
#define FD_STATE 102
#define FD_SENTINEL 103
#define FD_FIFO 104 /* 104..106 */
#define FD_PIDFD 107

static const struct router_limits lim = {
        .max_clients = 16, .max_clients_per_uid = 16, .max_payload = 4000,
        .backlog_bytes = 1 << 16, .backlog_total_bytes = 1 << 20,
        .registration_rate = 1000, .registration_burst = 1000, .garbage_kick = 5,
        .max_subscriptions = 16, .history_per_topic = 8, .history_total = 64,
        .history_per_uid = 64, .history_total_bytes = 1 << 20, .max_calls = 8,
        .max_held_chunks = 16,
};

/* The router the seed describes: it owns the objects for the whole run. */
static struct router S;
static struct snapshot_edge S_edge;
static struct ipcstate_name S_names[2] = { { 1000, "printer" }, { 1001, "scanner/0" } };
static uint8_t *copy;
static size_t copy_cap;

static void fd_at(int fd, int want)
{
        FUZZ_CHECK(fd >= 0);
        if (fd != want) {
                FUZZ_CHECK(dup2(fd, want) == want);
                close(fd);
        }
}

static void edge_fds(void)
{
        int p[2], q[2];
        FILE *f = tmpfile(), *g = tmpfile();

        FUZZ_CHECK(pipe(p) == 0 && pipe(q) == 0 && f && g);
        fd_at(p[0], FD_CONTROL);
        close(p[1]);
        fd_at(dup(fileno(f)), FD_LOCK);
        fd_at(dup(fileno(g)), FD_STATE);
        fclose(f);
        fclose(g);
        fd_at(q[0], FD_SENTINEL);
        close(q[1]);
}

static struct client *add(const char *name, int i)
{
        struct client *c;
        int p[2];

        FUZZ_CHECK(router_client_add(&S, getuid(), getpid(), name, &c) == 0);
        FUZZ_CHECK(pipe(p) == 0);
        fd_at(p[0], FD_FIFO + i);
        close(p[1]);
        c->fifo_fd = FD_FIFO + i;
        c->ring_access = 1;
        return c;
}

/* A channel as channel.c leaves it once both ends attached. */
static void channel_build(struct client *o, struct client *a)
{
        struct channel *ch = calloc(1, sizeof(*ch));
        struct chan_shm_hdr *h;
        struct shmid_ds ds;

        FUZZ_CHECK(ch);
        ch->dir_bytes = 4096;
        ch->shmid = shmget(IPC_PRIVATE, chan_seg_size(ch->dir_bytes), IPC_CREAT | 0600);
        FUZZ_CHECK(ch->shmid >= 0);
        ch->base = shmat(ch->shmid, NULL, 0);
        FUZZ_CHECK(ch->base != (void *)-1 && shmctl(ch->shmid, IPC_STAT, &ds) == 0);
        ds.shm_perm.uid = a->uid;
        ds.shm_perm.gid = S.mq.gid;
        ds.shm_perm.mode = 0600;
        FUZZ_CHECK(shmctl(ch->shmid, IPC_SET, &ds) == 0 && shmctl(ch->shmid, IPC_RMID, NULL) == 0);
        ch->id = ++S.next_channel_id;
        ch->phase = CHANNEL_OPEN;
        ch->opener = o;
        ch->acceptor = a;
        ch->charged_uid = o->uid;
        h = ch->base;
        *h = (struct chan_shm_hdr){ .magic = CHAN_MAGIC, .version = CHAN_VERSION,
                                    .dir_bytes = ch->dir_bytes, .id = ch->id };
        S.channels = ch;
        S.nchannels = 1;
}

static void source_build(void)
{
        struct ring *rg;
        struct client *a, *b, *m;
        struct sub *sb;
        struct backlog_entry *e = calloc(1, sizeof(*e) + sizeof(long) + 16);
        struct hist_entry h = { .type = 3, .len = 4 };
        struct flow_pair v = { .outstanding = 100, .due = 50, .bulk_out = 4096 };
        struct held_chunk hc = { .ring = 0, .lane = 0, .pos = 0, .len = 4096 };
        struct wire_bulk d = { .lane = 0, .pos = 0, .len = 4096, .hold = 0 };
        struct flow_topic *g = calloc(1, sizeof(*g));
        uint32_t eff;
        int pidfd;

        FUZZ_CHECK(e && g);
        edge_fds();
        FUZZ_CHECK(router_init(&S, &lim, -1, getegid()) == 0);
        FUZZ_CHECK(ring_create(&S.mq, 0, "default", 4 * LANE, LANE, getegid(), false, &rg) == 0);
        S.rings[S.nrings++] = rg;
        a = add("alice", 0);
        b = add("bob", 1);
        m = add("", 2);
        a->privileged = true;
        m->monitor = true;
        S.nmonitors = 1;
        snprintf(m->monitor_pattern, sizeof(m->monitor_pattern), "news/*");
        pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        fd_at(pidfd, FD_PIDFD);
        b->pidfd = FD_PIDFD;

        FUZZ_CHECK(topics_subscribe(&S.topics, a, "news/*", &sb) == 0);
        sb->reliable = true;
        a->subs = sb;
        a->nsubs = a->nreliable = 1;
        h.sender_id = b->id;
        FUZZ_CHECK(topics_set_history(&S.topics, b, "news/x", 6, 3, 64, 64, &eff) == 0);
        topics_history_add(&S.topics, topics_find(&S.topics, "news/x", 6), &h, "abcd", 64,
                           1 << 20);
        topics_history_add(&S.topics, topics_find(&S.topics, "news/x", 6), &h, "efgh", 64,
                           1 << 20);
        e->size = 16;
        e->nrec = 1;
        e->msg[0] = 7;
        memcpy(&e->msg[1], "0123456789abcdef", 16);
        backlog_restore(&S, a, e);
        FUZZ_CHECK(flow_pair_restore(&S, a, b, &v) == 0);
        FUZZ_CHECK(ring_lane_acquire(S.rings[0], b, b->uid) == 0);
        FUZZ_CHECK(ring_chunk_add(S.rings[0], b, &d) == 0);
        FUZZ_CHECK(ring_chunk_ref(S.rings[0], 0, 0) == 0);
        hc.sender_id = b->id;
        FUZZ_CHECK(held_add(a, &hc) == 0);
        FUZZ_CHECK(util_array_reserve(&a->calls, &a->calls_cap, 1, sizeof(*a->calls), 4) == 0);
        a->calls[a->ncalls++] = (struct pending_call){ .caller_id = b->id, .cookie = 9 };
        flow_group_id_set(4);
        g->id = 3;
        snprintf(g->topic, sizeof(g->topic), "news/x");
        g->charged = 300;
        g->credited = 100;
        FUZZ_CHECK(util_array_reserve(&g->members, &g->cap, 1, sizeof(*g->members), 4) == 0);
        g->members[g->nmembers++] = (struct flow_member){ .client_id = a->id, .done = 100 };
        b->flow_topics = g;
        S.reserved = S_names;
        S.nreserved = 2;
        S.reserved_until_ms = 99999;
        S.cnt.accepted = 5;
        /* version 2 */
        snprintf(a->unit, sizeof(a->unit), "alice.service");
        FUZZ_CHECK(unit_books_rejoin(&S, a) == 0);
        a->gid = 7;
        a->ngroups = 1;
        a->groups[0] = 5;
        S.gone[0].id = 42;
        snprintf(S.gone[0].unit, sizeof(S.gone[0].unit), "gone.service");
        S.gone_next = 1;
        channel_build(a, b);

        S_edge = (struct snapshot_edge){ .control_fd = FD_CONTROL, .lock_fd = FD_LOCK,
                                         .state_fd = FD_STATE, .sentinel_fd = FD_SENTINEL,
                                         .holder_fd = -1, .sentinel_pid = getpid(),
                                         .control_created = true, .line = "REGIS",
                                         .line_len = 5, .rest = (uint8_t *)"\nSTATUS\n",
                                         .rest_len = 8 };
}

/* reexec_adopt's reading: 0 (the state is in r, e) or -EBADMSG / -ENOMEM
 * with a reason (and nothing left in r, e). */
static int adopt(struct router *r, struct snapshot_edge *e, const uint8_t *buf, size_t len)
{
        char why[256] = "";
        int ret;

        FUZZ_CHECK(router_init(r, &(struct router_limits){ 0 }, -1, getegid()) == 0);
        router_set_limits(r, &lim);
        ret = snapshot_read(r, e, buf, len, why, sizeof(why));
        FUZZ_CHECK(ret == 0 || ret == -EBADMSG || ret == -ENOMEM);
        if (ret < 0) {
                /* A refusal says why. */
                FUZZ_CHECK(ret == -ENOMEM || why[0]);
                free(e->reserved);
                free(e->rest);
                snapshot_discard(r);
        }
        return ret;
}

static void drop(struct router *r, struct snapshot_edge *e)
{
        free(e->reserved);
        free(e->rest);
        snapshot_discard(r);
}

/* A state that was read is written again (w1), which must read too; and
 * that state written once more must be w1 byte for byte (what the reader
 * accepts need not be in the writer's own order, e.g. topics, but one
 * pass makes it so).  On a mismatch, IPCD_FUZZ_DUMP=FILE keeps w2. */
static void rewrite(struct router *r, struct snapshot_edge *e)
{
        struct router r2;
        struct snapshot_edge e2;
        uint8_t *w1, *w2;
        size_t n1, n2;

        FUZZ_CHECK(snapshot_write(r, e, &w1, &n1) == 0);
        FUZZ_CHECK(adopt(&r2, &e2, w1, n1) == 0);
        FUZZ_CHECK(r2.nclients == r->nclients && r2.nrings == r->nrings);
        FUZZ_CHECK(snapshot_write(&r2, &e2, &w2, &n2) == 0);
        if (n2 != n1 || memcmp(w1, w2, n1) != 0) {
                size_t i = 0;

                while (i < n1 && i < n2 && w1[i] == w2[i])
                        i++;
                fprintf(stderr, "rewrite: %zu bytes, then %zu, first difference at byte %zu\n",
                        n1, n2, i);
                if (getenv("IPCD_FUZZ_DUMP")) {
                        FILE *f = fopen(getenv("IPCD_FUZZ_DUMP"), "we");

                        if (f) {
                                fwrite(w2, 1, n2, f);
                                fclose(f);
                        }
                }
                abort();
        }
        drop(&r2, &e2);
        free(w1);
        free(w2);
}

static void one(const uint8_t *buf, size_t len)
{
        struct router r;
        struct snapshot_edge e;

        if (adopt(&r, &e, buf, len) < 0)
                return;
        rewrite(&r, &e);
        drop(&r, &e);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *seed = getenv("IPCD_FUZZ_WRITE_SEED");
        uint8_t *buf;
        size_t len;

        (void)argc;
        (void)argv;
        fuzz_private_ipc();
        source_build();
        FUZZ_CHECK(snapshot_write(&S, &S_edge, &buf, &len) == 0);
        if (seed) {
                FILE *f = fopen(seed, "we");

                FUZZ_CHECK(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
                exit(0);
        }
        /* The seed's state reads here (else the corpus is stale: the
         * objects are not where it says). */
        {
                struct router r;
                struct snapshot_edge e;

                FUZZ_CHECK(adopt(&r, &e, buf, len) == 0);
                FUZZ_CHECK(r.nclients == 3 && r.nrings == 1 && e.nreserved == 2 &&
                           r.nchannels == 1);
                drop(&r, &e);
        }
        free(buf);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct snap_header h;

        one(data, size);
        if (size < sizeof(h))
                return 0;
        /* The same bytes with the header's length and checksum made right. */
        if (size > copy_cap) {
                free(copy);
                copy = malloc(size);
                FUZZ_CHECK(copy);
                copy_cap = size;
        }
        memcpy(copy, data, size);
        memcpy(&h, copy, sizeof(h));
        h.body_len = size - sizeof(h);
        h.checksum = snap_fnv64(copy + sizeof(h), size - sizeof(h));
        memcpy(copy, &h, sizeof(h));
        one(copy, size);
        return 0;
}
