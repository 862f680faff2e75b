/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * top.c - `ipcdctl top`: a live view of ipcd, a STATUS answer every
 * --interval milliseconds: a header with the daemon's totals and rates,
 * and a table of the clients or the topics (`t` toggles) with their
 * per-second rates, sorted by a column (`<` `>` pick it, `r` reverses).
 * `q` quits.  Full screen with ncurses when stdout is a terminal (and
 * ipcdctl was built with ncurses); otherwise the same header and table
 * printed again each interval, until SIGINT or SIGTERM.
 *
 * Rates come from two answers and ipcd's own clock (uptime_ms), so a slow
 * answer does not bend them.  Lines are formatted once as text, for both
 * outputs; ncurses only places and highlights them.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_NCURSES
#include <curses.h>
#endif

#include "ipcdctl/ipcdctl.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/wire.h"

enum view { VIEW_CLIENTS, VIEW_TOPICS };

/* How a numeric cell is written. */
enum fmt { FMT_INT, FMT_RATE, FMT_SIZE, FMT_SIZE_RATE };

struct col {
        const char *name;
        int width;
        enum fmt fmt; /* column 0 is the text NAME / TOPIC */
};

#define NCOLS_MAX 12

static const struct col client_cols[] = {
        { "NAME", 20, FMT_INT },    { "ID", 6, FMT_INT },         { "UID", 6, FMT_INT },
        { "SENT/S", 9, FMT_RATE },  { "RECV/S", 9, FMT_RATE },    { "BULK-IN/S", 10, FMT_SIZE_RATE },
        { "BULK-OUT/S", 10, FMT_SIZE_RATE },                      { "DROP/S", 8, FMT_RATE },
        { "QUEUED", 7, FMT_INT },   { "BACKLOG", 8, FMT_SIZE },   { "HELD", 7, FMT_SIZE },
};

static const struct col topic_cols[] = {
        { "TOPIC", 24, FMT_INT },      { "SUBS", 5, FMT_INT },       { "RELIABLE", 8, FMT_INT },
        { "PUB/S", 9, FMT_RATE },      { "DELIV/S", 9, FMT_RATE },   { "PUBLISHED", 10, FMT_INT },
        { "DELIVERED", 10, FMT_INT },  { "HISTORY", 7, FMT_INT },
};

/* The default sort column of each view: what moves most. */
#define CLIENT_SORT 3
#define TOPIC_SORT 3

struct row {
        char name[WIRE_NAME_MAX];
        double v[NCOLS_MAX]; /* NAN: no rate yet */
};

struct top {
        const struct ctl *ctl;
        struct wire_status_set now, before;
        bool have_now, have_before;
        enum view view;
        int sort[2];  /* per view */
        bool reverse; /* ascending instead of descending */
        char error[160]; /* why the last refresh failed, "" */
        struct row *rows;
        size_t nrows;
};

static int client_id_cmp(const void *a, const void *b)
{
        const struct wire_status_client *x = a, *y = b;

        return x->id < y->id ? -1 : x->id > y->id;
}

static int topic_name_cmp(const void *a, const void *b)
{
        const struct wire_status_topic *x = a, *y = b;

        return strncmp(x->name, y->name, sizeof(x->name));
}

/* ms between the two answers, 0 when there is no earlier one of the same
 * ipcd. */
static uint64_t top_elapsed_ms(const struct top *t)
{
        const struct wire_status_daemon *a = &t->before.daemon, *b = &t->now.daemon;

        if (!t->have_before || a->pid != b->pid || b->uptime_ms <= a->uptime_ms)
                return 0;
        return b->uptime_ms - a->uptime_ms;
}

/* Per second from a counter now and before (NAN without an earlier
 * answer); a counter that went backwards counts from 0. */
static double rate(uint64_t now, uint64_t before, bool known, uint64_t ms)
{
        if (ms == 0)
                return NAN;
        if (!known || now < before)
                before = 0;
        return (double)(now - before) * 1000.0 / (double)ms;
}

