/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * status.c - `ipcdctl status`, `clients` and `topics`: one STATUS request
 * on the control channel, answered by ipcd with a stream of records
 * (DAEMON, QUEUE*, CLIENT*, RING*, TOPIC*) closed by END, as OpenBSD's
 * *ctl tools read list replies.  Printed as a summary and tables, or as
 * JSON.  `topics` asks twice, --interval apart, for its rates.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipcdctl/ipcdctl.h"
#include "ipcdctl/json.h"
#include "shared/clock.h"
#include "shared/ctlchan.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/rules.h"
#include "shared/wire.h"

/* Drop reasons (enum wire_drop_reason), as JSON keys and in the text. */
const char *const ctl_drop_reason_key[WIRE_DROP_REASONS] = {
        [WIRE_DROP_OVERFLOW] = "overflow",
        [WIRE_DROP_IGNORED] = "ignored_back_pressure",
        [WIRE_DROP_RING] = "ring_not_mapped",
        [WIRE_DROP_GONE] = "receiver_gone",
        [WIRE_DROP_MEMORY] = "memory_limit",
};

/* How long to wait for the first record before asking again, how often
 * to ask, and how long to wait for each following record. */
#define STATUS_FIRST_TIMEOUT_MS 1000
#define STATUS_ATTEMPTS 3
#define STATUS_NEXT_TIMEOUT_MS 5000

struct status {
        struct wire_status_set set;
        struct policy_rules *rules; /* POLICY: where the rules go; NULL: STATUS */
        bool have_daemon;
        char error[128]; /* message of an ERROR record */
};

static void status_done(struct status *st)
{
        wire_status_set_free(&st->set);
}

static void ctlchan_donep(struct ctlchan **ch)
{
        if (*ch)
                ctlchan_close(*ch, 0);
}

static int rules_add(struct policy_rules *pr, const struct wire_policy_rule *w)
{
        struct policy_rule *nv = realloc(pr->rules, (pr->n + 1) * sizeof(*pr->rules));
        int r;

        if (!nv)
                return -ENOMEM;
        pr->rules = nv;
        r = policy_rule_from_wire(&pr->rules[pr->n], w);
        if (r < 0)
                return r;
        pr->n++;
        return 0;
}

/* Ask ipcd for its status (or its rules: st->rules) and collect the
 * records up to END. */
static int status_fetch(const char *rundir, struct status *st)
{
        _cleanup_free_ struct ctlchan *chan = NULL;
        _cleanup_(ctlchan_donep) struct ctlchan *ch = NULL;
        union {
                struct wire_rec_error error;
                struct wire_status_daemon daemon;
                struct wire_status_queue queue;
                struct wire_status_client client;
                struct wire_status_ring ring;
                struct wire_status_topic topic;
                struct wire_status_channel channel;
                struct wire_policy_rule rule;
        } body;
        int r;

        chan = calloc(1, sizeof(*chan));
        if (!chan)
                return -ENOMEM;
        r = ctlchan_open(chan, rundir);
        if (r < 0)
                return r;
        ch = chan;

        /* The control channel is lossy by design (a garbled line costs only
         * itself): ask again when no answer comes. */
        for (int attempt = 0;; attempt++) {
                struct wire_ctl req = { .cmd = st->rules ? WIRE_CTL_POLICY : WIRE_CTL_STATUS };

                if (attempt == STATUS_ATTEMPTS)
                        return -ETIMEDOUT;
                r = ctlchan_send(ch, &req, STATUS_NEXT_TIMEOUT_MS);
                if (r < 0)
                        return r;
                memset(&body, 0, sizeof(body));
                r = ctlchan_read(ch, &body, sizeof(body), STATUS_FIRST_TIMEOUT_MS);
                if (r != -ETIMEDOUT)
                        break;
        }

        for (;;) {
                if (r < 0)
                        return r;
                switch (r) {
                case WIRE_REC_ERROR:
                        snprintf(st->error, sizeof(st->error), "%.*s",
                                 (int)strnlen(body.error.message, sizeof(body.error.message)),
                                 body.error.message);
                        if (!st->error[0])
                                snprintf(st->error, sizeof(st->error), "%s",
                                         strerror(body.error.error < 0 ? -body.error.error
                                                                       : EPROTO));
                        return body.error.error < 0 ? body.error.error : -EPROTO;
                case WIRE_REC_STATUS_DAEMON:
                case WIRE_REC_STATUS_QUEUE:
                case WIRE_REC_STATUS_CLIENT:
                case WIRE_REC_STATUS_RING:
                case WIRE_REC_STATUS_TOPIC:
                case WIRE_REC_STATUS_CHANNEL:
                        if (r == WIRE_REC_STATUS_DAEMON)
                                st->have_daemon = true;
                        r = wire_status_set_add(&st->set, r, &body);
                        break;
                case WIRE_REC_POLICY_RULE:
                        r = st->rules ? rules_add(st->rules, &body.rule) : 0;
                        break;
                case WIRE_REC_END:
                        return st->have_daemon ? 0 : -EBADMSG;
                default:
                        /* A record kind from a newer ipcd: skip it. */
                        break;
                }
                if (r < 0)
                        return r;
                memset(&body, 0, sizeof(body));
                r = ctlchan_read(ch, &body, sizeof(body), STATUS_NEXT_TIMEOUT_MS);
        }
}

