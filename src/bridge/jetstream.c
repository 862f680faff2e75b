/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jetstream.c - ipcd-bridge's at-least-once mappings (NATS JetStream).
 *
 * A connection of its own ("<name>-js") to the same servers, with no
 * reconnect buffer: a publish while it is away fails at once and stays
 * ours, so that after a reconnection nothing of ours can reach the stream
 * ahead of an earlier message we still have to send again.
 *
 * Export (stream = "S"): the main thread publishes each local message to
 * its subject with a reply subject <inbox>.<seq> and the header
 * Nats-Msg-Id "<host>-<bridge id>-<seq>" (seq counts this bridge's
 * JetStream publishes), and keeps it until the stream's ack comes to
 * <inbox>.*.  At most js_inflight wait for their ack; beyond, the main
 * thread waits, and so holds its reliable ipcd subscriptions and the local
 * publishers (back pressure: JetStream mappings never drop as "bridge
 * overflow").  A message whose ack does not come within js_ack_timeout_ms,
 * an error ack (no stream leader), a reconnection: the oldest unacked one
 * is sent again, alone, until the stream takes it (a probe: nothing later
 * can overtake it), then every unacked one again in order.  The stream's
 * duplicate window (2 minutes by default) drops the copies that it had
 * stored already by their Nats-Msg-Id: nothing lost, nothing duplicated,
 * each publisher's order kept.  What the bridge holds unacked when it is
 * killed is lost (it has no store of its own).  create = true adds the
 * stream if absent, with the subjects of its export mappings.
 *
 * Import (stream, durable): one thread per mapping pulls from a durable
 * consumer (explicit acks, at most one batch unacked, so that a batch
 * lost with a connection is redelivered, after the ack wait, before
 * anything later: the order holds) and acks a message only once ipcd took the
 * local publish (IPCD_ACK), or refused it for good (counted); while ipcd
 * is away it tries again, so a restarted bridge resumes where the
 * consumer stands and unacked messages come again.  A redelivery of a
 * message this process already published (its stream sequence among the
 * last 65536 it published) is acked and skipped; what a killed bridge had
 * published but not yet acked comes again to its successor, which cannot
 * tell: at least once.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/natsint.h"
#include "shared/log.h"
#include "shared/macro.h"

enum { E_FREE, E_SENT, E_FAILED, E_ACKED };

struct js_entry {
        uint64_t seq;
        natsMsg *nm;
        int64_t sent_ms;
        int state;
        int pattern;
};

struct js_import {
        struct bridge *b;
        size_t index;
        pthread_t thread;
        bool started;
        uint64_t *done; /* stream sequences published here, by seq % JS_DONE */
};

#define JS_DONE 65536
#define JS_BATCH 256 /* messages fetched at once, and unacked at most */

struct bridge_js {
        natsConnection *nc;
        jsCtx *js;
        natsSubscription *acks;
        char inbox[128];
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct js_entry *ring; /* js_inflight entries, by seq % js_inflight */
        uint64_t head, tail;   /* next seq to give; oldest not acked */
        bool probing;          /* only the oldest is sent until it is acked */
        uint64_t rptr;         /* then all unacked from tail again, in order: next one */
        uint64_t cwnd;         /* how many may be unacked (1 after trouble, then up) */
        bool reconnected;
        int64_t last_tick_ms;
        int64_t down_ms;      /* when the connection went, 0: up */
        int64_t reconnect_ms; /* how long the last outage lasted */
        struct js_import *imports;
        _Atomic int stop; /* set by bridge_js_stop, read by the import threads */
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under j->lock: an ack timed out or failed, a publish failed, the
 * connection went or came back.  Nothing new leaves until the oldest
 * unacked one is stored; then the rest again, slowly at first. */
static void trouble(struct bridge *b)
{
        struct bridge_js *j = b->js;

        j->cwnd = 1;
        if (j->tail < j->head)
                j->probing = true;
}

static void on_js_reconnected(natsConnection *nc, void *closure)
{
        struct bridge *b = closure;
        struct bridge_js *j = b->js;

        (void)nc;
        pthread_mutex_lock(&j->lock);
        j->reconnected = true;
        if (j->down_ms) {
                j->reconnect_ms = now_ms() - j->down_ms;
                j->down_ms = 0;
        }
        trouble(b);
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
}

static void on_js_disconnected(natsConnection *nc, void *closure)
{
        struct bridge *b = closure;
        struct bridge_js *j = b->js;

        (void)nc;
        pthread_mutex_lock(&j->lock);
        j->down_ms = now_ms();
        trouble(b);
        pthread_mutex_unlock(&j->lock);
}

/* The stream's answer to <inbox>.<seq>: {"stream":"S","seq":N[,"duplicate":true]},
 * or {"error":{...}}, or a "no responders" status. */
static void on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
        struct bridge *b = closure;
        struct bridge_js *j = b->js;
        const char *subj = natsMsg_GetSubject(m), *dot = strrchr(subj, '.');
        const char *data = natsMsg_GetData(m);
        int len = natsMsg_GetDataLength(m);
        bool ok = !natsMsg_IsNoResponders(m) && data && len > 0 &&
                  memmem(data, (size_t)len, "\"error\"", 7) == NULL &&
                  memmem(data, (size_t)len, "\"seq\"", 5) != NULL;
        bool dup = ok && memmem(data, (size_t)len, "\"duplicate\":true", 16) != NULL;
        uint64_t seq;
        char *end;

        (void)nc;
        (void)sub;
        if (!dot || !dot[1])
                goto out;
        seq = strtoull(dot + 1, &end, 10);
        if (*end)
                goto out;
        pthread_mutex_lock(&j->lock);
        if (seq >= j->tail && seq < j->head) {
                struct js_entry *e = &j->ring[seq % b->cfg.js_inflight];

                if (e->seq == seq && e->state != E_ACKED) {
                        if (ok) {
                                e->state = E_ACKED;
                                if (j->cwnd < b->cfg.js_inflight)
                                        j->cwnd++;
                                if (e->pattern < 64) {
                                        atomic_fetch_add(&b->js_export[e->pattern].acked, 1);
                                        if (dup)
                                                atomic_fetch_add(&b->js_export[e->pattern].duplicates, 1);
                                }
                                bridge_count(b, BC_EXPORTED);
                                if (e->pattern < 64)
                                        atomic_fetch_add(&b->exported_by[e->pattern], 1);
                                if (j->probing && seq == j->tail) {
                                        j->probing = false;
                                        j->rptr = seq + 1; /* the rest again */
                                }
                        } else if (e->state == E_SENT) {
                                e->state = E_FAILED;
                                trouble(b);
                        }
                }
                while (j->tail < j->head && j->ring[j->tail % b->cfg.js_inflight].state == E_ACKED) {
                        struct js_entry *t = &j->ring[j->tail % b->cfg.js_inflight];

                        natsMsg_Destroy(t->nm);
                        *t = (struct js_entry){};
                        j->tail++;
                }
                pthread_cond_broadcast(&j->cond);
        }
        pthread_mutex_unlock(&j->lock);
out:
        natsMsg_Destroy(m);
}

/* Under j->lock. */
static void js_send(struct bridge *b, struct js_entry *e, bool again)
{
        natsStatus s = natsConnection_PublishMsg(b->js->nc, e->nm);

        e->sent_ms = now_ms();
        e->state = s == NATS_OK ? E_SENT : E_FAILED;
        if (s != NATS_OK)
                trouble(b);
        if (e->pattern < 64)
                atomic_fetch_add(again ? &b->js_export[e->pattern].retried
                                       : &b->js_export[e->pattern].published, 1);
}

/* Under j->lock: what timed out, failed or was lost in a reconnection. */
static void js_tick_locked(struct bridge *b)
{
        struct bridge_js *j = b->js;
        uint64_t n = b->cfg.js_inflight;
        int64_t now = now_ms();

        if (natsConnection_Status(j->nc) != NATS_CONN_STATUS_CONNECTED)
                return;
        j->last_tick_ms = now;
        if (j->tail == j->head) {
                j->probing = j->reconnected = false;
                j->rptr = j->head;
                return;
        }
        struct js_entry *t = &j->ring[j->tail % n];
        if (j->reconnected) {
                /* what was in flight may be lost: the oldest first, alone */
                j->reconnected = false;
                trouble(b);
                t->state = E_FAILED;
        }
        if (!j->probing && t->state == E_SENT &&
            now - t->sent_ms >= (int64_t)b->cfg.js_ack_timeout_ms)
                trouble(b);
        if (j->probing) {
                if (t->state == E_FAILED || now - t->sent_ms >= (int64_t)b->cfg.js_ack_timeout_ms)
                        js_send(b, t, true);
                return;
        }
        if (j->rptr < j->tail)
                j->rptr = j->tail;
        while (!j->probing && j->rptr < j->head && j->rptr - j->tail < j->cwnd) {
                struct js_entry *e = &j->ring[j->rptr % n];

                if (e->state != E_ACKED)
                        js_send(b, e, true);
                j->rptr++;
        }
}

void bridge_js_tick(struct bridge *b)
{
        struct bridge_js *j = b->js;

        if (!j)
                return;
        pthread_mutex_lock(&j->lock);
        if (now_ms() - j->last_tick_ms >= 50 || j->reconnected || j->rptr < j->head)
                js_tick_locked(b);
        pthread_mutex_unlock(&j->lock);
}

void bridge_js_export(struct bridge *b, const ipcd_msg *m, int pattern)
{
        struct bridge_js *j = b->js;
        char subject[256], reply[160], id[160];
        natsMsg *nm = NULL;
        natsStatus s;
        uint64_t seq;

        if (mapping_topic_to_subject(b->cfg.subject_prefix, m->topic, subject, sizeof(subject)) < 0) {
                bridge_count(b, BC_BAD_SUBJECT);
                return;
        }
        if (m->len > bridge_nats_max_payload(b)) {
                bridge_count(b, BC_TOO_LARGE);
                return;
        }
        pthread_mutex_lock(&j->lock);
        /* Back pressure: js_inflight unacked, or a probe under way. */
#define JS_HOLD (j->probing || j->rptr < j->head || j->head - j->tail >= j->cwnd)
        while (!b->stop && JS_HOLD) {
                struct timespec ts;

                js_tick_locked(b);
                if (!JS_HOLD)
                        break;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 50 * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&j->cond, &j->lock, &ts);
        }
        if (b->stop) {
                pthread_mutex_unlock(&j->lock);
                bridge_count(b, BC_NATS_FAILED);
                return;
        }
#undef JS_HOLD
        /* built under the lock: nothing may overtake the check above */
        seq = j->head;
        snprintf(reply, sizeof(reply), "%s.%" PRIu64, j->inbox, seq);
        snprintf(id, sizeof(id), "%s-%016" PRIx64 "-%" PRIu64, b->cfg.host, b->id, seq);
        s = natsMsg_Create(&nm, subject, reply, m->data, (int)m->len);
        if (s == NATS_OK)
                s = bridge_nats_origin_headers(b, nm, m);
        if (s == NATS_OK)
                s = natsMsgHeader_Set(nm, "Nats-Msg-Id", id);
        if (s != NATS_OK) {
                pthread_mutex_unlock(&j->lock);
                natsMsg_Destroy(nm);
                bridge_count(b, s == NATS_MAX_PAYLOAD ? BC_TOO_LARGE : BC_NATS_FAILED);
                return;
        }
        struct js_entry *e = &j->ring[seq % b->cfg.js_inflight];
        *e = (struct js_entry){ .seq = seq, .nm = nm, .pattern = pattern };
        j->head++;
        j->rptr = j->head;
        js_send(b, e, false);
        pthread_mutex_unlock(&j->lock);
}

