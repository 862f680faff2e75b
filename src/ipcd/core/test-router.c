/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-router.c - the routing table and the data path without a daemon:
 * registration limits, names, authentication, batching, selective types,
 * backlog and drop accounting, ACK outcomes.  Runs in a private IPC
 * namespace when it can (re-exec under unshare), so nothing it creates is
 * visible to anyone else.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include "ipcd/core/bulk.h"
#include "ipcd/core/clients.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/router.h"
#include "shared/names.h"
#include "shared/wire.h"

/* Later checks build on earlier ones: the first failure ends the test. */
#define TEST_CHECK_EXITS
#include "shared/test-util.h"

static struct router_limits lim = {
        .max_clients = 8,
        .max_clients_per_uid = 6,
        .max_payload = 4000,
        .backlog_bytes = 2048,
        .backlog_total_bytes = 1 << 20,
        .queue_bytes = 0,
        .inbound_queue_bytes = 0,
        .registration_rate = 1000,
        .registration_burst = 1000,
        .garbage_kick = 5,
};

static size_t put_send(uint8_t *buf, size_t cap, size_t off, struct client *s, const char *dst,
                       long type, const char *text, uint16_t flags, uint64_t cookie)
{
        struct wire_in h = {
                .client_id = s->id,
                .op = WIRE_OP_SEND,
                .flags = flags,
                .dst_len = (uint8_t)strlen(dst),
                .type = type,
                .cookie = cookie,
                .len = (uint32_t)strlen(text),
        };

        memcpy(h.token, s->token, sizeof(h.token));
        CHECK(wire_in_put(buf, cap, &off, &h, dst, text) == 0);
        return off;
}

/* Receive one queue message of type t from c's queue; returns records. */
static int recv_records(struct client *c, long t, struct wire_out *out, char texts[][64], int max)
{
        struct {
                long mtype;
                uint8_t mtext[16384];
        } m;
        ssize_t n = msgrcv(c->qid, &m, sizeof(m.mtext), t, IPC_NOWAIT);
        size_t off = 0;
        int k = 0;

        if (n < 0)
                return -errno;
        for (;;) {
                const char *name, *topic;
                const void *payload;
                int r = wire_out_next(m.mtext, (size_t)n, &off, &out[k], &name, &topic, &payload);

                CHECK(r >= 0);
                if (r == 0)
                        break;
                CHECK(k < max);
                CHECK(out[k].len < 64);
                memcpy(texts[k], payload, out[k].len);
                texts[k][out[k].len] = '\0';
                k++;
        }
        return k;
}

static void run(struct router *r, struct uidq *uq, const void *buf, size_t n)
{
        struct router_pass *p = router_pass_new(r, uq);

        CHECK(p);
        pthread_mutex_lock(&r->lock);
        router_pass_handle(p, buf, n);
        router_pass_end(p);
        pthread_mutex_unlock(&r->lock);
        router_pass_free(p);
}

/* Run one record of operation op from c; the number of answers on the
 * reply type of cookie (at most one is right), *status the first one's. */
static int answers_to(struct router *r, struct client *c, uint16_t op, uint16_t flags,
                      uint64_t arg, const char *dst, uint64_t cookie, int *status);

static int answers_to(struct router *r, struct client *c, uint16_t op, uint16_t flags,
                      uint64_t arg, const char *dst, uint64_t cookie, int *status)
{
        struct wire_in h = { .client_id = c->id, .op = op, .flags = flags, .arg = arg,
                             .dst_len = (uint8_t)strlen(dst), .cookie = cookie };
        struct wire_out out[4];
        char texts[4][64];
        uint8_t buf[256];
        size_t off = 0;
        int n = 0;

        memcpy(h.token, c->token, sizeof(h.token));
        CHECK(wire_in_put(buf, sizeof(buf), &off, &h, dst, NULL) == 0);
        run(r, c->uq, buf, off);
        while (recv_records(c, wire_reply_type(cookie), out, texts, 4) == 1) {
                CHECK(out[0].kind == WIRE_OUT_ACK && out[0].cookie == cookie);
                if (n++ == 0)
                        *status = out[0].status;
        }
        return n;
}

