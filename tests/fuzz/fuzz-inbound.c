/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-inbound - libFuzzer target: what a client writes into its uid's
 * inbound queue, through the router's data path (router_pass_handle:
 * wire_in_next, authentication, flags, and every operation's payload:
 * sends, batches, bulk descriptors against a real ring, releases, lanes,
 * subscriptions, history, calls and replies, monitors, overflow policy,
 * pings, doorbells, unregistration) in a private IPC namespace.
 *
 * Each input runs against three fresh clients of our uid: "a" (privileged,
 * may map the ring), "b" (may map the ring) and an anonymous one.  So that
 * a corpus can speak for them, a record whose client_id is 1, 2 or 3 is
 * rewritten to that client's real id and, if its token is all zero, to its
 * real token (any other id or token stays as written: forgeries).  The
 * first input byte says how many records go into the first queue message
 * (0: all); the rest are a second message, handled after the first was
 * delivered.  Afterwards every client is removed: the router must be as
 * empty as it began (no client, no uid queue, no backlog byte, no ring
 * byte or lane in use), and LeakSanitizer checks the rest.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcd/core/ring.h"
#include "shared/wire.h"
#include "fuzz-common.h"

#define LANE (64 * 1024)

static struct router R;
static uint8_t *msg;

static const struct router_limits lim = {
        .max_clients = 8,
        .max_clients_per_uid = 8,
        .max_payload = 4000,
        .backlog_bytes = 8192,
        .backlog_total_bytes = 1 << 20,
        .registration_rate = 1000,
        .registration_burst = 1000,
        .garbage_kick = 20,
        .max_subscriptions = 16,
        .history_per_topic = 8,
        .history_total = 64,
        .history_per_uid = 32,
        .history_total_bytes = 1 << 16,
        .max_calls = 16,
        .max_held_chunks = 8,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        struct ring *rg;

        (void)argc;
        (void)argv;
        fuzz_private_ipc();
        FUZZ_CHECK(router_init(&R, &lim, -1, getegid()) == 0);
        FUZZ_CHECK(ring_create(&R.mq, 0, "default", 4 * LANE, LANE, getegid(), false, &rg) == 0);
        R.rings[R.nrings++] = rg;
        msg = malloc(WIRE_REC_MAX * 64);
        FUZZ_CHECK(msg);
        return 0;
}

/* Rewrite the ids 1..3 and zero tokens of buf's records (see the top). */
static size_t patch(uint8_t *buf, size_t n, struct client *cl[3], unsigned first, size_t *cut)
{
        static const uint8_t zero[WIRE_TOKEN_SIZE];
        size_t off = 0, prev = 0;
        unsigned k = 0;

        *cut = n;
        for (;;) {
                struct wire_in h;
                const char *dst;
                const void *payload;

                if (wire_in_next(buf, n, &off, &h, &dst, &payload) <= 0)
                        return n;
                if (h.client_id >= 1 && h.client_id <= 3) {
                        struct client *c = cl[h.client_id - 1];
                        struct wire_in *w = (struct wire_in *)(buf + prev);

                        w->client_id = c->id;
                        if (memcmp(w->token, zero, sizeof(zero)) == 0)
                                memcpy(w->token, c->token, sizeof(w->token));
                }
                if (++k == first)
                        *cut = off;
                prev = off;
        }
}

static void pass(struct uidq *uq, const uint8_t *buf, size_t n)
{
        struct router_pass *p = router_pass_new(&R, uq);

        FUZZ_CHECK(p);
        router_lock(&R);
        router_pass_handle(p, buf, n);
        router_pass_end(p);
        router_unlock(&R);
        router_pass_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const names[3] = { "a", "b", "" };
        struct client *cl[3];
        struct uidq *uq;
        size_t n, cut;

        if (size < 1 || size - 1 > WIRE_REC_MAX * 64)
                return 0;
        n = size - 1;
        memcpy(msg, data + 1, n);

        router_lock(&R);
        for (int i = 0; i < 3; i++) {
                FUZZ_CHECK(router_client_add(&R, getuid(), getpid(), names[i], &cl[i]) == 0);
                cl[i]->ring_access = 1;
        }
        cl[0]->privileged = true;
        uq = cl[0]->uq;
        router_unlock(&R);

        patch(msg, n, cl, data[0], &cut);
        pass(uq, msg, cut);
        if (cut < n)
                pass(uq, msg + cut, n - cut);

        router_lock(&R);
        router_drain_backlogs(&R);
        while (R.clients)
                router_client_remove(&R, R.clients);
        router_unlock(&R);
        fuzz_reap(&R);
        FUZZ_CHECK(!R.nclients && !R.uidqs && !R.backlog_total);
        FUZZ_CHECK(R.rings[0]->used == 0 && R.rings[0]->lanes_used == 0);
        return 0;
}