/* The subjects of the export mappings naming stream, as NATS subjects:
 * a wildcard pattern "x/" + "*" is "<prefix>.x.>" (ipcd's wildcard matches at any depth). */
static int stream_subjects(struct bridge *b, const char *stream, char ***ret, int *n)
{
        char **v = calloc(b->cfg.nexports + 1, sizeof(char *));
        int k = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < b->cfg.nexports; i++) {
                const char *t = b->cfg.exports[i];
                char s[300];
                size_t l = strlen(t);

                if (!b->cfg.export_js[i].stream || strcmp(b->cfg.export_js[i].stream, stream) != 0)
                        continue;
                if (strcmp(t, "*") == 0)
                        snprintf(s, sizeof(s), "%s.>", b->cfg.subject_prefix);
                else if (l >= 2 && strcmp(t + l - 2, "/*") == 0) {
                        char base[IPCD_NAME_MAX];

                        snprintf(base, sizeof(base), "%.*s", (int)(l - 2), t);
                        if (mapping_topic_to_subject(b->cfg.subject_prefix, base, s, sizeof(s) - 2) < 0)
                                continue;
                        strcat(s, ".>");
                } else if (mapping_topic_to_subject(b->cfg.subject_prefix, t, s, sizeof(s)) < 0)
                        continue;
                if (!(v[k] = strdup(s))) {
                        for (int i2 = 0; i2 < k; i2++)
                                free(v[i2]);
                        free(v);
                        return -ENOMEM;
                }
                k++;
        }
        *ret = v;
        *n = k;
        return 0;
}

