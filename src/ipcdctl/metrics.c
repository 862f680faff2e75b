/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metrics.c - `ipcdctl metrics`: one STATUS answer as OpenMetrics text
 * (https://prometheus.io/docs/specs/om/open_metrics_spec/), for Prometheus
 * and its kin.  With --http it answers one HTTP request read on stdin
 * (systemd socket activation with Accept=yes: ipcd-metrics@.service), so
 * that ipcd itself serves no TCP.
 *
 * Every family has HELP and TYPE lines (and UNIT when its name ends in
 * one); counters' samples end in _total; the text ends with "# EOF".
 * Per-object families (client, uid, topic, ring) are tables of fields,
 * and each object kind has one function that writes its labels: a new
 * label (a client's systemd unit) is one line there.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcdctl/ipcdctl.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/wire.h"

#define PREFIX "ipcd_"

enum mtype { M_COUNTER, M_GAUGE };

/* A value read from a struct wire_status_* at off: a uint64_t or a
 * uint32_t, divided by scale (1: an integer; 1000: ms to seconds). */
struct field {
        const char *name; /* after PREFIX and the object's prefix, without _total */
        enum mtype type;
        const char *help;
        size_t off;
        size_t size;
        unsigned scale;
};

#define F64(st, n, t, fld, h) { n, t, h, offsetof(st, fld), 8, 1 }
#define F32(st, n, t, fld, h) { n, t, h, offsetof(st, fld), 4, 1 }

/* ------------------------------------------------------------------ */
/* Writing.                                                            */

/* The family's metadata lines: HELP, TYPE, and UNIT for a name ending in
 * _seconds or _bytes. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
        static const char *const units[] = { "seconds", "bytes" };
        size_t n = strlen(name);

        fprintf(f, "# HELP %s%s %s\n# TYPE %s%s %s\n", PREFIX, name, help, PREFIX, name, type);
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                size_t u = strlen(units[i]);

                if (n > u && name[n - u - 1] == '_' && strcmp(name + n - u, units[i]) == 0)
                        fprintf(f, "# UNIT %s%s %s\n", PREFIX, name, units[i]);
        }
}

static const char *type_word(enum mtype t)
{
        return t == M_COUNTER ? "counter" : "gauge";
}

/* A label value from a field of at most size bytes (maybe without NUL),
 * escaped as OpenMetrics wants: \\, \" and \n. */
static void label_value(FILE *f, const char *s, size_t size)
{
        size_t n = strnlen(s, size);

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\' || s[i] == '"')
                        fputc('\\', f);
                if (s[i] == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                fputc(s[i], f);
        }
}

static uint64_t field_get(const struct field *fd, const void *obj)
{
        const char *p = (const char *)obj + fd->off;

        if (fd->size == 4) {
                uint32_t v;

                memcpy(&v, p, sizeof(v));
                return v;
        }
        {
                uint64_t v;

                memcpy(&v, p, sizeof(v));
                return v;
        }
}

static void value(FILE *f, uint64_t v, unsigned scale)
{
        if (scale <= 1)
                fprintf(f, " %" PRIu64 "\n", v);
        else
                fprintf(f, " %" PRIu64 ".%0*" PRIu64 "\n", v / scale,
                        scale == 1000 ? 3 : 6, v % scale);
}

/* One sample: PREFIX name[_total]{labels} value. */
static void sample(FILE *f, const char *name, enum mtype t, const char *labels, uint64_t v,
                   unsigned scale)
{
        fprintf(f, "%s%s%s", PREFIX, name, t == M_COUNTER ? "_total" : "");
        if (labels && labels[0])
                fprintf(f, "{%s}", labels);
        value(f, v, scale);
}

/* The labels of one object, as `a="x",b="y"` into a memory buffer. */
typedef void (*labels_fn)(FILE *f, const void *obj);

/* A family per field, with one sample per object (nobj objects of size
 * bytes at objs); prefix goes before each field's name. */
static int object_families(FILE *f, const char *prefix, const struct field *fields,
                           size_t nfields, const void *objs, size_t nobj, size_t size,
                           labels_fn labels)
{
        char **lab = calloc(nobj ? nobj : 1, sizeof(*lab));
        int r = 0;

        if (!lab)
                return -ENOMEM;
        /* Each object's labels once, for all its families. */
        for (size_t i = 0; i < nobj && r == 0; i++) {
                size_t len = 0;
                FILE *m = open_memstream(&lab[i], &len);

                if (!m) {
                        r = -ENOMEM;
                        break;
                }
                labels(m, (const char *)objs + i * size);
                if (fclose(m) != 0)
                        r = -ENOMEM;
        }
        for (size_t k = 0; k < nfields && r == 0; k++) {
                char name[128];

                snprintf(name, sizeof(name), "%s%s", prefix, fields[k].name);
                family(f, name, type_word(fields[k].type), fields[k].help);
                for (size_t i = 0; i < nobj; i++)
                        sample(f, name, fields[k].type, lab[i],
                               field_get(&fields[k], (const char *)objs + i * size),
                               fields[k].scale);
        }
        for (size_t i = 0; i < nobj; i++)
                free(lab[i]);
        free(lab);
        return r;
}

/* ------------------------------------------------------------------ */
/* The daemon.                                                          */

#define D(n, t, fld, h) F64(struct wire_status_daemon, n, t, fld, h)
#define D32(n, t, fld, h) F32(struct wire_status_daemon, n, t, fld, h)

static const struct field daemon_fields[] = {
        D32("clients", M_GAUGE, nclients, "Clients connected."),
        D32("clients_limit", M_GAUGE, max_clients, "Clients ipcd accepts at most (max_clients)."),
        D32("topics", M_GAUGE, ntopics, "Topics known (with a subscriber or a history)."),
        D32("monitors", M_GAUGE, nmonitors, "Monitors watching (ipcdctl monitor)."),
        D("messages_accepted", M_COUNTER, accepted, "User messages accepted from senders."),
        D("messages_routed", M_COUNTER, routed,
          "User messages delivered into a client's queue (sends, publish copies, calls)."),
        D("messages_dropped", M_COUNTER, dropped, "User messages dropped, all reasons."),
        D("messages_unroutable", M_COUNTER, unroutable,
          "Sends to a name nobody held (ACK or not)."),
        D("publishes", M_COUNTER, published, "Publishes accepted."),
        D("publishes_unheard", M_COUNTER, unheard, "Publishes nobody was subscribed to."),
        D("registrations", M_COUNTER, registrations, "Registrations accepted."),
        D("registrations_refused", M_COUNTER, refused, "Registrations refused."),
        D("limit_hits", M_COUNTER, limit_hits, "Requests refused by a limit of ipcd.conf."),
        D("bad_control_lines", M_COUNTER, bad_control, "Control FIFO lines ignored."),
        D("bad_inbound_records", M_COUNTER, bad_inbound, "Inbound records rejected."),
        D("backlog_bytes", M_GAUGE, backlog_bytes,
          "Bytes waiting in ipcd for full client queues, all destinations."),
        D32("queue_limit_bytes", M_GAUGE, queue_bytes, "msg_qbytes of each client queue."),
        D32("max_payload_bytes", M_GAUGE, max_payload, "Largest inline payload accepted."),
};

static void daemon_families(FILE *f, const struct wire_status_daemon *d)
{
        uint64_t cum = 0, n = 0;

        family(f, "build", "info", "The running ipcd.");
        fprintf(f, PREFIX "build_info{version=\"");
        label_value(f, d->version, sizeof(d->version));
        fprintf(f, "\",pid=\"%" PRId32 "\"} 1\n", d->pid);

        family(f, "uptime_seconds", "gauge", "Time since ipcd started.");
        sample(f, "uptime_seconds", M_GAUGE, NULL, d->uptime_ms, 1000);
        family(f, "data_busy_seconds", "counter",
               "Time the data threads spent in routing passes (a rate of 1 is one core).");
        sample(f, "data_busy_seconds", M_COUNTER, NULL, d->data_busy_us, 1000000);

        for (size_t k = 0; k < ELEMENTSOF(daemon_fields); k++) {
                const struct field *fd = &daemon_fields[k];

                family(f, fd->name, type_word(fd->type), fd->help);
                sample(f, fd->name, fd->type, NULL, field_get(fd, d), 1);
        }

        family(f, "messages_dropped_by_reason", "counter",
               "User messages dropped, by reason (ignored_back_pressure: the sender went "
               "over its flow-control window).");
        for (int i = 0; i < WIRE_DROP_REASONS; i++)
                fprintf(f, PREFIX "messages_dropped_by_reason_total{reason=\"%s\"} %" PRIu64 "\n",
                        ctl_drop_reason_key[i], d->dropped_by[i]);

        /* Bucket i counts calls under 2^i us: le is that bound, cumulative. */
        family(f, "call_latency_seconds", "histogram",
               "Calls answered by their callee, by the time from request to reply.");
        for (unsigned b = 0; b < WIRE_CALL_BUCKETS; b++) {
                cum += d->call_latency[b];
                if (b + 1 < WIRE_CALL_BUCKETS)
                        fprintf(f, PREFIX "call_latency_seconds_bucket{le=\"%.6f\"} %" PRIu64 "\n",
                                (double)(UINT64_C(1) << b) / 1e6, cum);
        }
        n = cum;
        fprintf(f, PREFIX "call_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", n);
        fprintf(f, PREFIX "call_latency_seconds_count %" PRIu64 "\n", n);
        fprintf(f, PREFIX "call_latency_seconds_sum");
        value(f, d->call_latency_sum_us, 1000000);
}

/* ------------------------------------------------------------------ */
/* Clients, uids, topics, rings.                                        */

/* Its labels; add a label here (and only here) for every client family. */
static void client_labels(FILE *f, const void *obj)
{
        const struct wire_status_client *c = obj;

        /* id keeps anonymous clients (name "") apart. */
        fprintf(f, "id=\"%" PRIu64 "\",name=\"", c->id);
        label_value(f, c->name, sizeof(c->name));
        fprintf(f, "\",uid=\"%" PRIu32 "\",unit=\"", c->uid);
        label_value(f, c->unit, sizeof(c->unit)); /* "" outside any unit */
        fputc('"', f);
}

#define C(n, t, fld, h) F64(struct wire_status_client, n, t, fld, h)
#define C32(n, t, fld, h) F32(struct wire_status_client, n, t, fld, h)

static const struct field client_fields[] = {
        C("messages_sent", M_COUNTER, sent, "User messages accepted from the client."),
        C("messages_received", M_COUNTER, received, "User messages delivered to the client."),
        C("messages_dropped", M_COUNTER, dropped, "User messages for the client, dropped."),
        C("messages_unroutable", M_COUNTER, unroutable,
          "The client's sends to a name nobody held."),
        C("ignored_back_pressure", M_COUNTER, dropped_ignored,
          "The client's sends dropped because it ignored back pressure (over its window)."),
        C("messages_queued", M_GAUGE, queued,
          "User messages for the client waiting in ipcd or in its queue."),
        C("backlog_bytes", M_GAUGE, backlog_bytes, "Bytes waiting in ipcd for the client."),
        C("bulk_sent_bytes", M_COUNTER, bulk_sent, "Payload bytes it sent through a ring."),
        C("bulk_received_bytes", M_COUNTER, bulk_received,
          "Payload bytes delivered to it through a ring."),
        C("bulk_held_bytes", M_GAUGE, bulk_held, "Bytes of ring chunks it holds unreleased."),
        C32("lanes", M_GAUGE, lanes, "Ring lanes it produces into."),
        C32("subscriptions", M_GAUGE, subscriptions, "Its subscriptions."),
        C32("reliable_subscriptions", M_GAUGE, reliable_subs,
          "Its reliable subscriptions (IPCD_SUB_RELIABLE)."),
        C32("pending_calls", M_GAUGE, pending_calls, "Calls delivered to it, not answered."),
};

static void client_dropped_by(FILE *f, const struct wire_status_set *set)
{
        family(f, "client_messages_dropped_by_reason", "counter",
               "User messages for the client, dropped, by reason.");
        for (size_t i = 0; i < set->nclients; i++)
                for (int k = 0; k < WIRE_DROP_REASONS; k++) {
                        fprintf(f, PREFIX "client_messages_dropped_by_reason_total{");
                        client_labels(f, &set->clients[i]);
                        fprintf(f, ",reason=\"%s\"} %" PRIu64 "\n", ctl_drop_reason_key[k],
                                set->clients[i].dropped_by[k]);
                }
        family(f, "client_connected_seconds", "gauge", "Time since the client registered.");
        for (size_t i = 0; i < set->nclients; i++) {
                fprintf(f, PREFIX "client_connected_seconds{");
                client_labels(f, &set->clients[i]);
                fputc('}', f);
                value(f, set->clients[i].connected_ms, 1000);
        }
}

/* Per uid: its inbound queue, and its clients' counters summed. */
struct uid_sums {
        uint32_t uid;
        uint32_t clients;
        uint32_t qnum;
        uint32_t reserved_;
        uint64_t sent, received, dropped, backlog_bytes, bulk_held;
};

static void uid_labels(FILE *f, const void *obj)
{
        fprintf(f, "uid=\"%" PRIu32 "\"", ((const struct uid_sums *)obj)->uid);
}

#define U(n, t, fld, h) F64(struct uid_sums, n, t, fld, h)
#define U32(n, t, fld, h) F32(struct uid_sums, n, t, fld, h)

static const struct field uid_fields[] = {
        U32("clients", M_GAUGE, clients, "Clients of the uid."),
        U32("inbound_messages", M_GAUGE, qnum, "Messages waiting in the uid's inbound queue."),
        /* Sums over the clients connected now: gauges, since they fall
         * when a client leaves. */
        U("messages_sent", M_GAUGE, sent,
          "User messages accepted from its clients connected now (a sum: falls when one leaves)."),
        U("messages_received", M_GAUGE, received,
          "User messages delivered to its clients connected now (a sum: falls when one leaves)."),
        U("messages_dropped", M_GAUGE, dropped,
          "User messages for its clients connected now, dropped (a sum: falls when one leaves)."),
        U("backlog_bytes", M_GAUGE, backlog_bytes, "Bytes waiting in ipcd for its clients."),
        U("bulk_held_bytes", M_GAUGE, bulk_held, "Ring bytes its clients hold unreleased."),
};

static int uid_families(FILE *f, const struct wire_status_set *set)
{
        struct uid_sums *u = calloc(set->nqueues ? set->nqueues : 1, sizeof(*u));
        int r;

        if (!u)
                return -ENOMEM;
        for (size_t i = 0; i < set->nqueues; i++) {
                u[i].uid = set->queues[i].uid;
                u[i].qnum = set->queues[i].qnum;
                for (size_t k = 0; k < set->nclients; k++) {
                        const struct wire_status_client *c = &set->clients[k];

                        if (c->uid != u[i].uid)
                                continue;
                        u[i].clients++;
                        u[i].sent += c->sent;
                        u[i].received += c->received;
                        u[i].dropped += c->dropped;
                        u[i].backlog_bytes += c->backlog_bytes;
                        u[i].bulk_held += c->bulk_held;
                }
        }
        r = object_families(f, "uid_", uid_fields, ELEMENTSOF(uid_fields), u, set->nqueues,
                            sizeof(*u), uid_labels);
        free(u);
        return r;
}

static void topic_labels(FILE *f, const void *obj)
{
        const struct wire_status_topic *t = obj;

        fprintf(f, "topic=\"");
        label_value(f, t->name, sizeof(t->name));
        fputc('"', f);
}

#define T(n, t, fld, h) F64(struct wire_status_topic, n, t, fld, h)
#define T32(n, t, fld, h) F32(struct wire_status_topic, n, t, fld, h)

static const struct field topic_fields[] = {
        T("messages_published", M_COUNTER, published, "Messages published on the topic."),
        T("messages_delivered", M_COUNTER, delivered, "Copies delivered to its subscribers."),
        T32("subscribers", M_GAUGE, subscribers, "Exact subscriptions to the topic."),
        T32("wildcard_subscribers", M_GAUGE, wildcard_subscribers,
            "Subscriptions to TOPIC/*."),
        T32("reliable_subscribers", M_GAUGE, reliable, "Of those, reliable."),
        T32("history_messages", M_GAUGE, history_len, "Messages kept in its history."),
        T32("history_depth", M_GAUGE, history_depth, "Messages its history keeps at most."),
};

static void ring_labels(FILE *f, const void *obj)
{
        const struct wire_status_ring *g = obj;

        fprintf(f, "ring=\"");
        label_value(f, g->name, sizeof(g->name));
        fprintf(f, "\",gid=\"%" PRIu32 "\"", g->gid);
}

#define R(n, t, fld, h) F64(struct wire_status_ring, n, t, fld, h)
#define R32(n, t, fld, h) F32(struct wire_status_ring, n, t, fld, h)

static const struct field ring_fields[] = {
        R("size_bytes", M_GAUGE, size, "Size of the ring's segment."),
        R("used_bytes", M_GAUGE, used, "Ring bytes in flight: not released by every receiver."),
        R("lane_size_bytes", M_GAUGE, lane_size, "Size of one lane."),
        R32("lanes", M_GAUGE, lanes, "Lanes of the ring."),
        R32("lanes_used", M_GAUGE, lanes_used, "Lanes given to a producer."),
};

static int client_cmp(const void *a, const void *b)
{
        const struct wire_status_client *x = a, *y = b;

        return x->id < y->id ? -1 : x->id > y->id;
}

static int topic_cmp(const void *a, const void *b)
{
        const struct wire_status_topic *x = a, *y = b;

        return strncmp(x->name, y->name, sizeof(x->name));
}

/* The whole text of set into f (sorted in place, for a stable output). */
static int metrics_write(FILE *f, struct wire_status_set *set)
{
        int r;

        if (set->nclients > 1)
                qsort(set->clients, set->nclients, sizeof(*set->clients), client_cmp);
        if (set->ntopics > 1)
                qsort(set->topics, set->ntopics, sizeof(*set->topics), topic_cmp);
        daemon_families(f, &set->daemon);
        r = object_families(f, "client_", client_fields, ELEMENTSOF(client_fields),
                            set->clients, set->nclients, sizeof(*set->clients), client_labels);
        if (r == 0)
                client_dropped_by(f, set);
        if (r == 0)
                r = uid_families(f, set);
        if (r == 0)
                r = object_families(f, "topic_", topic_fields, ELEMENTSOF(topic_fields),
                                    set->topics, set->ntopics, sizeof(*set->topics),
                                    topic_labels);
        if (r == 0)
                r = object_families(f, "ring_", ring_fields, ELEMENTSOF(ring_fields), set->rings,
                                    set->nrings, sizeof(*set->rings), ring_labels);
        fputs("# EOF\n", f);
        return r;
}

/* The text into *text (*len bytes, malloc'd): 0 or -ENOMEM. */
static int metrics_text(struct wire_status_set *set, char **text, size_t *len)
{
        FILE *m = open_memstream(text, len);
        int r;

        if (!m)
                return -ENOMEM;
        r = metrics_write(m, set);
        if (fclose(m) != 0)
                r = -ENOMEM;
        if (r < 0) {
                free(*text);
                *text = NULL;
        }
        return r;
}

/* ------------------------------------------------------------------ */
/* --http                                                               */

/* What a request may be at most, and how long its sender has for it. */
#define HTTP_REQUEST_MAX 8192
#define HTTP_TIMEOUT_MS 10000

/* Read the request head (up to the empty line) from fd into buf[size]:
 * its length, or -ETIMEDOUT, -EMSGSIZE, -EBADMSG (closed early). */
static ssize_t http_read_head(int fd, char *buf, size_t size)
{
        uint64_t deadline = clock_deadline_ms(HTTP_TIMEOUT_MS);
        size_t n = 0;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int left = clock_remaining_ms(deadline);
                ssize_t k;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&p, 1, left) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n + 1 >= size)
                        return -EMSGSIZE;
                k = read(fd, buf + n, size - 1 - n);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EBADMSG;
                n += (size_t)k;
                buf[n] = '\0';
                if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
                        return (ssize_t)n;
        }
}