int ctl_status_query(const char *rundir, struct wire_status_set *set, char *error,
                     size_t size)
{
        struct status st = { 0 };
        int r = status_fetch(rundir, &st);

        if (size)
                snprintf(error, size, "%s", st.error);
        if (r < 0) {
                status_done(&st);
                return r;
        }
        *set = st.set;
        return 0;
}

int ctl_policy_query(const char *rundir, struct wire_status_daemon *daemon,
                     struct policy_rules *rules, char *error, size_t size)
{
        struct status st = { .rules = rules };
        int r;

        *rules = (struct policy_rules){ 0 };
        r = status_fetch(rundir, &st);
        if (size)
                snprintf(error, size, "%s", st.error);
        *daemon = st.set.daemon;
        status_done(&st);
        if (r < 0)
                policy_rules_free(rules);
        return r;
}

int ctl_status_fetch(const struct ctl *ctl, struct wire_status_set *set)
{
        char error[128];
        int r = ctl_status_query(ctl->rundir, set, error, sizeof(error));

        if (r >= 0)
                return 0;
        if (error[0]) {
                log_error("status refused by ipcd at %s: %s (%s)", ctl->rundir, error,
                          ctl_errno_name(r));
                return CTL_EXIT_FAILURE;
        }
        return ctl_report_error(ctl, "status", r);
}

/* 0, or the exit status after printing why it failed. */
static int fetch_or_report(const struct ctl *ctl, struct status *st)
{
        int r = ctl_status_fetch(ctl, &st->set);

        st->have_daemon = r == 0;
        return r;
}

/* ------------------------------------------------------------------ */
/* Text tables: cells collected row by row, printed with column widths. */

/* A column: its heading, and whether it holds numbers (right-aligned). */
struct column {
        const char *name;
        bool right;
};

struct table {
        const struct column *cols;
        size_t ncols;
        size_t ncells;
        size_t cap;
        char **cells; /* row-major; the first row is the header */
};

static void table_done(struct table *t)
{
        for (size_t i = 0; i < t->ncells; i++)
                free(t->cells[i]);
        free(t->cells);
}