/* Add the streams of the export mappings with create = true, if absent.
 * Waits for JetStream (a cluster may not have a meta leader yet). */
static int streams_create(struct bridge *b, char *err, size_t errlen)
{
        for (size_t i = 0; i < b->cfg.nexports; i++) {
                const struct bridge_export_js *x = &b->cfg.export_js[i];
                bool seen = false;

                if (!x->stream || !x->create)
                        continue;
                for (size_t k = 0; k < i; k++)
                        if (b->cfg.export_js[k].create && strcmp(b->cfg.export_js[k].stream, x->stream) == 0)
                                seen = true;
                if (seen)
                        continue;
                for (int attempt = 0;; attempt++) {
                        jsStreamInfo *si = NULL;
                        jsErrCode jerr = 0;
                        natsStatus s = js_GetStreamInfo(&si, b->js->js, x->stream, NULL, &jerr);
                        jsStreamConfig sc;
                        char **subjects = NULL;
                        int n = 0;

                        if (s == NATS_OK) {
                                jsStreamInfo_Destroy(si);
                                break;
                        }
                        if (s == NATS_NOT_FOUND) {
                                if (stream_subjects(b, x->stream, &subjects, &n) < 0)
                                        return -ENOMEM;
                                jsStreamConfig_Init(&sc);
                                sc.Name = x->stream;
                                sc.Subjects = (const char **)subjects;
                                sc.SubjectsLen = n;
                                sc.Storage = js_FileStorage;
                                sc.Replicas = (int64_t)x->replicas;
                                s = js_AddStream(&si, b->js->js, &sc, NULL, &jerr);
                                for (int k = 0; k < n; k++)
                                        free(subjects[k]);
                                free(subjects);
                                if (s == NATS_OK) {
                                        log_info("JetStream: created stream %s (replicas %" PRIu64 ")",
                                                 x->stream, x->replicas);
                                        jsStreamInfo_Destroy(si);
                                        break;
                                }
                        }
                        if (b->stop || attempt >= 120) {
                                snprintf(err, errlen, "JetStream: stream %s: %s (error %d%s%s)",
                                         x->stream, natsStatus_GetText(s), (int)jerr,
                                         nats_GetLastError(NULL) ? ", " : "",
                                         nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
                                return -EIO;
                        }
                        if (attempt == 0)
                                log_warning("JetStream: stream %s: %s; trying again", x->stream,
                                            natsStatus_GetText(s));
                        usleep(500 * 1000);
                }
        }
        return 0;
}

static void import_msg(struct js_import *x, natsSubscription *sub, natsMsg *m)
{
        struct bridge *b = x->b;
        struct bridge_js_count *cnt = x->index < 64 ? &b->js_import[x->index] : NULL;
        jsMsgMetaData *meta = NULL;
        uint64_t sseq = 0;
        int err;

        (void)sub;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
                sseq = meta->Sequence.Stream;
                if (meta->NumDelivered > 1 && cnt)
                        atomic_fetch_add(&cnt->redelivered, 1);
                jsMsgMetaData_Destroy(meta);
        }
        if (sseq && x->done[sseq % JS_DONE] == sseq) {
                /* already published here: its ack was lost */
                if (cnt)
                        atomic_fetch_add(&cnt->duplicates, 1);
                natsMsg_Ack(m, NULL);
                return;
        }
        for (int tries = 1;; tries++) {
                enum import_verdict v = bridge_nats_import_one(b, x->index, m, &err);

                if (v != IMPORT_FAILED) {
                        if (v == IMPORT_REFUSED && cnt)
                                atomic_fetch_add(&cnt->refused, 1);
                        if (v == IMPORT_DONE && sseq)
                                x->done[sseq % JS_DONE] = sseq;
                        if (natsMsg_Ack(m, NULL) == NATS_OK && cnt)
                                atomic_fetch_add(&cnt->acked, 1);
                        return;
                }
                /* ipcd away: keep it (and everything after it) until it is back */
                if (b->js->stop || b->stop) {
                        natsMsg_Nak(m, NULL);
                        return;
                }
                if (tries % 10 == 0)
                        natsMsg_InProgress(m, NULL); /* not redelivered meanwhile */
                usleep(100 * 1000);
        }
}