int main(int argc, char **argv)
{
        struct router r;
        struct client *a, *b, *anon, *x;
        struct wire_out out[64];
        char texts[64][64];
        uint8_t buf[8192];
        size_t off;
        int k;

        test_unshare_ipc(argv);
        (void)argc;

        CHECK(router_init(&r, &lim, -1, getegid()) == 0);
        pthread_mutex_lock(&r.lock);
        CHECK(router_client_add(&r, getuid(), getpid(), "alice", &a) == 0);
        CHECK(router_client_add(&r, getuid(), getpid(), "bob", &b) == 0);
        CHECK(router_errno(router_client_add(&r, getuid(), getpid(), "alice", &x)) == -EADDRINUSE);
        CHECK(router_errno(router_client_add(&r, getuid(), getpid(), "bad name", &x)) == -EINVAL);
        CHECK(router_client_add(&r, getuid(), getpid(), "", &anon) == 0);
        CHECK(a->id != b->id && b->id != anon->id);
        CHECK(router_client_by_id(&r, b->id) == b);
        CHECK(router_client_by_name(&r, "bob", 3) == b);
        CHECK(router_client_by_name(&r, "bo", 2) == NULL);
        CHECK(a->uq == b->uq && a->uq->nclients == 3);
        /* Per-uid limit: 6 per uid. */
        CHECK(router_client_add(&r, getuid(), getpid(), "c4", &x) == 0);
        CHECK(router_client_add(&r, getuid(), getpid(), "c5", &x) == 0);
        CHECK(router_client_add(&r, getuid(), getpid(), "c6", &x) == 0);
        CHECK(router_errno(router_client_add(&r, getuid(), getpid(), "c7", &x)) == -EDQUOT);
        router_client_remove(&r, x);
        CHECK(router_client_by_name(&r, "c6", 2) == NULL);
        CHECK(router_client_add(&r, getuid(), getpid(), "c6", &x) == 0);
        pthread_mutex_unlock(&r.lock);

        /* Three messages a -> b of two types in one inbound message: two
         * batches (the type changes), order kept within each. */
        off = put_send(buf, sizeof(buf), 0, a, "bob", 5, "one", 0, 0);
        off = put_send(buf, sizeof(buf), off, a, "bob", 5, "two", 0, 0);
        off = put_send(buf, sizeof(buf), off, a, "bob", 7, "three", 0, 0);
        off = put_send(buf, sizeof(buf), off, anon, "bob", 5, "four", 0, 0);
        run(&r, a->uq, buf, off);
        k = recv_records(b, 7, out, texts, 64);
        CHECK(k == 1 && strcmp(texts[0], "three") == 0 && out[0].type == 7);
        k = recv_records(b, 5, out, texts, 64);
        CHECK(k == 2 && strcmp(texts[0], "one") == 0 && strcmp(texts[1], "two") == 0);
        CHECK(out[0].sender_id == a->id && out[0].sender_uid == getuid() &&
              out[0].sender_pid == getpid() && out[0].name_len == 5);
        k = recv_records(b, 5, out, texts, 64);
        CHECK(k == 1 && strcmp(texts[0], "four") == 0 && out[0].name_len == 0);
        CHECK(b->received == 4 && a->sent == 3 && anon->sent == 1);

        /* ACK outcomes: delivered, no such name, bad type. */
        off = put_send(buf, sizeof(buf), 0, a, "bob", 9, "acked", WIRE_IN_ACK, 41);
        off = put_send(buf, sizeof(buf), off, a, "nobody", 9, "lost", WIRE_IN_ACK, 42);
        off = put_send(buf, sizeof(buf), off, a, "bob", 0, "zero", WIRE_IN_ACK, 43);
        run(&r, a->uq, buf, off);
        CHECK(recv_records(a, wire_reply_type(41), out, texts, 64) == 1);
        CHECK(out[0].kind == WIRE_OUT_ACK && out[0].status == 0 && out[0].cookie == 41);
        CHECK(recv_records(a, wire_reply_type(42), out, texts, 64) == 1 && out[0].status == -ENOENT);
        CHECK(recv_records(a, wire_reply_type(43), out, texts, 64) == 1 && out[0].status == -EINVAL);
        CHECK(recv_records(b, 9, out, texts, 64) == 1 && strcmp(texts[0], "acked") == 0);
        CHECK(a->unroutable == 1 && r.cnt.unroutable == 1);

        /* Unroutable sends without an ACK: the sender learns nothing, the
         * books count them on the sender and in total; a routable send and
         * another client's count are untouched. */
        {
                struct router_status st;
                uint64_t drop0 = r.cnt.dropped;

                off = 0;
                for (int i = 0; i < 5; i++)
                        off = put_send(buf, sizeof(buf), off, anon, "nobody", 9, "lost", 0, 0);
                off = put_send(buf, sizeof(buf), off, anon, "bob", 9, "found", 0, 0);
                run(&r, a->uq, buf, off);
                CHECK(recv_records(anon, 0, out, texts, 64) == -ENOMSG);
                CHECK(recv_records(b, 9, out, texts, 64) == 1 && strcmp(texts[0], "found") == 0);
                CHECK(anon->unroutable == 5 && a->unroutable == 1 && b->unroutable == 0);
                CHECK(r.cnt.unroutable == 6 && r.cnt.dropped == drop0);
                pthread_mutex_lock(&r.lock);
                CHECK(router_status_collect(&r, &st) == 0);
                pthread_mutex_unlock(&r.lock);
                CHECK(st.set.daemon.unroutable == 6);
                for (size_t i = 0; i < st.set.nclients; i++)
                        if (st.set.clients[i].id == anon->id)
                                CHECK(st.set.clients[i].unroutable == 5);
                        else if (st.set.clients[i].id == a->id)
                                CHECK(st.set.clients[i].unroutable == 1);
                        else
                                CHECK(st.set.clients[i].unroutable == 0);
                router_status_free(&st);
        }

        /* A forged token and an unknown id are rejected and counted. */
        {
                uint64_t bad = r.cnt.bad_inbound;
                uint8_t saved = a->token[3];

                a->token[3] ^= 0x55;
                off = put_send(buf, sizeof(buf), 0, a, "bob", 1, "forged", 0, 0);
                a->token[3] = saved;
                run(&r, a->uq, buf, off);
                CHECK(r.cnt.bad_inbound == bad + 1);
                CHECK(recv_records(b, 0, out, texts, 64) == -ENOMSG);
                /* Truncated garbage. */
                memset(buf, 0xff, 40);
                run(&r, a->uq, buf, 40);
                CHECK(r.cnt.bad_inbound == bad + 2);
        }

        /* Nothing lost silently: b does not read; send until drops happen.
         * accepted == delivered + queued in ipcd + dropped. */
        {
                uint64_t sent0 = a->sent, recv0 = b->received, drop0 = b->dropped;
                int acked_drop = 0;

                /* b chose to drop (ipcd_set_overflow): its backlog is capped,
                 * not only its senders' windows. */
                b->drop_chosen = true;

                for (int i = 0; i < 400; i++) {
                        char t[32];

                        snprintf(t, sizeof(t), "m%d", i);
                        off = put_send(buf, sizeof(buf), 0, a, "bob", 3, t, WIRE_IN_ACK, 1000 + i);
                        run(&r, a->uq, buf, off);
                        k = recv_records(a, wire_reply_type(1000 + i), out, texts, 64);
                        CHECK(k == 1);
                        if (out[0].status == -EAGAIN)
                                acked_drop++;
                        else
                                CHECK(out[0].status == 0);
                }
                CHECK(acked_drop > 0);
                CHECK(b->dropped - drop0 == (uint64_t)acked_drop);
                CHECK(a->sent - sent0 == 400);
                CHECK((b->received - recv0) + b->bl_records + (b->dropped - drop0) == 400);
                CHECK(b->bl_bytes <= lim.backlog_bytes);

                /* The receiver drains its queue: the backlog follows, in order. */
                int next = 0;
                for (;;) {
                        k = recv_records(b, 3, out, texts, 64);
                        if (k == -ENOMSG) {
                                pthread_mutex_lock(&r.lock);
                                unsigned left = router_drain_backlogs(&r);
                                pthread_mutex_unlock(&r.lock);
                                k = recv_records(b, 3, out, texts, 64);
                                if (k == -ENOMSG && left == 0)
                                        break;
                        }
                        CHECK(k > 0);
                        for (int i = 0; i < k; i++) {
                                int v = atoi(texts[i] + 1);

                                CHECK(v >= next);
                                next = v + 1;
                        }
                }
                CHECK(b->bl_records == 0 && b->received - recv0 == 400 - (uint64_t)acked_drop);
                /* The PULL marker is there, zero bytes. */
                {
                        long m;
                        CHECK(msgrcv(b->qid, &m, 0, WIRE_TYPE_PULL, IPC_NOWAIT) == 0);
                }
        }

        /* A drop notice (IPCD_NOTIFY_DROPS) is not lost when the drain a
         * PULL starts empties the backlog into a queue that is full again:
         * it waits in the backlog, behind a new marker. */
        {
                uint64_t drop0 = b->dropped, told = 0;
                unsigned nbl, notices = 0;
                long mk;
                int st;

                CHECK(answers_to(&r, b, WIRE_OP_PULL, 0, 0, "", 0, &st) == 0); /* marker read */
                b->notify_drops = true;
                for (int i = 0; i < 400; i++) {
                        char t[32];

                        snprintf(t, sizeof(t), "n%03d", i);
                        off = put_send(buf, sizeof(buf), 0, a, "bob", 3, t, 0, 0);
                        run(&r, a->uq, buf, off);
                }
                CHECK(b->missed > 0 && b->bl_head);
                /* Room for exactly what waits in ipcd, not for the notice. */
                nbl = (unsigned)b->bl_records;
                for (unsigned i = 0; i < nbl; i++)
                        CHECK(recv_records(b, 3, out, texts, 64) == 1);
                CHECK(msgrcv(b->qid, &mk, 0, WIRE_TYPE_PULL, IPC_NOWAIT) == 0);
                CHECK(answers_to(&r, b, WIRE_OP_PULL, 0, 0, "", 0, &st) == 0);
                CHECK(b->bl_records == 0);
                /* The receiver reads on, answering each marker with PULL. */
                for (;;) {
                        struct {
                                long mtype;
                                uint8_t mtext[512];
                        } nm;
                        ssize_t n;

                        if (recv_records(b, 3, out, texts, 64) > 0)
                                continue;
                        n = msgrcv(b->qid, &nm, sizeof(nm.mtext), WIRE_TYPE_NOTICE, IPC_NOWAIT);
                        if (n > 0) {
                                struct wire_out h;
                                const char *name, *topic;
                                const void *payload;
                                size_t o = 0;

                                CHECK(wire_out_next(nm.mtext, (size_t)n, &o, &h, &name, &topic,
                                                    &payload) == 1);
                                told += h.cookie;
                                notices++;
                                continue;
                        }
                        if (msgrcv(b->qid, &mk, 0, WIRE_TYPE_PULL, IPC_NOWAIT) == 0) {
                                CHECK(answers_to(&r, b, WIRE_OP_PULL, 0, 0, "", 0, &st) == 0);
                                continue;
                        }
                        break;
                }
                CHECK(notices == 1);
                CHECK(told == b->dropped - drop0 && told > 0);
                CHECK(b->missed == 0 && !b->bl_head);
                b->notify_drops = false;
        }

        /* A client that keeps sending garbage with a valid token is kicked. */
        {
                uint64_t id = anon->id;

                for (int i = 0; i < 7; i++) {
                        off = put_send(buf, sizeof(buf), 0, anon, "bad name!", 1, "x", 0, 0);
                        run(&r, anon->uq, buf, off);
                        if (!router_client_by_id(&r, id))
                                break;
                }
                CHECK(router_client_by_id(&r, id) == NULL);
        }

        /* Removal frees the name and the queue. */
        {
                int qid = b->qid;
                struct msqid_ds ds;

                pthread_mutex_lock(&r.lock);
                router_client_remove(&r, b);
                pthread_mutex_unlock(&r.lock);
                CHECK(msgctl(qid, IPC_STAT, &ds) < 0);
                CHECK(router_client_by_name(&r, "bob", 3) == NULL);
        }

        /* A pass keeps the destination it looked up last (pass.c): a
         * client that leaves, and another that takes its name, are seen
         * by the next record of the same pass. */
        {
                struct router_pass *p = router_pass_new(&r, a->uq);
                struct client *d1, *d2;
                uint64_t unroutable;

                CHECK(p);
                pthread_mutex_lock(&r.lock);
                CHECK(router_client_add(&r, getuid(), getpid(), "dest", &d1) == 0);
                off = put_send(buf, sizeof(buf), 0, a, "dest", 3, "to d1", 0, 0);
                router_pass_handle(p, buf, off);
                router_pass_end(p);
                CHECK(p->dst == d1);
                router_client_remove(&r, d1);
                unroutable = r.cnt.unroutable;
                router_pass_handle(p, buf, off); /* nobody has the name */
                router_pass_end(p);
                CHECK(r.cnt.unroutable == unroutable + 1);
                CHECK(router_client_add(&r, getuid(), getpid(), "dest", &d2) == 0);
                off = put_send(buf, sizeof(buf), 0, a, "dest", 3, "to d2", 0, 0);
                router_pass_handle(p, buf, off);
                router_pass_end(p);
                CHECK(p->dst == d2);
                pthread_mutex_unlock(&r.lock);
                k = recv_records(d2, 3, out, texts, 64);
                CHECK(k == 1 && strcmp(texts[0], "to d2") == 0 && out[0].sender_id == a->id);
                pthread_mutex_lock(&r.lock);
                router_client_remove(&r, d2);
                pthread_mutex_unlock(&r.lock);
                router_pass_free(p);
        }

        /* A client that never reads its answers cannot make ipcd keep them
         * without bound (each UNSUBSCRIBE of nothing is answered -ENOENT). */
        {
                struct client *z;
                uint64_t total0 = r.backlog_total;

                pthread_mutex_lock(&r.lock);
                CHECK(router_client_add(&r, getuid(), getpid(), "", &z) == 0);
                pthread_mutex_unlock(&r.lock);
                for (int i = 0; i < 20000; i++) {
                        struct wire_in h = { .client_id = z->id, .op = WIRE_OP_UNSUBSCRIBE,
                                             .dst_len = 4, .cookie = (uint64_t)i };

                        memcpy(h.token, z->token, sizeof(h.token));
                        off = 0;
                        CHECK(wire_in_put(buf, sizeof(buf), &off, &h, "nope", NULL) == 0);
                        run(&r, z->uq, buf, off);
                }
                CHECK(z->bl_ctl_bytes <= ROUTER_CTL_BACKLOG);
                CHECK(z->bl_ctl_bytes > 0);
                CHECK(r.backlog_total - total0 <= ROUTER_CTL_BACKLOG);
                pthread_mutex_lock(&r.lock);
                router_client_remove(&r, z);
                pthread_mutex_unlock(&r.lock);
                CHECK(r.backlog_total == total0);
        }

        /* One uid's clients together hold at most half the global backlog
         * (or one destination's limit): x fills it, y then gets nothing.
         * Both chose to drop (ipcd_set_overflow): flow-controlled sends
         * are bounded by their windows instead (test-flow-budget). */
        {
                struct router_limits l2 = lim;
                struct client *cx, *cy;

                l2.backlog_bytes = 4096;
                l2.backlog_total_bytes = 8192;
                pthread_mutex_lock(&r.lock);
                router_set_limits(&r, &l2);
                CHECK(router_client_add(&r, getuid(), getpid(), "xx", &cx) == 0);
                CHECK(router_client_add(&r, getuid(), getpid(), "yy", &cy) == 0);
                cx->drop_chosen = cy->drop_chosen = true;
                pthread_mutex_unlock(&r.lock);
                for (int i = 0; i < 600; i++) {
                        off = put_send(buf, sizeof(buf), 0, a, i % 2 ? "yy" : "xx", 1,
                                       "0123456789abcdef0123456789abcdef", 0, 0);
                        run(&r, a->uq, buf, off);
                }
                CHECK(cx->uq == cy->uq);
                CHECK(cx->uq->bl_bytes >= cx->bl_bytes + cy->bl_bytes);
                CHECK(cx->bl_bytes + cy->bl_bytes <= 4096);
                CHECK(cx->dropped > 0 && cy->dropped > 0);
                pthread_mutex_lock(&r.lock);
                router_client_remove(&r, cx);
                router_client_remove(&r, cy);
                router_set_limits(&r, &lim);
                pthread_mutex_unlock(&r.lock);
        }

        /* Who is answered (wire_op_answered()): some operations always,
         * some when they ask (WIRE_IN_ACK), some never; an unknown one or
         * one with flags it may not carry is refused, once. */
        {
                struct client *z;
                int st = 1;

                pthread_mutex_lock(&r.lock);
                CHECK(router_client_add(&r, getuid(), getpid(), "", &z) == 0);
                pthread_mutex_unlock(&r.lock);
                CHECK(answers_to(&r, z, WIRE_OP_PING, 0, 0, "", 61, &st) == 1 && st == 0);
                CHECK(answers_to(&r, z, WIRE_OP_TIMED, 0, 0, "", 62, &st) == 0);
                CHECK(answers_to(&r, z, WIRE_OP_TIMED, WIRE_IN_ACK, 0, "", 63, &st) == 1 && st == 0);
                CHECK(z->timed);
                CHECK(answers_to(&r, z, WIRE_OP_PULL, WIRE_IN_ACK, 0, "", 64, &st) == 0);
                CHECK(answers_to(&r, z, WIRE_OP_LANE_DROP, WIRE_IN_ACK, 0, "", 65, &st) == 0);
                CHECK(answers_to(&r, z, 99, WIRE_IN_ACK, 0, "", 66, &st) == 1 && st == -EOPNOTSUPP);
                CHECK(answers_to(&r, z, 99, 0, 0, "", 67, &st) == 0);
                /* WHOIS: a client's unit by id (also after it left), -ENOENT
                 * for an id never seen, -EINVAL without one. */
                {
                        struct client *u;
                        struct wire_out o[2];
                        char t[2][64];
                        uint64_t uid_ = 0;

                        pthread_mutex_lock(&r.lock);
                        CHECK(router_client_add(&r, getuid(), getpid(), "", &u) == 0);
                        snprintf(u->unit, sizeof(u->unit), "cam.service");
                        uid_ = u->id;
                        pthread_mutex_unlock(&r.lock);
                        for (int gone = 0; gone < 2; gone++) {
                                struct wire_in h = { .client_id = z->id, .op = WIRE_OP_WHOIS,
                                                     .arg = uid_, .cookie = 90 + (uint64_t)gone };
                                uint8_t wb[256];
                                size_t wo = 0;

                                memcpy(h.token, z->token, sizeof(h.token));
                                CHECK(wire_in_put(wb, sizeof(wb), &wo, &h, "", NULL) == 0);
                                run(&r, z->uq, wb, wo);
                                CHECK(recv_records(z, wire_reply_type(h.cookie), o, t, 2) == 1);
                                CHECK(o[0].kind == WIRE_OUT_ACK && o[0].status == 0);
                                CHECK(o[0].len == sizeof("cam.service") && strcmp(t[0], "cam.service") == 0);
                                if (!gone) {
                                        pthread_mutex_lock(&r.lock);
                                        router_client_remove(&r, u);
                                        pthread_mutex_unlock(&r.lock);
                                }
                        }
                        CHECK(answers_to(&r, z, WIRE_OP_WHOIS, 0, uid_ + 1000, "", 92, &st) == 1 &&
                              st == -ENOENT);
                        CHECK(answers_to(&r, z, WIRE_OP_WHOIS, 0, 0, "", 93, &st) == 1 &&
                              st == -EINVAL);
                }
                CHECK(answers_to(&r, z, WIRE_OP_PING, WIRE_IN_BULK | WIRE_IN_ACK, 0, "", 68, &st) ==
                              1 &&
                      st == -EINVAL);
                CHECK(answers_to(&r, z, WIRE_OP_UNSUBSCRIBE, 0, 0, "nope", 69, &st) == 1 &&
                      st == -ENOENT);
                CHECK(answers_to(&r, z, WIRE_OP_SET_OVERFLOW, 0, 7, "", 70, &st) == 1 && st == -EINVAL);
                /* No ring it may map: the refusal is the answer. */
                CHECK(answers_to(&r, z, WIRE_OP_LANE, 0, 0, "", 71, &st) == 1 && st == -EACCES);
                CHECK(answers_to(&r, z, WIRE_OP_SET_HISTORY, 0, 3, "t/h", 72, &st) == 1 && st == 0);
                /* Three invalid records: counted on it, below garbage_kick. */
                CHECK(z->garbage == 3 && router_client_by_id(&r, z->id) == z);
                pthread_mutex_lock(&r.lock);
                router_client_remove(&r, z);
                pthread_mutex_unlock(&r.lock);
        }

        /* Drop-old with ring chunks: a dropped backlog entry gives back the
         * chunk its descriptor references (kept in the entry), so what the
         * receiver holds is exactly what is still on its way to it. */
        {
                struct router_limits l3 = lim;
                struct ring *rg;
                struct client *q;
                int lane;

                l3.max_held_chunks = 100000;
                pthread_mutex_lock(&r.lock);
                router_set_limits(&r, &l3);
                CHECK(ring_create(&r.mq, 0, "t", 4 * 65536, 65536, getegid(), false, &rg) == 0);
                r.rings[r.nrings++] = rg;
                CHECK(router_client_add(&r, getuid(), getpid(), "qq", &q) == 0);
                q->ring_access = a->ring_access = 1;
                q->overflow = WIRE_OVERFLOW_DROP_OLD;
                q->drop_chosen = true;
                lane = ring_lane_acquire(rg, a, a->uid);
                CHECK(lane >= 0);
                pthread_mutex_unlock(&r.lock);
                for (uint64_t i = 0; i < 1000; i++) {
                        struct wire_bulk d = { .ring = 0, .lane = (uint32_t)lane, .pos = i * 16,
                                               .len = 16, .hold = i * 16 };
                        struct wire_in h = { .client_id = a->id, .op = WIRE_OP_SEND,
                                             .flags = WIRE_IN_BULK, .dst_len = 2, .type = 1,
                                             .len = sizeof(d) };

                        memcpy(h.token, a->token, sizeof(h.token));
                        off = 0;
                        CHECK(wire_in_put(buf, sizeof(buf), &off, &h, "qq", &d) == 0);
                        run(&r, a->uq, buf, off);
                }
                CHECK(q->dropped > 0 && q->bl_records > 0);
                CHECK(q->nheld == q->received + q->bl_records);
                CHECK(q->held_bytes == 16 * q->nheld && rg->used == q->held_bytes);
                pthread_mutex_lock(&r.lock);
                router_client_remove(&r, q);
                CHECK(rg->used == 0);
                ring_lane_disown(rg, (uint32_t)lane);
                router_set_limits(&r, &lim);
                pthread_mutex_unlock(&r.lock);
        }

        /* Issue 10, finding 8: lanes per uid.  By default (0) a uid holds
         * at most a quarter of a ring's lanes: in a ring of 8 (the default
         * ring's count), three other uids at their maximum leave this uid
         * its two, and it gets no third (-EDQUOT) while lanes are free. */
        {
                struct client *others[6];
                struct ring *rg;
                struct client *c4 = router_client_by_name(&r, "c4", 2);
                int st = 1;

                CHECK(c4);
                pthread_mutex_lock(&r.lock);
                CHECK(ring_create(&r.mq, 1, "t8", 8 * 65536, 65536, getegid(), false, &rg) == 0);
                r.rings[r.nrings++] = rg;
                CHECK(r.lim.lanes_per_uid == 0 && bulk_lanes_per_uid(&r, rg) == 2);
                CHECK(bulk_lanes_per_uid(&r, r.rings[0]) == 1); /* 4 lanes: one each */
                for (int i = 0; i < 6; i++) {
                        others[i] = (struct client *)(uintptr_t)(0x1000 + 0x100 * i);
                        CHECK(ring_lane_acquire(rg, others[i], getuid() + 1 + (uid_t)i / 2) >= 0);
                }
                a->ring_access = c4->ring_access = 2; /* ring 1 only */
                pthread_mutex_unlock(&r.lock);
                CHECK(answers_to(&r, a, WIRE_OP_LANE, WIRE_IN_ACK, 0, "", 7001, &st) == 1 &&
                      st == 0);
                CHECK(answers_to(&r, c4, WIRE_OP_LANE, WIRE_IN_ACK, 0, "", 7002, &st) == 1 &&
                      st == 0);
                CHECK(ring_lanes_of(rg, getuid()) == 2 && rg->lanes_used == 8);
                CHECK(answers_to(&r, a, WIRE_OP_LANE, WIRE_IN_ACK, 0, "", 7003, &st) == 1 &&
                      st == -EDQUOT);
                /* One of the others gives a lane back: still not a third. */
                pthread_mutex_lock(&r.lock);
                ring_lane_disown(rg, 0);
                pthread_mutex_unlock(&r.lock);
                CHECK(answers_to(&r, a, WIRE_OP_LANE, WIRE_IN_ACK, 0, "", 7004, &st) == 1 &&
                      st == -EDQUOT);
                /* An explicit lanes_per_uid is the limit. */
                {
                        struct router_limits l4 = lim;

                        l4.lanes_per_uid = 3;
                        pthread_mutex_lock(&r.lock);
                        router_set_limits(&r, &l4);
                        CHECK(bulk_lanes_per_uid(&r, rg) == 3);
                        pthread_mutex_unlock(&r.lock);
                        CHECK(answers_to(&r, a, WIRE_OP_LANE, WIRE_IN_ACK, 0, "", 7005, &st) ==
                                      1 &&
                              st == 0);
                        CHECK(ring_lanes_of(rg, getuid()) == 3);
                        pthread_mutex_lock(&r.lock);
                        router_set_limits(&r, &lim);
                        pthread_mutex_unlock(&r.lock);
                }
                pthread_mutex_lock(&r.lock);
                for (uint32_t l = 0; l < rg->nlanes; l++)
                        ring_lane_disown(rg, l);
                CHECK(rg->lanes_used == 0);
                a->ring_access = c4->ring_access = 0;
                pthread_mutex_unlock(&r.lock);
        }

        /* Issue 10, finding 3: the uid removes its own inbound queue.  Its
         * clients go with it (they could not send any more), and its count
         * on the books with them, never more: the limit holds for the
         * clients it registers next, which get a new queue that works. */
        {
                struct client *cs[8];
                struct uidq *old;
                int oldq, tries = 0;
                unsigned n;

                pthread_mutex_lock(&r.lock);
                /* Fill the uid's quota. */
                n = 0;
                while (router_client_add(&r, getuid(), getpid(), "", &x) == 0)
                        n++;
                CHECK(uid_clients(&r, getuid()) == lim.max_clients_per_uid);
                old = a->uq;
                oldq = old->qid;
                pthread_mutex_unlock(&r.lock);
                CHECK(msgctl(oldq, IPC_RMID, NULL) == 0);
                /* Its data thread sees EIDRM (hang guard: 10 s). */
                for (;;) {
                        pthread_mutex_lock(&r.lock);
                        n = uid_clients(&r, getuid());
                        pthread_mutex_unlock(&r.lock);
                        if (n == 0)
                                break;
                        CHECK(++tries < 1000);
                        usleep(10000);
                }
                pthread_mutex_lock(&r.lock);
                CHECK(r.nclients == 0 && r.uids == NULL);
                CHECK(router_client_by_name(&r, "alice", 5) == NULL);
                for (struct uidq *u = r.uidqs; u; u = u->next)
                        CHECK(u != old);
                for (unsigned i = 0; i < lim.max_clients_per_uid; i++)
                        CHECK(router_client_add(&r, getuid(), getpid(), i ? "" : "fresh",
                                                &cs[i]) == 0);
                CHECK(router_errno(router_client_add(&r, getuid(), getpid(), "", &x)) == -EDQUOT);
                CHECK(cs[0]->uq != old && cs[0]->uq->qid != oldq);
                CHECK(cs[0]->uq->nclients == lim.max_clients_per_uid);
                CHECK(uid_clients(&r, getuid()) == lim.max_clients_per_uid);
                pthread_mutex_unlock(&r.lock);
                off = put_send(buf, sizeof(buf), 0, cs[1], "fresh", 4, "works", 0, 0);
                run(&r, cs[1]->uq, buf, off);
                CHECK(recv_records(cs[0], 4, out, texts, 64) == 1 && strcmp(texts[0], "works") == 0);
                /* One leaves: one place on the books. */
                pthread_mutex_lock(&r.lock);
                router_client_remove(&r, cs[2]);
                CHECK(uid_clients(&r, getuid()) == lim.max_clients_per_uid - 1);
                CHECK(router_client_add(&r, getuid(), getpid(), "", &cs[2]) == 0);
                pthread_mutex_unlock(&r.lock);
        }

        pthread_mutex_lock(&r.lock);
        router_stop_threads(&r);
        pthread_mutex_unlock(&r.lock);
        for (struct uidq *u = r.uidqs; u; u = u->next)
                pthread_join(u->thread, NULL);
        for (struct uidq *u = r.dead_uidqs; u; u = u->next)
                pthread_join(u->thread, NULL);
        router_done(&r);
        printf("test-router: ok\n");
        return 0;
}
