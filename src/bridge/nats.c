/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nats.c - ipcd-bridge's NATS side (libnats, the C client).
 *
 * One connection to a list of servers: libnats reconnects on its own to
 * the next one (forever, 250 ms apart) and, while it is away, keeps up to
 * buffer_bytes of publishes in its reconnect buffer; past that a publish
 * fails and the message is dropped as "bridge overflow", counted.  While
 * connected, a slow server makes the publish wait (libnats flushes its
 * write buffer in the caller), which holds the bridge's reliable ipcd
 * subscriptions and so the local publishers: back pressure, not loss.
 *
 * Export: a local message becomes a NATS message on the mapped subject
 * with headers Ipcd-Type (its user type), Ipcd-Host, Ipcd-Sender,
 * Ipcd-Sender-Id, Ipcd-Uid, Ipcd-Pid, Ipcd-Unit (where known) and
 * Ipcd-Bridge (this bridge's random id, in hex).  Import: each import
 * subject has its own subscription, whose messages libnats hands to one
 * thread in order, so a publisher's order survives; the headers are
 * checked (a malformed one drops the message, counted), and the message is
 * published locally with IPCD_REMOTE and its origin.  A message without
 * ipcd headers (a plain NATS publisher) is type 1 from host "", uid
 * 4294967295.  No loops: the connection does not get its own messages back
 * (no echo), a message with our Ipcd-Bridge is skipped, and the local
 * copies of imported messages (IPCD_MSG_REMOTE) are never exported.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/natsint.h"
#include "shared/log.h"
#include "shared/macro.h"

struct bridge_nats {
        natsConnection *nc;
        natsSubscription **subs;
        size_t nsubs;
};

struct import_ctx {
        struct bridge *b;
        size_t index;
};

static struct import_ctx *import_ctxs;

static void on_disconnected(natsConnection *nc, void *closure)
{
        struct bridge *b = closure;

        (void)nc;
        bridge_count(b, BC_NATS_DISCONNECTS);
        log_warning("NATS connection lost; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
        struct bridge *b = closure;
        char url[256] = "";

        natsConnection_GetConnectedUrl(nc, url, sizeof(url));
        bridge_count(b, BC_NATS_RECONNECTS);
        log_info("NATS reconnected to %s", url);
}

static natsStatus options_auth(natsOptions *o, const struct bridge_config *c)
{
        natsStatus s = NATS_OK;

        if (c->user)
                s = natsOptions_SetUserInfo(o, c->user, c->password ? c->password : "");
        if (s == NATS_OK && c->token)
                s = natsOptions_SetToken(o, c->token);
        if (s == NATS_OK && (c->tls || c->tls_ca))
                s = natsOptions_SetSecure(o, true);
        if (s == NATS_OK && c->tls_ca)
                s = natsOptions_LoadCATrustedCertificates(o, c->tls_ca);
        if (s == NATS_OK && c->tls_cert)
                s = natsOptions_LoadCertificatesChain(o, c->tls_cert, c->tls_key);
        return s;
}

natsStatus bridge_nats_options(struct bridge *b, bool js, natsOptions **ret)
{
        char name[IPCD_NAME_MAX + 8];
        const struct bridge_config *c = &b->cfg;
        natsOptions *o = NULL;
        natsStatus s = natsOptions_Create(&o);

        if (s == NATS_OK)
                s = natsOptions_SetServers(o, (const char **)c->servers, (int)c->nservers);
        if (s == NATS_OK)
                s = natsOptions_SetNoRandomize(o, true); /* the list's order: failover */
        if (s == NATS_OK)
                snprintf(name, sizeof(name), "%s%s", c->name, js ? "-js" : "");
        if (s == NATS_OK)
                s = natsOptions_SetName(o, name);
        if (s == NATS_OK)
                s = natsOptions_SetMaxReconnect(o, -1);
        if (s == NATS_OK)
                s = natsOptions_SetReconnectWait(o, 250);
        if (s == NATS_OK)
                s = natsOptions_SetReconnectBufSize(o, js ? 1 : (int)MIN(c->buffer_bytes,
                                                                         (uint64_t)INT32_MAX));
        if (s == NATS_OK)
                s = natsOptions_SetNoEcho(o, true);
        /* libnats's flusher otherwise waits up to 1 ms before it writes a
         * publish: 2 ms of a round trip through two bridges. */
        if (s == NATS_OK && c->send_asap)
                s = natsOptions_SetSendAsap(o, true);
        if (s == NATS_OK && !js)
                s = natsOptions_SetDisconnectedCB(o, on_disconnected, b);
        if (s == NATS_OK && !js)
                s = natsOptions_SetReconnectedCB(o, on_reconnected, b);
        if (s == NATS_OK && !js)
                s = natsOptions_SetRetryOnFailedConnect(o, true, on_reconnected, b);
        if (s == NATS_OK)
                s = natsOptions_SetMaxPendingMsgs(o, 65536);
        if (s == NATS_OK)
                s = options_auth(o, c);
        if (s != NATS_OK) {
                natsOptions_Destroy(o);
                return s;
        }
        *ret = o;
        return NATS_OK;
}

/* The origin of an imported message from its headers; false: malformed. */
static bool origin_from_headers(natsMsg *m, ipcd_origin *o, long *type, uint64_t *bridge_id)
{
        const char *v = NULL;
        uint64_t u;

        *o = (ipcd_origin){ .magic = IPCD_ORIGIN_MAGIC, .uid = UINT32_MAX };
        *type = 1;
        *bridge_id = 0;
        if (natsMsgHeader_Get(m, "Ipcd-Type", &v) == NATS_OK) {
                if (mapping_parse_u64(v, IPCD_TYPE_MAX, &u) < 0 || u == 0)
                        return false;
                *type = (long)u;
        }
        if (natsMsgHeader_Get(m, "Ipcd-Uid", &v) == NATS_OK) {
                if (mapping_parse_u64(v, UINT32_MAX, &u) < 0)
                        return false;
                o->uid = (uint32_t)u;
        }
        if (natsMsgHeader_Get(m, "Ipcd-Pid", &v) == NATS_OK) {
                if (mapping_parse_u64(v, INT32_MAX, &u) < 0)
                        return false;
                o->pid = (int32_t)u;
        }
        if (natsMsgHeader_Get(m, "Ipcd-Sender-Id", &v) == NATS_OK) {
                if (mapping_parse_u64(v, UINT64_MAX, &u) < 0)
                        return false;
                o->sender_id = u;
        }
        if (natsMsgHeader_Get(m, "Ipcd-Bridge", &v) == NATS_OK) {
                char *end;

                if (!v || strlen(v) != 16 || strspn(v, "0123456789abcdef") != 16)
                        return false;
                *bridge_id = strtoull(v, &end, 16);
                o->bridge_id = *bridge_id;
        }
        static const struct { const char *h; size_t off; } texts[] = {
                { "Ipcd-Host", offsetof(ipcd_origin, host) },
                { "Ipcd-Sender", offsetof(ipcd_origin, sender) },
                { "Ipcd-Unit", offsetof(ipcd_origin, unit) },
        };
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                if (natsMsgHeader_Get(m, texts[i].h, &v) != NATS_OK)
                        continue;
                if (!mapping_text_ok(v, 64))
                        return false;
                strcpy((char *)o + texts[i].off, v ? v : "");
        }
        return !o->sender[0] || ipcd_name_is_valid(o->sender);
}

/* Publish locally: origin then payload, in one buffer (inline) or one
 * ring chunk (bulk): the payload is copied once. */
static int import_publish(struct bridge *b, const char *topic, long type, const ipcd_origin *o,
                          const void *data, size_t len, int flags)
{
        size_t total = sizeof(*o) + len;
        void *buf = NULL;
        int r;

        if (total <= ipcd_max_inline(b->ipcd)) {
                uint8_t *p = malloc(total);

                if (!p)
                        return -ENOMEM;
                memcpy(p, o, sizeof(*o));
                if (len)
                        memcpy(p + sizeof(*o), data, len);
                r = ipcd_publish(b->ipcd, topic, type, p, total, flags);
                free(p);
                return r;
        }
        r = ipcd_buf_alloc(b->ipcd, total, 0, &buf);
        if (r < 0)
                return r;
        memcpy(buf, o, sizeof(*o));
        memcpy((uint8_t *)buf + sizeof(*o), data, len);
        r = ipcd_publish_buf(b->ipcd, topic, type, buf, total, flags);
        if (r < 0)
                ipcd_buf_free(b->ipcd, buf);
        return r;
}

/* ipcd's verdicts that another try would not change. */
static bool refusal(int r)
{
        return r != -ECONNRESET && r != -ETIMEDOUT && r != -EAGAIN && r != -ENOMEM &&
               r != -ENOBUFS && r != -ECONNREFUSED && r != -ENOENT && r != -EINTR &&
               r != -ESTALE && r != -ENOTCONN;
}

enum import_verdict bridge_nats_import_one(struct bridge *b, size_t index, natsMsg *m, int *err)
{
        const struct bridge_import *im = &b->cfg.imports[index];
        char topic[IPCD_NAME_MAX];
        uint64_t bid, limit = bridge_nats_max_payload(b);
        ipcd_origin o;
        long type;
        int r, len = natsMsg_GetDataLength(m);

        *err = 0;
        if (b->cfg.max_payload && b->cfg.max_payload < limit)
                limit = b->cfg.max_payload;
        if (!origin_from_headers(m, &o, &type, &bid)) {
                bridge_count(b, BC_BAD_HEADER);
                return IMPORT_REFUSED;
        }
        if (bid == b->id) {
                bridge_count(b, BC_SKIPPED_OWN);
                return IMPORT_SKIPPED;
        }
        if (mapping_subject_to_topic(im->strip ? im->strip : b->cfg.subject_prefix,
                                     natsMsg_GetSubject(m), topic, sizeof(topic)) < 0) {
                bridge_count(b, BC_BAD_SUBJECT);
                return IMPORT_REFUSED;
        }
        if (len < 0 || (uint64_t)len > limit) {
                bridge_count(b, BC_TOO_LARGE);
                return IMPORT_REFUSED;
        }
        /* With IPCD_ACK (ack = true, and always for a durable consumer,
         * which acks to JetStream only what ipcd took): what ipcd refuses
         * (policy, its own limits) is counted as refused, not as imported.
         * Without it (the default for core NATS, at most once anyway: an
         * answer per message would cut the import rate several times, and
         * a bridge that falls behind loses more to NATS's slow-consumer
         * limit than it would miscount), ipcd counts its refusals itself
         * (ipcdctl status, policy hits) and the bridge counts them as
         * imported, handed to ipcd. */
        r = import_publish(b, topic, type, &o, natsMsg_GetData(m), (size_t)len,
                           IPCD_REMOTE | (im->ack || im->durable ? IPCD_ACK : 0));
        *err = r;
        if (r == -EMSGSIZE) {
                bridge_count(b, BC_TOO_LARGE);
                return IMPORT_REFUSED;
        }
        if (r < 0 && refusal(r)) {
                bridge_count(b, BC_LOCAL_REFUSED);
                return IMPORT_REFUSED;
        }
        if (r < 0)
                return IMPORT_FAILED; /* counted by the caller: it may try again */
        bridge_count(b, BC_IMPORTED);
        if (index < 64)
                atomic_fetch_add(&b->imported_by[index], 1);
        return IMPORT_DONE;
}

static void on_import(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
        struct import_ctx *x = closure;
        int err;

        (void)nc;
        (void)sub;
        if (bridge_nats_import_one(x->b, x->index, m, &err) == IMPORT_FAILED)
                bridge_count(x->b, BC_LOCAL_FAILED); /* core NATS: at most once */
        natsMsg_Destroy(m);
}

static natsStatus imports_subscribe(struct bridge *b)
{
        struct bridge_nats *n = b->nats;
        natsStatus s = NATS_OK;

        import_ctxs = calloc(b->cfg.nimports + 1, sizeof(*import_ctxs));
        n->subs = calloc(b->cfg.nimports + 1, sizeof(*n->subs));
        if (!import_ctxs || !n->subs)
                return NATS_NO_MEMORY;
        for (size_t i = 0; s == NATS_OK && i < b->cfg.nimports; i++) {
                import_ctxs[i] = (struct import_ctx){ b, i };
                n->nsubs = i + 1;
                if (b->cfg.imports[i].durable)
                        continue; /* consumed through JetStream (jetstream.c) */
                s = natsConnection_Subscribe(&n->subs[i], n->nc, b->cfg.imports[i].subject,
                                             on_import, &import_ctxs[i]);
                if (s == NATS_OK)
                        s = natsSubscription_SetPendingLimits(n->subs[i], 65536, 256 << 20);
        }
        return s;
}

int bridge_nats_start(struct bridge *b, char *err, size_t errlen)
{
        natsOptions *o = NULL;
        natsStatus s;

        b->nats = calloc(1, sizeof(*b->nats));
        if (!b->nats)
                return -ENOMEM;
        s = bridge_nats_options(b, false, &o);
        if (s == NATS_OK)
                s = natsConnection_Connect(&b->nats->nc, o);
        natsOptions_Destroy(o);
        /* With RetryOnFailedConnect, NATS_NOT_YET_CONNECTED: it keeps trying. */
        if (s == NATS_NOT_YET_CONNECTED)
                s = NATS_OK;
        if (s == NATS_OK)
                s = imports_subscribe(b);
        if (s != NATS_OK) {
                snprintf(err, errlen, "NATS: %s (%s)", natsStatus_GetText(s),
                         nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
                return -EIO;
        }
        return b->cfg.jetstream ? bridge_js_start(b, err, errlen) : 0;
}

void bridge_nats_stop(struct bridge *b)
{
        struct bridge_nats *n = b->nats;

        if (!n)
                return;
        bridge_js_stop(b, 5000); /* the import threads end; the last acks come */
        for (size_t i = 0; i < n->nsubs; i++)
                if (n->subs[i])
                        natsSubscription_Unsubscribe(n->subs[i]);
        bridge_calls_unsubscribe(b);
        if (n->nc) {
                natsConnection_FlushTimeout(n->nc, 1000);
                natsConnection_Close(n->nc); /* forwarded calls in flight fail now */
        }
        bridge_calls_stop(b);
        for (size_t i = 0; i < n->nsubs; i++)
                natsSubscription_Destroy(n->subs[i]);
        natsConnection_Destroy(n->nc);
        /* libnats's threads (callbacks in progress) end before their
         * closures are freed. */
        nats_CloseAndWait(0);
        bridge_calls_free(b);
        bridge_js_free(b);
        free(n->subs);
        free(n);
        free(import_ctxs);
        import_ctxs = NULL;
        b->nats = NULL;
}

uint64_t bridge_nats_max_payload(struct bridge *b)
{
        int64_t m = b->nats && b->nats->nc ? natsConnection_GetMaxPayload(b->nats->nc) : 0;

        return m > 0 ? (uint64_t)m : 1024 * 1024; /* NATS's default until connected */
}

/* The systemd unit of pid, from /proc/PID/cgroup, where it ends in
 * ".service" (else "").  One entry cached per thread: the export thread
 * and the call workers (forwarded sends and calls) both stamp origins. */
static const char *unit_of(pid_t pid)
{
        static __thread char unit[64];
        static __thread pid_t unit_pid;
        char path[64], line[512], *p;
        FILE *f;

        if (pid == unit_pid)
                return unit;
        unit_pid = pid;
        unit[0] = '\0';
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        f = pid > 0 ? fopen(path, "re") : NULL;
        if (!f)
                return unit;
        if (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                p = strrchr(line, '/');
                if (p && strlen(p + 1) < sizeof(unit) && strlen(p + 1) > 8 &&
                    strcmp(p + strlen(p) - 8, ".service") == 0 && mapping_text_ok(p + 1, 64))
                        strcpy(unit, p + 1);
        }
        fclose(f);
        return unit;
}

natsConnection *bridge_nats_conn(struct bridge *b)
{
        return b->nats->nc;
}

natsStatus bridge_nats_origin_headers(struct bridge *b, natsMsg *nm, const ipcd_msg *m)
{
        char v[5][32];
        const char *unit = unit_of(m->sender_pid);
        natsStatus s;

        snprintf(v[0], sizeof(v[0]), "%ld", m->type);
        snprintf(v[1], sizeof(v[1]), "%u", (unsigned)m->sender_uid);
        snprintf(v[2], sizeof(v[2]), "%d", (int)m->sender_pid);
        snprintf(v[3], sizeof(v[3]), "%" PRIu64, m->sender_id);
        snprintf(v[4], sizeof(v[4]), "%016" PRIx64, b->id);
        s = natsMsgHeader_Set(nm, "Ipcd-Type", v[0]);
        if (s == NATS_OK)
                s = natsMsgHeader_Set(nm, "Ipcd-Uid", v[1]);
        if (s == NATS_OK)
                s = natsMsgHeader_Set(nm, "Ipcd-Pid", v[2]);
        if (s == NATS_OK)
                s = natsMsgHeader_Set(nm, "Ipcd-Sender-Id", v[3]);
        if (s == NATS_OK)
                s = natsMsgHeader_Set(nm, "Ipcd-Bridge", v[4]);
        if (s == NATS_OK)
                s = natsMsgHeader_Set(nm, "Ipcd-Host", b->cfg.host);
        if (s == NATS_OK && m->sender[0])
                s = natsMsgHeader_Set(nm, "Ipcd-Sender", m->sender);
        if (s == NATS_OK && unit[0])
                s = natsMsgHeader_Set(nm, "Ipcd-Unit", unit);
        return s;
}

void bridge_nats_export(struct bridge *b, const ipcd_msg *m, int pattern)
{
        char subject[256];
        natsMsg *nm = NULL;
        natsStatus s;

        if (pattern >= 0 && b->cfg.export_js[pattern].stream) {
                bridge_js_export(b, m, pattern); /* at least once, acked */
                return;
        }
        if (mapping_topic_to_subject(b->cfg.subject_prefix, m->topic, subject, sizeof(subject)) < 0) {
                bridge_count(b, BC_BAD_SUBJECT);
                return;
        }
        /* The headers count toward max_payload too: libnats refuses what is
         * over it with the headers (NATS_MAX_PAYLOAD, below). */
        if (m->len > bridge_nats_max_payload(b)) {
                bridge_count(b, BC_TOO_LARGE);
                return;
        }
        s = natsMsg_Create(&nm, subject, NULL, m->data, (int)m->len);
        if (s == NATS_OK)
                s = bridge_nats_origin_headers(b, nm, m);
        if (s == NATS_OK)
                s = natsConnection_PublishMsg(b->nats->nc, nm);
        natsMsg_Destroy(nm);
        if (s == NATS_OK) {
                bridge_count(b, BC_EXPORTED);
                if (pattern >= 0 && pattern < 64)
                        atomic_fetch_add(&b->exported_by[pattern], 1);
        } else if (s == NATS_INSUFFICIENT_BUFFER)
                bridge_count(b, BC_OVERFLOW); /* "bridge overflow" */
        else if (s == NATS_MAX_PAYLOAD)
                bridge_count(b, BC_TOO_LARGE);
        else
                bridge_count(b, BC_NATS_FAILED);
}

void bridge_nats_describe(struct bridge *b, char *out, size_t size)
{
        char url[256] = "";
        natsConnStatus st = natsConnection_Status(b->nats->nc);

        if (st == NATS_CONN_STATUS_CONNECTED) {
                natsConnection_GetConnectedUrl(b->nats->nc, url, sizeof(url));
                snprintf(out, size, "connected %s (max_payload %" PRIu64 ")", url,
                         bridge_nats_max_payload(b));
        } else
                snprintf(out, size, "%s", st == NATS_CONN_STATUS_RECONNECTING ? "reconnecting"
                                          : st == NATS_CONN_STATUS_CONNECTING ? "connecting"
                                                                              : "closed");
}