_printf_(2, 3) static int table_add(struct table *t, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        if (t->ncells == t->cap) {
                size_t ncap = t->cap ? t->cap * 2 : 64;
                char **n = realloc(t->cells, ncap * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                t->cells = n;
                t->cap = ncap;
        }
        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        t->cells[t->ncells++] = s;
        return 0;
}

/* Numbers right-aligned, text left-aligned; two spaces between columns;
 * every line starts with indent. */
static void table_print(const struct table *t, const char *indent)
{
        size_t w[16] = { 0 };
        size_t ncols = MIN(t->ncols, ELEMENTSOF(w));

        for (size_t i = 0; i < t->ncells; i++) {
                size_t c = i % t->ncols;

                if (c < ncols)
                        w[c] = MAX(w[c], strlen(t->cells[i]));
        }
        for (size_t i = 0; i < t->ncells; i++) {
                size_t c = i % t->ncols;
                bool last = c + 1 == t->ncols;

                if (c == 0)
                        fputs(indent, stdout);
                if (c >= ncols)
                        fputs(t->cells[i], stdout);
                else if (t->cols[c].right)
                        printf("%*s", (int)w[c], t->cells[i]);
                else if (last)
                        fputs(t->cells[i], stdout);
                else
                        printf("%-*s", (int)w[c], t->cells[i]);
                fputs(last ? "\n" : "  ", stdout);
        }
}

/* A table of the first ncols of cols, with their header row. */
static int table_begin(struct table *t, const struct column *cols, size_t ncols)
{
        int r = 0;

        *t = (struct table){ .cols = cols, .ncols = ncols };
        for (size_t c = 0; c < ncols; c++)
                r |= table_add(t, "%s", cols[c].name);
        return r;
}

/* Print t when every cell was made (r, the cells' results or-ed, is 0),
 * free it, and return 0 or -ENOMEM. */
static int table_end(struct table *t, int r, const char *indent)
{
        if (r == 0)
                table_print(t, indent);
        table_done(t);
        return r < 0 ? -ENOMEM : 0;
}

/* A name from a fixed-size record field, which may lack its NUL. */
static int field_len(const char *s, size_t size)
{
        return (int)strnlen(s, size);
}

/* A byte count the way ls -h writes it: "512", "1.5K", "64M".  The JSON
 * output has the exact numbers. */
void ctl_format_size(uint64_t v, char *buf, size_t size)
{
        static const char units[] = "KMGTPE";
        double x = (double)v;
        size_t u = 0;

        if (v < 1024) {
                snprintf(buf, size, "%" PRIu64, v);
                return;
        }
        x /= 1024;
        while (x >= 1024 && u + 1 < sizeof(units) - 1) {
                x /= 1024;
                u++;
        }
        if (x < 10)
                snprintf(buf, size, "%.1f%c", x, units[u]);
        else
                snprintf(buf, size, "%.0f%c", x, units[u]);
}

static int table_add_size(struct table *t, uint64_t v)
{
        char buf[32];

        ctl_format_size(v, buf, sizeof(buf));
        return table_add(t, "%s", buf);
}

static int table_add_name(struct table *t, const char *name, size_t size)
{
        int n = field_len(name, size);

        return table_add(t, "%.*s", n > 0 ? n : 1, n > 0 ? name : "-");
}

/* A table of nrows rows under the first ncols of cols, or the line
 * "(empty)" when there are none; row(t, i, userdata) adds row i's cells. */
static int print_table(const char *indent, const char *empty, const struct column *cols,
                       size_t ncols, size_t nrows,
                       int (*row)(struct table *t, size_t i, const void *userdata),
                       const void *userdata)
{
        struct table t;
        int r;

        if (nrows == 0) {
                printf("%s(%s)\n", indent, empty);
                return 0;
        }
        r = table_begin(&t, cols, ncols);
        for (size_t i = 0; i < nrows; i++)
                r |= row(&t, i, userdata);
        return table_end(&t, r, indent);
}

/* One statement a cell below: the cells go in in order. */

/* The first two columns of both client tables. */
static int table_add_client(struct table *t, const struct wire_status_client *c)
{
        int r = table_add(t, "%" PRIu64, c->id);

        r |= table_add_name(t, c->name, sizeof(c->name));
        return r;
}

static int client_row(struct table *t, size_t i, const void *userdata)
{
        const struct status *st = userdata;
        const struct wire_status_client *c = &st->set.clients[i];
        int r = table_add_client(t, c);

        r |= table_add(t, "%" PRIu32, c->uid);
        r |= table_add(t, "%" PRId32, c->pid);
        r |= table_add(t, "%" PRId32, c->qid);
        r |= table_add(t, "%" PRId32, c->inbound_qid);
        r |= table_add(t, "%" PRIu64, c->queued);
        r |= table_add(t, "%" PRIu64, c->sent);
        r |= table_add(t, "%" PRIu64, c->received);
        r |= table_add(t, "%" PRIu64, c->dropped);
        r |= table_add(t, "%s", c->unit[0] ? c->unit : "-");
        return r;
}

static int print_client_table(const struct status *st, const char *indent)
{
        static const struct column cols[] = {
                { "ID", true },     { "NAME", false },   { "UID", true },    { "PID", true },
                { "QUEUE", true },  { "INBOUND", true }, { "QUEUED", true }, { "SENT", true },
                { "RECEIVED", true }, { "DROPPED", true }, { "UNIT", false },
        };

        return print_table(indent, "no clients", cols, ELEMENTSOF(cols), st->set.nclients,
                           client_row, st);
}

/* The second half of a client's row, kept apart so that each table fits
 * a terminal: subscriptions, calls waiting for its reply, bulk bytes,
 * lanes, and its sends to a name nobody held. */
static int client_activity_row(struct table *t, size_t i, const void *userdata)
{
        const struct status *st = userdata;
        const struct wire_status_client *c = &st->set.clients[i];
        int r = table_add_client(t, c);

        r |= table_add(t, "%" PRIu32, c->subscriptions);
        r |= table_add(t, "%" PRIu32, c->pending_calls);
        r |= table_add_size(t, c->bulk_sent);
        r |= table_add_size(t, c->bulk_received);
        r |= table_add_size(t, c->bulk_held);
        r |= table_add(t, "%" PRIu32, c->lanes);
        r |= table_add(t, "%" PRIu64, c->unroutable);
        return r;
}

static int print_client_activity_table(const struct status *st, const char *indent)
{
        static const struct column cols[] = {
                { "ID", true },        { "NAME", false },          { "SUBSCRIPTIONS", true },
                { "CALLS", true },     { "BULK-SENT", true },      { "BULK-RECEIVED", true },
                { "BULK-HELD", true }, { "LANES", true },          { "UNROUTABLE", true },
        };

        return print_table(indent, "no clients", cols, ELEMENTSOF(cols), st->set.nclients,
                           client_activity_row, st);
}

static void format_uptime(uint64_t ms, char *buf, size_t size)
{
        uint64_t s = ms / 1000;
        uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

        if (d)
                snprintf(buf, size, "%" PRIu64 "d %02" PRIu64 "h %02" PRIu64 "m %02" PRIu64 "s", d,
                         h, m, s % 60);
        else if (h)
                snprintf(buf, size, "%" PRIu64 "h %02" PRIu64 "m %02" PRIu64 "s", h, m, s % 60);
        else if (m)
                snprintf(buf, size, "%" PRIu64 "m %02" PRIu64 "s", m, s % 60);
        else
                snprintf(buf, size, "%" PRIu64 ".%01" PRIu64 "s", s, ms % 1000 / 100);
}

static int ring_row(struct table *t, size_t i, const void *userdata)
{
        const struct status *st = userdata;
        const struct wire_status_ring *g = &st->set.rings[i];
        int r = table_add_name(t, g->name, sizeof(g->name));

        r |= table_add(t, "%" PRId32, g->shmid);
        r |= table_add(t, "%" PRIu32, g->gid);
        r |= table_add_size(t, g->size);
        r |= table_add_size(t, g->lane_size);
        r |= table_add(t, "%" PRIu32 "/%" PRIu32, g->lanes_used, g->lanes);
        r |= table_add_size(t, g->used);
        return r;
}

static int print_ring_table(const struct status *st, const char *indent)
{
        static const struct column cols[] = {
                { "NAME", false },     { "SHMID", true },      { "GID", true },
                { "SIZE", true },      { "LANE-SIZE", true },  { "LANES-USED", true },
                { "IN-FLIGHT", true },
        };

        return print_table(indent, "none", cols, ELEMENTSOF(cols), st->set.nrings, ring_row, st);
}

static int channel_row(struct table *t, size_t i, const void *userdata)
{
        const struct status *st = userdata;
        const struct wire_status_channel *c = &st->set.channels[i];
        int r = table_add(t, "%" PRIu64, c->id);

        r |= table_add(t, "%" PRId32, c->shmid);
        r |= table_add(t, "%s", c->state ? "open" : "offered");
        r |= table_add(t, "%" PRIu64 "/%" PRIu32, c->opener_id, c->opener_uid);
        r |= table_add(t, "%" PRIu64 "/%" PRIu32, c->acceptor_id, c->acceptor_uid);
        r |= table_add_size(t, c->dir_bytes);
        r |= table_add(t, "%" PRIu64 "/%" PRIu64, c->sent[0], c->received[0]);
        r |= table_add(t, "%" PRIu64 "/%" PRIu64, c->sent[1], c->received[1]);
        return r;
}

static int print_channel_table(const struct status *st, const char *indent)
{
        static const struct column cols[] = {
                { "ID", true },         { "SHMID", true },     { "STATE", false },
                { "OPENER/UID", true }, { "ACCEPTOR/UID", true }, { "RING", true },
                { "O->A SENT/READ", true }, { "A->O SENT/READ", true },
        };

        return print_table(indent, "none", cols, ELEMENTSOF(cols), st->set.nchannels, channel_row,
                           st);
}

static int queue_row(struct table *t, size_t i, const void *userdata)
{
        const struct status *st = userdata;
        const struct wire_status_queue *q = &st->set.queues[i];
        int r = table_add(t, "%" PRIu32, q->uid);

        r |= table_add(t, "%" PRId32, q->qid);
        r |= table_add(t, "%" PRIu32, q->nclients);
        r |= table_add(t, "%" PRIu32, q->qnum);
        return r;
}

static int print_queue_table(const struct status *st, const char *indent)
{
        static const struct column cols[] = {
                { "UID", true }, { "MSQID", true }, { "CLIENTS", true }, { "WAITING", true },
        };

        return print_table(indent, "none", cols, ELEMENTSOF(cols), st->set.nqueues, queue_row, st);
}

static int print_status_text(const struct ctl *ctl, const struct status *st)
{
        const struct wire_status_daemon *d = &st->set.daemon;
        char up[64];
        int r = 0;

        format_uptime(d->uptime_ms, up, sizeof(up));
        printf("ipcd %.*s, pid %" PRId32 ", up %s, runtime directory %s\n",
               field_len(d->version, sizeof(d->version)), d->version, d->pid, up, ctl->rundir);
        printf("  clients:        %" PRIu32 " connected, at most %" PRIu32 "\n", d->nclients,
               d->max_clients);
        printf("  messages:       %" PRIu64 " accepted, %" PRIu64 " routed, %" PRIu64
               " dropped, %" PRIu64 " to a name nobody held\n",
               d->accepted, d->routed, d->dropped, d->unroutable);
        if (d->dropped) {
                const char *sep = "";

                printf("  dropped for:    ");
                for (int i = 0; i < WIRE_DROP_REASONS; i++)
                        if (d->dropped_by[i]) {
                                printf("%s%" PRIu64 " %s", sep, d->dropped_by[i],
                                       ctl_drop_reason_key[i]);
                                sep = ", ";
                        }
                printf("\n");
        }
        printf("  publishes:      %" PRIu64 " accepted, %" PRIu64 " heard by nobody\n",
               d->published, d->unheard);
        printf("  topics:         %" PRIu32 " (ipcdctl topics lists them)\n", d->ntopics);
        printf("  monitors:       %" PRIu32 " watching\n", d->nmonitors);
        if (d->policy_rules)
                printf("  policy:         %" PRIu32 " rules, %" PRIu64 " actions denied\n",
                       d->policy_rules, d->policy_denied);
        printf("  backlog:        %" PRIu64 " bytes waiting in ipcd\n", d->backlog_bytes);
        printf("  queue size:     %" PRIu32 " bytes per client queue", d->queue_bytes);
        if (d->max_payload)
                printf(", inline payloads up to %" PRIu32 " bytes", d->max_payload);
        putchar('\n');
        printf("  registrations:  %" PRIu64 " accepted, %" PRIu64 " refused\n", d->registrations,
               d->refused);
        printf("  rejected:       %" PRIu64 " control lines, %" PRIu64 " inbound records, %" PRIu64
               " requests over a limit\n",
               d->bad_control, d->bad_inbound, d->limit_hits);

        printf("\ninbound queues (one per client uid):\n");
        r |= print_queue_table(st, "  ");

        printf("\nrings (bulk payloads; IN-FLIGHT: bytes not yet released by every receiver):\n");
        r |= print_ring_table(st, "  ");

        printf("\ndirect channels (counters as the ends wrote them in the segment):\n");
        r |= print_channel_table(st, "  ");

        printf("\nclients:\n");
        r |= print_client_table(st, "  ");
        if (st->set.nclients > 0) {
                printf("\nclients' subscriptions, unanswered calls, bulk bytes and sends to a "
                       "name nobody held:\n");
                r |= print_client_activity_table(st, "  ");
        }
        return r < 0 ? -ENOMEM : 0;
}

static void json_drop_reasons(struct json *j, const uint64_t *by)
{
        json_begin_object(j, "dropped_by");
        for (int i = 0; i < WIRE_DROP_REASONS; i++)
                json_u64(j, ctl_drop_reason_key[i], by[i]);
        json_end_object(j);
}

static void json_client(struct json *j, const struct wire_status_client *c)
{
        json_begin_object(j, NULL);
        json_u64(j, "id", c->id);
        /* Anonymous clients have the name "", as ipcd_msg.sender does. */
        json_strn(j, "name", c->name, strnlen(c->name, sizeof(c->name)));
        json_u64(j, "uid", c->uid);
        /* Its systemd unit from its cgroup at registration; "" none. */
        json_strn(j, "unit", c->unit, strnlen(c->unit, sizeof(c->unit)));
        json_i64(j, "pid", c->pid);
        json_i64(j, "queue", c->qid);
        json_i64(j, "inbound_queue", c->inbound_qid);
        json_u64(j, "queued", c->queued);
        json_u64(j, "sent", c->sent);
        json_u64(j, "received", c->received);
        json_u64(j, "dropped", c->dropped);
        json_u64(j, "unroutable", c->unroutable);
        json_u64(j, "backlog_bytes", c->backlog_bytes);
        json_u64(j, "connected_s", c->connected_ms / 1000);
        json_u64(j, "subscriptions", c->subscriptions);
        json_u64(j, "pending_calls", c->pending_calls);
        json_u64(j, "bulk_sent", c->bulk_sent);
        json_u64(j, "bulk_received", c->bulk_received);
        json_u64(j, "bulk_held", c->bulk_held);
        json_u64(j, "lanes", c->lanes);
        /* Flow control: what was dropped for it, by reason; its own sends
         * dropped for ignoring back pressure; its reliable subscriptions. */
        json_drop_reasons(j, c->dropped_by);
        json_u64(j, "dropped_ignored_sent", c->dropped_ignored);
        json_u64(j, "reliable_subscriptions", c->reliable_subs);
        json_end_object(j);
}

/* The fields of a topic object; the caller opens and closes it. */
static void json_topic_fields(struct json *j, const struct wire_status_topic *t)
{
        json_strn(j, "name", t->name, strnlen(t->name, sizeof(t->name)));
        json_u64(j, "subscribers", t->subscribers);
        json_u64(j, "reliable_subscribers", t->reliable);
        json_u64(j, "history_depth", t->history_depth);
        json_u64(j, "history_kept", t->history_len);
        json_u64(j, "published", t->published);
        json_u64(j, "delivered", t->delivered);
}

static int topic_cmp(const void *a, const void *b)
{
        const struct wire_status_topic *x = a, *y = b;

        return strncmp(x->name, y->name, sizeof(x->name));
}

static void sort_topics(struct status *st)
{
        if (st->set.ntopics > 1)
                qsort(st->set.topics, st->set.ntopics, sizeof(*st->set.topics), topic_cmp);
}

static void print_status_json(const struct ctl *ctl, const struct status *st)
{
        const struct wire_status_daemon *d = &st->set.daemon;
        struct json j;

        json_init(&j, stdout);
        json_begin_object(&j, NULL);
        json_i64(&j, "pid", d->pid);
        json_strn(&j, "version", d->version, strnlen(d->version, sizeof(d->version)));
        json_u64(&j, "uptime_s", d->uptime_ms / 1000);
        json_u64(&j, "uptime_ms", d->uptime_ms);
        json_str(&j, "runtime_dir", ctl->rundir);
        json_u64(&j, "nclients", d->nclients);
        json_u64(&j, "max_clients", d->max_clients);
        json_u64(&j, "queue_bytes", d->queue_bytes);
        json_u64(&j, "max_payload", d->max_payload);
        json_u64(&j, "backlog_bytes", d->backlog_bytes);
        json_u64(&j, "ntopics", d->ntopics);
        json_u64(&j, "monitors", d->nmonitors);

        json_begin_array(&j, "inbound_queues");
        for (size_t i = 0; i < st->set.nqueues; i++) {
                json_begin_object(&j, NULL);
                json_u64(&j, "uid", st->set.queues[i].uid);
                json_i64(&j, "id", st->set.queues[i].qid);
                json_u64(&j, "clients", st->set.queues[i].nclients);
                json_u64(&j, "messages", st->set.queues[i].qnum);
                json_end_object(&j);
        }
        json_end_array(&j);

        json_begin_array(&j, "clients");
        for (size_t i = 0; i < st->set.nclients; i++)
                json_client(&j, &st->set.clients[i]);
        json_end_array(&j);

        json_begin_array(&j, "rings");
        for (size_t i = 0; i < st->set.nrings; i++) {
                const struct wire_status_ring *g = &st->set.rings[i];

                json_begin_object(&j, NULL);
                json_strn(&j, "name", g->name, strnlen(g->name, sizeof(g->name)));
                json_i64(&j, "shmid", g->shmid);
                json_u64(&j, "size", g->size);
                json_u64(&j, "used", g->used);
                json_u64(&j, "lanes", g->lanes);
                json_u64(&j, "lanes_used", g->lanes_used);
                json_u64(&j, "lane_size", g->lane_size);
                json_u64(&j, "gid", g->gid);
                json_end_object(&j);
        }
        json_end_array(&j);

        json_begin_array(&j, "channels");
        for (size_t i = 0; i < st->set.nchannels; i++) {
                const struct wire_status_channel *c = &st->set.channels[i];

                json_begin_object(&j, NULL);
                json_u64(&j, "id", c->id);
                json_i64(&j, "shmid", c->shmid);
                json_strn(&j, "state", c->state ? "open" : "offered", c->state ? 4 : 7);
                json_u64(&j, "opener", c->opener_id);
                json_u64(&j, "opener_uid", c->opener_uid);
                json_u64(&j, "acceptor", c->acceptor_id);
                json_u64(&j, "acceptor_uid", c->acceptor_uid);
                json_u64(&j, "ring_bytes", c->dir_bytes);
                json_u64(&j, "sent_to_acceptor", c->sent[0]);
                json_u64(&j, "read_by_acceptor", c->received[0]);
                json_u64(&j, "sent_to_opener", c->sent[1]);
                json_u64(&j, "read_by_opener", c->received[1]);
                json_end_object(&j);
        }
        json_end_array(&j);

        json_begin_array(&j, "topics");
        for (size_t i = 0; i < st->set.ntopics; i++) {
                json_begin_object(&j, NULL);
                json_topic_fields(&j, &st->set.topics[i]);
                json_end_object(&j);
        }
        json_end_array(&j);

        json_begin_object(&j, "counters");
        json_u64(&j, "routed", d->routed);
        json_u64(&j, "dropped", d->dropped);
        json_u64(&j, "accepted", d->accepted);
        json_u64(&j, "published", d->published);
        json_u64(&j, "unheard", d->unheard);
        json_u64(&j, "registrations", d->registrations);
        json_u64(&j, "refused", d->refused);
        json_u64(&j, "bad_control", d->bad_control);
        json_u64(&j, "bad_inbound", d->bad_inbound);
        json_u64(&j, "limit_hits", d->limit_hits);
        json_u64(&j, "unroutable", d->unroutable);
        json_u64(&j, "policy_denied", d->policy_denied);
        json_u64(&j, "policy_rules", d->policy_rules);
        json_drop_reasons(&j, d->dropped_by);
        json_end_object(&j);

        json_end_object(&j);
}

static int finish_output(void)
{
        if (fflush(stdout) != 0 || ferror(stdout)) {
                log_error_errno(negative_errno(), "cannot write the output");
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_OK;
}

/* Fetch one snapshot, print it, and return the exit status; what names
 * the output in the message when print fails (-ENOMEM). */
static int status_show(struct ctl *ctl, int (*print)(const struct ctl *ctl, struct status *st),
                       const char *what)
{
        struct status st = { 0 };
        int r;

        r = fetch_or_report(ctl, &st);
        if (r == 0)
                r = print(ctl, &st);
        status_done(&st);
        if (r > 0)
                return r;
        if (r < 0)
                return log_error_errno(r, "cannot format the %s", what), CTL_EXIT_FAILURE;
        return finish_output();
}

static int print_status(const struct ctl *ctl, struct status *st)
{
        sort_topics(st);
        if (!ctl->json)
                return print_status_text(ctl, st);
        print_status_json(ctl, st);
        return 0;
}

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
        return status_show(ctl, print_status, "status");
}

static int print_clients(const struct ctl *ctl, struct status *st)
{
        struct json j;

        if (!ctl->json)
                return print_client_table(st, "");
        json_init(&j, stdout);
        json_begin_array(&j, NULL);
        for (size_t i = 0; i < st->set.nclients; i++)
                json_client(&j, &st->set.clients[i]);
        json_end_array(&j);
        return 0;
}

int cmd_clients(struct ctl *ctl, int argc, char **argv)
{
        return status_show(ctl, print_clients, "client table");
}

/* ------------------------------------------------------------------ */
/* topics                                                               */

/* Messages per second published on t (and copies delivered) between
 * the snapshots `before` (sorted) and `now`, elapsed_ms apart.  A topic
 * that is not in `before` did not exist then: its counters started at 0
 * since.  Counters that went backwards belong to a topic that was freed
 * and made again: they count from then. */
static void topic_rates(const struct status *before, const struct wire_status_topic *t,
                        uint64_t elapsed_ms, double *published, double *delivered)
{
        const struct wire_status_topic *b = NULL;
        uint64_t dp = t->published, dd = t->delivered;

        if (before->set.ntopics > 0)
                b = bsearch(t, before->set.topics, before->set.ntopics, sizeof(*t), topic_cmp);
        if (b && t->published >= b->published && t->delivered >= b->delivered) {
                dp = t->published - b->published;
                dd = t->delivered - b->delivered;
        }
        *published = (double)dp * 1000.0 / (double)elapsed_ms;
        *delivered = (double)dd * 1000.0 / (double)elapsed_ms;
}

/* What a row of the topic table needs: the snapshot, and the one
 * elapsed_ms before it for the rates (NULL: no rates). */
struct topic_rows {
        const struct status *st, *before;
        uint64_t elapsed_ms;
};

static int topic_row(struct table *t, size_t i, const void *userdata)
{
        const struct topic_rows *tr = userdata;
        const struct wire_status_topic *tp = &tr->st->set.topics[i];
        int r = table_add_name(t, tp->name, sizeof(tp->name));

        r |= table_add(t, "%" PRIu32, tp->subscribers);
        r |= table_add(t, "%" PRIu32, tp->reliable);
        if (tp->history_depth)
                r |= table_add(t, "%" PRIu32 "/%" PRIu32, tp->history_len, tp->history_depth);
        else
                r |= table_add(t, "-");
        r |= table_add(t, "%" PRIu64, tp->published);
        r |= table_add(t, "%" PRIu64, tp->delivered);
        if (tr->before) {
                double p, d;

                topic_rates(tr->before, tp, tr->elapsed_ms, &p, &d);
                r |= table_add(t, "%.1f", p);
        }
        return r;
}

static int print_topics_text(const struct status *st, const struct status *before,
                             uint64_t elapsed_ms)
{
        static const struct column cols[] = {
                { "TOPIC", false },     { "SUBSCRIBERS", true }, { "RELIABLE", true },
                { "HISTORY", true },    { "PUBLISHED", true },   { "DELIVERED", true },
                { "MSG/S", true },
        };
        struct topic_rows tr = { .st = st, .before = before, .elapsed_ms = elapsed_ms };

        int r;

        /* MSG/S only with a snapshot before to count from. */
        r = print_table("", "no topics", cols, before ? 7 : 6, st->set.ntopics, topic_row, &tr);
        /* ipcd caps a STATUS answer (parked_bytes_per_uid): say so. */
        if (r == 0 && st->have_daemon && st->set.daemon.ntopics > st->set.ntopics)
                printf("(%zu more topics not listed: the answer is capped by "
                       "parked_bytes_per_uid)\n",
                       (size_t)st->set.daemon.ntopics - st->set.ntopics);
        return r;
}

static void print_topics_json(const struct status *st, const struct status *before,
                              uint64_t elapsed_ms)
{
        struct json j;

        json_init(&j, stdout);
        json_begin_array(&j, NULL);
        for (size_t i = 0; i < st->set.ntopics; i++) {
                json_begin_object(&j, NULL);
                json_topic_fields(&j, &st->set.topics[i]);
                if (before) {
                        double p, d;

                        topic_rates(before, &st->set.topics[i], elapsed_ms, &p, &d);
                        json_fixed(&j, "rate", p, 1);
                        json_fixed(&j, "delivered_rate", d, 1);
                }
                json_end_object(&j);
        }
        json_end_array(&j);
}

int cmd_topics(struct ctl *ctl, int argc, char **argv)
{
        struct status before = { 0 }, st = { 0 };
        bool rates = ctl->interval_ms > 0;
        uint64_t elapsed_ms = 0;
        int r;

        r = fetch_or_report(ctl, rates ? &before : &st);
        if (r != 0)
                goto out;
        if (rates) {
                sort_topics(&before);
                clock_sleep_us((uint64_t)ctl->interval_ms * USEC_PER_MSEC);
                r = fetch_or_report(ctl, &st);
                if (r != 0)
                        goto out;
                /* Rates from ipcd's own clock: the two snapshots were taken
                 * uptime_ms apart, whatever the delays on the way. */
                if (st.set.daemon.pid != before.set.daemon.pid ||
                    st.set.daemon.uptime_ms < before.set.daemon.uptime_ms) {
                        log_error("ipcd at %s restarted during the measurement; try again",
                                  ctl->rundir);
                        r = CTL_EXIT_FAILURE;
                        goto out;
                }
                elapsed_ms = st.set.daemon.uptime_ms - before.set.daemon.uptime_ms;
                if (elapsed_ms == 0)
                        elapsed_ms = (uint64_t)ctl->interval_ms;
        }
        sort_topics(&st);
        if (ctl->json)
                print_topics_json(&st, rates ? &before : NULL, elapsed_ms);
        else
                r = print_topics_text(&st, rates ? &before : NULL, elapsed_ms);
        if (r < 0) {
                log_error_errno(r, "cannot format the topic table");
                r = CTL_EXIT_FAILURE;
                goto out;
        }
        r = finish_output();
out:
        status_done(&before);
        status_done(&st);
        return r;
}