static void *import_thread(void *arg)
{
        struct js_import *x = arg;
        struct bridge *b = x->b;
        const struct bridge_import *im = &b->cfg.imports[x->index];
        natsSubscription *sub = NULL;
        bool warned = false;

        while (!b->js->stop && !b->stop) {
                natsMsgList list = { 0 };
                jsErrCode jerr = 0;
                natsStatus s;

                if (!sub) {
                        jsSubOptions so;

                        jsSubOptions_Init(&so);
                        so.Stream = im->stream;
                        so.Config.AckPolicy = js_AckExplicit;
                        so.Config.AckWait = (int64_t)5 * 1000 * 1000 * 1000;
                        so.Config.DeliverPolicy = js_DeliverAll;
                        /* no more unacked than one fetch: a batch lost
                         * with a connection comes again (after AckWait)
                         * before anything later, in order */
                        so.Config.MaxAckPending = JS_BATCH;
                        s = js_PullSubscribe(&sub, b->js->js, im->subject, im->durable, NULL, &so,
                                             &jerr);
                        if (s != NATS_OK) {
                                sub = NULL;
                                if (!warned)
                                        log_warning("JetStream: consumer %s of stream %s: %s (error %d); trying again",
                                                    im->durable, im->stream, natsStatus_GetText(s),
                                                    (int)jerr);
                                warned = true;
                                usleep(500 * 1000);
                                continue;
                        }
                        log_info("JetStream: consuming %s through %s/%s", im->subject, im->stream,
                                 im->durable);
                }
                s = natsSubscription_Fetch(&list, sub, JS_BATCH, 500, &jerr);
                for (int i = 0; i < list.Count; i++) {
                        if (b->js->stop || b->stop)
                                natsMsg_Nak(list.Msgs[i], NULL); /* come again soon */
                        else
                                import_msg(x, sub, list.Msgs[i]);
                }
                natsMsgList_Destroy(&list);
                if (s != NATS_OK && s != NATS_TIMEOUT)
                        usleep(100 * 1000); /* reconnecting, no leader: again */
        }
        if (sub) {
                natsSubscription_Unsubscribe(sub); /* the durable stays */
                natsSubscription_Destroy(sub);
        }
        return NULL;
}