static void client_rows(struct top *t, uint64_t ms)
{
        for (size_t i = 0; i < t->now.nclients; i++) {
                const struct wire_status_client *c = &t->now.clients[i], *b = NULL;
                struct row *w = &t->rows[i];
                bool k;

                if (ms && t->before.nclients)
                        b = bsearch(c, t->before.clients, t->before.nclients, sizeof(*c),
                                    client_id_cmp);
                k = b != NULL;
                if (c->name[0])
                        snprintf(w->name, sizeof(w->name), "%.*s",
                                 (int)strnlen(c->name, sizeof(c->name)), c->name);
                else
                        snprintf(w->name, sizeof(w->name), "-"); /* anonymous */
                w->v[1] = (double)c->id;
                w->v[2] = c->uid;
                w->v[3] = rate(c->sent, k ? b->sent : 0, k, ms);
                w->v[4] = rate(c->received, k ? b->received : 0, k, ms);
                w->v[5] = rate(c->bulk_sent, k ? b->bulk_sent : 0, k, ms);
                w->v[6] = rate(c->bulk_received, k ? b->bulk_received : 0, k, ms);
                w->v[7] = rate(c->dropped, k ? b->dropped : 0, k, ms);
                w->v[8] = (double)c->queued;
                w->v[9] = (double)c->backlog_bytes;
                w->v[10] = (double)c->bulk_held;
        }
        t->nrows = t->now.nclients;
}

static void topic_rows(struct top *t, uint64_t ms)
{
        for (size_t i = 0; i < t->now.ntopics; i++) {
                const struct wire_status_topic *p = &t->now.topics[i], *b = NULL;
                struct row *w = &t->rows[i];
                bool k;

                if (ms && t->before.ntopics)
                        b = bsearch(p, t->before.topics, t->before.ntopics, sizeof(*p),
                                    topic_name_cmp);
                k = b != NULL;
                snprintf(w->name, sizeof(w->name), "%.*s",
                         (int)strnlen(p->name, sizeof(p->name)), p->name);
                w->v[1] = p->subscribers + p->wildcard_subscribers;
                w->v[2] = p->reliable;
                w->v[3] = rate(p->published, k ? b->published : 0, k, ms);
                w->v[4] = rate(p->delivered, k ? b->delivered : 0, k, ms);
                w->v[5] = (double)p->published;
                w->v[6] = (double)p->delivered;
                w->v[7] = p->history_len;
        }
        t->nrows = t->now.ntopics;
}

/* The sort of qsort: no context argument. */
static int sort_col;
static bool sort_reverse;

static int row_cmp(const void *a, const void *b)
{
        const struct row *x = a, *y = b;
        int r;

        if (sort_col == 0) {
                r = strcmp(x->name, y->name);
                return sort_reverse ? -r : r;
        } else {
                double p = isnan(x->v[sort_col]) ? -1 : x->v[sort_col];
                double q = isnan(y->v[sort_col]) ? -1 : y->v[sort_col];

                r = p < q ? 1 : p > q ? -1 : strcmp(x->name, y->name);
                return sort_reverse ? -r : r;
        }
}

static const struct col *view_cols(enum view v, size_t *n)
{
        *n = v == VIEW_CLIENTS ? ELEMENTSOF(client_cols) : ELEMENTSOF(topic_cols);
        return v == VIEW_CLIENTS ? client_cols : topic_cols;
}

/* The rows of the current view, sorted: 0 or -ENOMEM. */
static int top_rows(struct top *t)
{
        size_t n = MAX(t->now.nclients, t->now.ntopics);
        uint64_t ms = top_elapsed_ms(t);
        struct row *rows;

        rows = calloc(n ? n : 1, sizeof(*rows));
        if (!rows)
                return -ENOMEM;
        free(t->rows);
        t->rows = rows;
        t->nrows = 0;
        if (!t->have_now)
                return 0;
        if (t->view == VIEW_CLIENTS)
                client_rows(t, ms);
        else
                topic_rows(t, ms);
        sort_col = t->sort[t->view];
        sort_reverse = t->reverse;
        if (t->nrows > 1)
                qsort(t->rows, t->nrows, sizeof(*t->rows), row_cmp);
        return 0;
}

/* ------------------------------------------------------------------ */
/* Lines.                                                              */

static void cell(char *buf, size_t size, double v, enum fmt f)
{
        char s[32];

        if (isnan(v)) {
                snprintf(buf, size, "-");
                return;
        }
        switch (f) {
        case FMT_RATE:
                snprintf(buf, size, "%.1f", v);
                return;
        case FMT_SIZE:
        case FMT_SIZE_RATE:
                ctl_format_size((uint64_t)(v + 0.5), s, sizeof(s));
                snprintf(buf, size, "%s", s);
                return;
        case FMT_INT:
        default:
                snprintf(buf, size, "%.0f", v);
                return;
        }
}