static void http_answer(int status, const char *reason, const char *type, const char *body,
                        size_t len, bool head)
{
        printf("HTTP/1.1 %d %s\r\n"
               "Content-Type: %s\r\n"
               "Content-Length: %zu\r\n"
               "Cache-Control: no-store\r\n"
               "Connection: close\r\n"
               "\r\n",
               status, reason, type, len);
        if (!head)
                fwrite(body, 1, len, stdout);
}

static void http_error(int status, const char *reason, const char *text, bool head)
{
        http_answer(status, reason, "text/plain; charset=utf-8", text, strlen(text), head);
}

/* From the request line: 0 (GET /metrics or /), or an answer's status
 * with *why set; *head for HEAD. */
static int http_route(const char *req, bool *head, const char **why)
{
        size_t m = strcspn(req, " "), p;
        const char *path;

        *head = m == 4 && strncmp(req, "HEAD", 4) == 0;
        if (req[m] != ' ') {
                *why = "Bad Request";
                return 400;
        }
        path = req + m + 1;
        p = strcspn(path, " ?\r\n");
        if (path[p] != ' ' && path[p] != '?') {
                *why = "Bad Request";
                return 400;
        }
        if (!(m == 3 && strncmp(req, "GET", 3) == 0) && !*head) {
                *why = "Method Not Allowed";
                return 405;
        }
        if (!((p == 1 && path[0] == '/') || (p == 8 && strncmp(path, "/metrics", 8) == 0))) {
                *why = "Not Found";
                return 404;
        }
        return 0;
}