int bridge_js_start(struct bridge *b, char *err, size_t errlen)
{
        struct bridge_js *j = calloc(1, sizeof(*j));
        natsOptions *o = NULL;
        natsStatus s;
        natsInbox *inbox = NULL;
        char subj[160];
        int r;

        if (!j)
                return -ENOMEM;
        b->js = j;
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->cond, NULL);
        j->ring = calloc(b->cfg.js_inflight, sizeof(*j->ring));
        j->cwnd = b->cfg.js_inflight;
        j->imports = calloc(b->cfg.nimports + 1, sizeof(*j->imports));
        if (!j->ring || !j->imports)
                return -ENOMEM;
        s = bridge_nats_options(b, true, &o);
        if (s == NATS_OK)
                s = natsOptions_SetReconnectedCB(o, on_js_reconnected, b);
        if (s == NATS_OK)
                s = natsOptions_SetDisconnectedCB(o, on_js_disconnected, b);
        if (s == NATS_OK)
                s = natsOptions_SetRetryOnFailedConnect(o, true, on_js_reconnected, b);
        if (s == NATS_OK)
                s = natsConnection_Connect(&j->nc, o);
        natsOptions_Destroy(o);
        if (s == NATS_NOT_YET_CONNECTED)
                s = NATS_OK;
        if (s == NATS_OK)
                s = natsConnection_JetStream(&j->js, j->nc, NULL);
        if (s == NATS_OK)
                s = natsInbox_Create(&inbox);
        if (s == NATS_OK) {
                snprintf(j->inbox, sizeof(j->inbox), "%s", (const char *)inbox);
                natsInbox_Destroy(inbox);
                snprintf(subj, sizeof(subj), "%s.*", j->inbox);
                s = natsConnection_Subscribe(&j->acks, j->nc, subj, on_ack, b);
        }
        if (s == NATS_OK)
                s = natsSubscription_SetPendingLimits(j->acks, -1, -1);
        if (s != NATS_OK) {
                snprintf(err, errlen, "NATS (JetStream connection): %s (%s)", natsStatus_GetText(s),
                         nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
                return -EIO;
        }
        r = streams_create(b, err, errlen);
        if (r < 0)
                return r;
        for (size_t i = 0; i < b->cfg.nimports; i++) {
                struct js_import *x = &j->imports[i];

                if (!b->cfg.imports[i].durable)
                        continue;
                *x = (struct js_import){ .b = b, .index = i };
                x->done = calloc(JS_DONE, sizeof(*x->done));
                if (!x->done)
                        return -ENOMEM;
                r = -pthread_create(&x->thread, NULL, import_thread, x);
                if (r < 0) {
                        snprintf(err, errlen, "JetStream import thread: %s", strerror(-r));
                        return r;
                }
                x->started = true;
        }
        return 0;
}