/* The heading (sort column marked with '*') or row i into buf. */
static void table_line(const struct top *t, ssize_t i, char *buf, size_t size)
{
        size_t ncols, off = 0;
        const struct col *cols = view_cols(t->view, &ncols);

        buf[0] = '\0';
        for (size_t c = 0; c < ncols && off + 1 < size; c++) {
                char s[WIRE_NAME_MAX + 8];
                int n;

                if (i < 0)
                        snprintf(s, sizeof(s), "%s%s", cols[c].name,
                                 (int)c == t->sort[t->view] ? "*" : "");
                else if (c == 0)
                        snprintf(s, sizeof(s), "%s", t->rows[i].name);
                else
                        cell(s, sizeof(s), t->rows[i].v[c], cols[c].fmt);
                if (c == 0)
                        n = snprintf(buf + off, size - off, "%-*s", cols[c].width, s);
                else
                        n = snprintf(buf + off, size - off, " %*s", cols[c].width, s);
                if (n < 0)
                        break;
                off = MIN(size - 1, off + (size_t)n);
        }
}

/* The two header lines. */
static void header_lines(const struct top *t, char *l1, char *l2, size_t size)
{
        const struct wire_status_daemon *d = &t->now.daemon, *b = &t->before.daemon;
        uint64_t ms = top_elapsed_ms(t), calls = 0, calls_before = 0;
        char backlog[32];

        for (unsigned i = 0; i < WIRE_CALL_BUCKETS; i++) {
                calls += d->call_latency[i];
                calls_before += b->call_latency[i];
        }
        ctl_format_size(d->backlog_bytes, backlog, sizeof(backlog));
        snprintf(l1, size,
                 "ipcd %.*s pid %" PRId32 " up %" PRIu64 "s  clients %" PRIu32 "/%" PRIu32
                 "  topics %" PRIu32 "  monitors %" PRIu32 "  backlog %s  [%s]",
                 (int)strnlen(d->version, sizeof(d->version)), d->version, d->pid,
                 d->uptime_ms / 1000, d->nclients, d->max_clients, d->ntopics, d->nmonitors,
                 backlog, t->view == VIEW_CLIENTS ? "clients" : "topics");
        if (ms == 0) {
                snprintf(l2, size,
                         "totals: accepted %" PRIu64 "  routed %" PRIu64 "  dropped %" PRIu64
                         "  calls %" PRIu64 "  (rates from the next refresh)",
                         d->accepted, d->routed, d->dropped, calls);
                return;
        }
        snprintf(l2, size,
                 "per second: accepted %.1f  routed %.1f  dropped %.1f  published %.1f  "
                 "calls %.1f  data threads %.1f%%",
                 rate(d->accepted, b->accepted, true, ms), rate(d->routed, b->routed, true, ms),
                 rate(d->dropped, b->dropped, true, ms), rate(d->published, b->published, true, ms),
                 rate(calls, calls_before, true, ms),
                 rate(d->data_busy_us, b->data_busy_us, true, ms) / 1e4); /* us/s as % */
}

/* Take a new answer (set, emptied); the one before it is kept for the
 * rates.  0 or -ENOMEM. */
static int top_take(struct top *t, struct wire_status_set *set_)
{
        struct wire_status_set set = *set_;

        *set_ = (struct wire_status_set){ 0 };
        t->error[0] = '\0';
        if (set.nclients > 1)
                qsort(set.clients, set.nclients, sizeof(*set.clients), client_id_cmp);
        if (set.ntopics > 1)
                qsort(set.topics, set.ntopics, sizeof(*set.topics), topic_name_cmp);
        wire_status_set_free(&t->before);
        t->before = t->now;
        t->have_before = t->have_now;
        t->now = set;
        t->have_now = true;
        return top_rows(t);
}

/* Ask ipcd again: 0, or -errno with t->error set (the old answers are
 * kept). */
static int top_refresh(struct top *t)
{
        struct wire_status_set set = { 0 };
        char error[128];
        int r = ctl_status_query(t->ctl->rundir, &set, error, sizeof(error));

        if (r < 0) {
                snprintf(t->error, sizeof(t->error), "ipcd at %s: %s", t->ctl->rundir,
                         error[0] ? error : strerror(-r));
                return r;
        }
        return top_take(t, &set);
}

static void top_done(struct top *t)
{
        wire_status_set_free(&t->now);
        wire_status_set_free(&t->before);
        free(t->rows);
}

/* ------------------------------------------------------------------ */
/* Plain output: header and table again every interval.                 */