static int metrics_http(const struct ctl *ctl)
{
        _cleanup_free_ char *req = malloc(HTTP_REQUEST_MAX);
        struct wire_status_set set = { 0 };
        const char *why = NULL;
        char error[128], *text = NULL;
        bool head = false;
        size_t len = 0;
        ssize_t n;
        int r;

        if (!req)
                return log_error("out of memory"), CTL_EXIT_FAILURE;
        n = http_read_head(STDIN_FILENO, req, HTTP_REQUEST_MAX);
        if (n < 0) {
                /* Too long or not a request: say so; a silent peer gets nothing. */
                if (n == -EMSGSIZE)
                        http_error(431, "Request Header Fields Too Large", "request too long\n",
                                   false);
                log_error_errno((int)n, "no HTTP request on stdin");
                fflush(stdout);
                return CTL_EXIT_FAILURE;
        }
        r = http_route(req, &head, &why);
        if (r > 0) {
                http_error(r, why, "ipcd metrics: GET /metrics\n", head);
        } else if ((r = ctl_status_query(ctl->rundir, &set, error, sizeof(error))) < 0) {
                char msg[256];

                snprintf(msg, sizeof(msg), "ipcd at %s: %s\n", ctl->rundir,
                         error[0] ? error : strerror(-r));
                http_error(503, "Service Unavailable", msg, head);
        } else if (metrics_text(&set, &text, &len) < 0) {
                http_error(500, "Internal Server Error", "out of memory\n", head);
        } else {
                http_answer(200, "OK", "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            text, len, head);
        }
        free(text);
        wire_status_set_free(&set);
        if (fflush(stdout) != 0 || ferror(stdout))
                return log_error_errno(negative_errno(), "cannot write the answer"),
                       CTL_EXIT_FAILURE;
        return CTL_EXIT_OK;
}

int cmd_metrics(struct ctl *ctl, int argc, char **argv)
{
        struct wire_status_set set = { 0 };
        char *text = NULL;
        size_t len = 0;
        int r;

        if (ctl->http)
                return metrics_http(ctl);
        r = ctl_status_fetch(ctl, &set);
        if (r != 0)
                return r;
        r = metrics_text(&set, &text, &len);
        wire_status_set_free(&set);
        if (r < 0)
                return log_error_errno(r, "cannot format the metrics"), CTL_EXIT_FAILURE;
        fwrite(text, 1, len, stdout);
        free(text);
        if (fflush(stdout) != 0 || ferror(stdout))
                return log_error_errno(negative_errno(), "cannot write the output"),
                       CTL_EXIT_FAILURE;
        return CTL_EXIT_OK;
}