void bridge_js_stop(struct bridge *b, int wait_ms)
{
        struct bridge_js *j = b->js;
        int64_t until = now_ms() + wait_ms;
        uint64_t left;

        if (!j)
                return;
        j->stop = 1;
        for (size_t i = 0; j->imports && i < b->cfg.nimports; i++)
                if (j->imports[i].started) {
                        pthread_join(j->imports[i].thread, NULL);
                        j->imports[i].started = false;
                }
        /* the last acks (and retries) of what we published */
        pthread_mutex_lock(&j->lock);
        while (j->ring && j->tail < j->head && now_ms() < until) {
                struct timespec ts;

                j->last_tick_ms = 0;
                js_tick_locked(b);
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 50 * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&j->cond, &j->lock, &ts);
        }
        left = j->head - j->tail;
        pthread_mutex_unlock(&j->lock);
        if (left)
                log_warning("JetStream: %" PRIu64 " publishes without an ack at exit (lost)", left);
        if (j->acks)
                natsSubscription_Unsubscribe(j->acks);
        if (j->nc) {
                natsConnection_FlushTimeout(j->nc, 1000);
                natsConnection_Close(j->nc);
        }
        natsSubscription_Destroy(j->acks);
        j->acks = NULL;
        jsCtx_Destroy(j->js);
        j->js = NULL;
        natsConnection_Destroy(j->nc);
        j->nc = NULL;
        pthread_mutex_lock(&j->lock);
        for (uint64_t i = 0; j->ring && i < b->cfg.js_inflight; i++) {
                natsMsg_Destroy(j->ring[i].nm);
                j->ring[i].nm = NULL;
        }
        pthread_mutex_unlock(&j->lock);
}