static int top_plain(struct top *t)
{
        char l1[256], l2[256], line[512];

        ctl_catch_stop_signals();
        for (bool first = true; !ctl_stop_signal; first = false) {
                if (!first)
                        clock_sleep_us((uint64_t)t->ctl->interval_ms * USEC_PER_MSEC);
                if (ctl_stop_signal)
                        break;
                if (!first && top_refresh(t) < 0) {
                        log_error("%s", t->error);
                        return CTL_EXIT_FAILURE;
                }
                header_lines(t, l1, l2, sizeof(l1));
                printf("%s%s\n%s\n", first ? "" : "\n", l1, l2);
                table_line(t, -1, line, sizeof(line));
                printf("%s\n", line);
                for (size_t i = 0; i < t->nrows; i++) {
                        table_line(t, (ssize_t)i, line, sizeof(line));
                        printf("%s\n", line);
                }
                if (fflush(stdout) != 0 || ferror(stdout))
                        return log_error_errno(negative_errno(), "cannot write the output"),
                               CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Full screen.                                                         */

#ifdef HAVE_NCURSES
/* A key: false for quit.  Anything unknown is ignored. */
static bool top_key(struct top *t, int key)
{
        size_t ncols;

        view_cols(t->view, &ncols);
        switch (key) {
        case 'q':
        case 'Q':
                return false;
        case 't':
                t->view = t->view == VIEW_CLIENTS ? VIEW_TOPICS : VIEW_CLIENTS;
                break;
        case '<':
                t->sort[t->view] = (t->sort[t->view] + (int)ncols - 1) % (int)ncols;
                break;
        case '>':
                t->sort[t->view] = (t->sort[t->view] + 1) % (int)ncols;
                break;
        case 'r':
                t->reverse = !t->reverse;
                break;
        default:
                return true;
        }
        top_rows(t);
        return true;
}

static void screen_draw(const struct top *t)
{
        char l1[256], l2[256], line[512];
        int y = 0;

        erase();
        header_lines(t, l1, l2, sizeof(l1));
        mvaddnstr(y++, 0, l1, COLS);
        mvaddnstr(y++, 0, l2, COLS);
        if (t->error[0]) {
                attron(A_BOLD);
                mvaddnstr(y, 0, t->error, COLS);
                attroff(A_BOLD);
        }
        y++;
        table_line(t, -1, line, sizeof(line));
        attron(A_REVERSE);
        mvaddnstr(y, 0, line, COLS);
        for (int x = (int)strlen(line); x < COLS; x++)
                mvaddch(y, x, ' ');
        attroff(A_REVERSE);
        y++;
        for (size_t i = 0; i < t->nrows && y < LINES - 1; i++, y++) {
                table_line(t, (ssize_t)i, line, sizeof(line));
                mvaddnstr(y, 0, line, COLS);
        }
        if (t->nrows == 0)
                mvaddnstr(y, 0, t->view == VIEW_CLIENTS ? "(no clients)" : "(no topics)", COLS);
        mvaddnstr(LINES - 1, 0, "q quit  t clients/topics  < > sort column  r reverse", COLS);
        refresh();
}

static int top_screen(struct top *t)
{
        uint64_t next = clock_deadline_ms(t->ctl->interval_ms);

        if (!initscr())
                return log_error("cannot start the terminal"), CTL_EXIT_FAILURE;
        cbreak();
        noecho();
        keypad(stdscr, TRUE);
        curs_set(0);
        screen_draw(t);
        for (;;) {
                int left = clock_remaining_ms(next), key;

                timeout(left > 0 ? left : 0);
                key = getch();
                if (key == ERR) {
                        if (clock_remaining_ms(next) > 0)
                                continue;
                        /* A failure is shown; the next refresh tries again. */
                        (void)top_refresh(t);
                        next = clock_deadline_ms(t->ctl->interval_ms);
                } else if (key != KEY_RESIZE && !top_key(t, key)) {
                        break;
                }
                screen_draw(t);
        }
        endwin();
        return CTL_EXIT_OK;
}
#endif

int cmd_top(struct ctl *ctl, int argc, char **argv)
{
        struct top t = { .ctl = ctl, .sort = { CLIENT_SORT, TOPIC_SORT } };
        struct wire_status_set set = { 0 };
        int r;

        if (ctl->interval_ms <= 0) {
                log_error("top needs an --interval above 0 milliseconds");
                return CTL_EXIT_USAGE;
        }
        /* The first answer before anything is drawn: no ipcd is an error
         * printed the usual way. */
        r = ctl_status_fetch(ctl, &set);
        if (r != 0)
                return r;
        if (top_take(&t, &set) < 0) {
                top_done(&t);
                return log_error("out of memory"), CTL_EXIT_FAILURE;
        }
#ifdef HAVE_NCURSES
        if (isatty(STDOUT_FILENO) && isatty(STDIN_FILENO))
                r = top_screen(&t);
        else
#endif
                r = top_plain(&t);
        top_done(&t);
        return r;
}