/* After nats_CloseAndWait: no callback runs any more. */
void bridge_js_free(struct bridge *b)
{
        struct bridge_js *j = b->js;

        if (!j)
                return;
        free(j->ring);
        for (size_t i = 0; j->imports && i < b->cfg.nimports; i++)
                free(j->imports[i].done);
        free(j->imports);
        pthread_cond_destroy(&j->cond);
        pthread_mutex_destroy(&j->lock);
        free(j);
        b->js = NULL;
}

void bridge_js_describe(struct bridge *b, bool exp, size_t i, char *out, size_t size)
{
        const struct bridge_js_count *c = exp ? &b->js_export[i] : &b->js_import[i];

        out[0] = '\0';
        if (i >= 64)
                return;
        if (exp && b->cfg.export_js[i].stream) {
                uint64_t inflight = 0;

                if (b->js && b->js->ring) {
                        pthread_mutex_lock(&b->js->lock);
                        inflight = b->js->head - b->js->tail;
                        pthread_mutex_unlock(&b->js->lock);
                }
                snprintf(out, size,
                         " stream %s published %" PRIu64 " acked %" PRIu64 " retried %" PRIu64
                         " duplicates %" PRIu64 " inflight %" PRIu64,
                         b->cfg.export_js[i].stream, (uint64_t)c->published, (uint64_t)c->acked,
                         (uint64_t)c->retried, (uint64_t)c->duplicates, inflight);
        } else if (!exp && b->cfg.imports[i].durable)
                snprintf(out, size,
                         " stream %s durable %s acked %" PRIu64 " redelivered %" PRIu64
                         " duplicates %" PRIu64 " refused %" PRIu64,
                         b->cfg.imports[i].stream, b->cfg.imports[i].durable, (uint64_t)c->acked,
                         (uint64_t)c->redelivered, (uint64_t)c->duplicates, (uint64_t)c->refused);
}

void bridge_js_describe_conn(struct bridge *b, char *out, size_t size)
{
        char url[256] = "";
        natsConnStatus st;

        if (!b->js || !b->js->nc) {
                snprintf(out, size, "closed");
                return;
        }
        st = natsConnection_Status(b->js->nc);
        if (st == NATS_CONN_STATUS_CONNECTED) {
                int64_t rms;

                natsConnection_GetConnectedUrl(b->js->nc, url, sizeof(url));
                pthread_mutex_lock(&b->js->lock);
                rms = b->js->reconnect_ms;
                pthread_mutex_unlock(&b->js->lock);
                snprintf(out, size, "connected %s (last outage %" PRId64 " ms)", url, rms);
        } else
                snprintf(out, size, "%s", st == NATS_CONN_STATUS_RECONNECTING ? "reconnecting"
                                          : st == NATS_CONN_STATUS_CONNECTING ? "connecting"
                                                                              : "closed");
}
