/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor.c - `ipcdctl monitor [PATTERN]`: watch the bus, like
 * dbus-monitor and busctl monitor.
 *
 * ipcdctl connects anonymously and asks ipcd (ipcd_monitor()) for a copy
 * of every message it routes whose destination name or topic matches
 * PATTERN ("*", a name, or "prefix/" then "*").  Each copy (IPCD_MSG_MONITOR)
 * carries the authenticated sender, the destination, the type, the full
 * size and at most the first WIRE_MONITOR_BYTES of the payload; a bulk
 * payload stays in the ring and only its size is shown.  One line per
 * copy, flushed at once:
 *
 *   12:34:56.789 alice (id 3, uid 1000, pid 4242, unit cam.service) -> bob type 7 size 5 "hello"
 *
 * The unit (the sender's systemd unit, ipcd_msg_sender_unit(): asked of
 * ipcd once per sender) is left out for a sender in none; "?" when ipcd
 * no longer knows it.
 * The time is when ipcdctl received the copy (local time).  Admin
 * operation: root and members of ipcd's group only.  Copies go to the
 * monitor's own queue like any message: a monitor that does not keep up
 * loses copies, never slows the bus; ipcd counts them on it and tells it
 * (IPCD_NOTIFY_DROPS), and a notice line says how many were lost.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <ipcd.h>

#include "ipcdctl/ipcdctl.h"
#include "ipcdctl/json.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/names.h"

/* ipcd_recv() timeout: how quickly a stop signal is noticed even if the
 * library retries interrupted waits. */
#define MONITOR_POLL_MS 250

static void ipcd_closep(ipcd_client **c)
{
        if (*c)
                ipcd_close(*c);
}

/* Now as "HH:MM:SS.mmm" (local time) and as milliseconds since the epoch. */
static void now_stamp(char *buf, size_t size, uint64_t *epoch_ms)
{
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        *epoch_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        if (!localtime_r(&ts.tv_sec, &tm))
                memset(&tm, 0, sizeof(tm));
        snprintf(buf, size, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000);
}

/* The destination: a client name, or a topic (IPCD_MSG_TOPIC, shown as
 * "topic:NAME"). */
static size_t dest_len(const ipcd_msg *m)
{
        return strnlen(m->topic, sizeof(m->topic));
}

static void print_copy_text(const ipcd_msg *m, const char *stamp)
{
        size_t shown = m->data ? m->len : 0;

        printf("%s ", stamp);
        ctl_print_sender(m);
        printf(" -> %s%.*s type %ld size %" PRIu64, (m->flags & IPCD_MSG_TOPIC) ? "topic:" : "",
               (int)dest_len(m), m->topic, m->type, m->id);
        if (m->flags & IPCD_MSG_BULK)
                fputs(" bulk", stdout);
        if (shown > 0 || (m->id == 0 && !(m->flags & IPCD_MSG_BULK))) {
                /* strace's way: the first bytes quoted, "..." when there is
                 * more than that. */
                fputs(" \"", stdout);
                ctl_print_escaped(stdout, m->data, shown, true);
                putchar('"');
                if (m->id > shown)
                        fputs("...", stdout);
        }
        putchar('\n');
}

/* Open the JSON object of one event line: its kind and when it came. */
static void json_event_begin(struct json *j, const char *event, const char *stamp,
                             uint64_t epoch_ms)
{
        json_init(j, stdout);
        json_begin_object(j, NULL);
        json_str(j, "event", event);
        json_str(j, "time", stamp);
        json_u64(j, "timestamp_ms", epoch_ms);
}

static void print_copy_json(const ipcd_msg *m, const char *stamp, uint64_t epoch_ms)
{
        size_t shown = m->data ? m->len : 0;
        struct json j;

        json_event_begin(&j, "message", stamp, epoch_ms);
        json_strn(&j, "sender", m->sender, strnlen(m->sender, sizeof(m->sender)));
        json_u64(&j, "sender_id", m->sender_id);
        json_u64(&j, "sender_uid", m->sender_uid);
        json_i64(&j, "sender_pid", m->sender_pid);
        ctl_json_sender_unit(&j, m);
        json_strn(&j, "destination", m->topic, dest_len(m));
        json_bool(&j, "topic", m->flags & IPCD_MSG_TOPIC);
        json_i64(&j, "type", m->type);
        json_u64(&j, "size", m->id);
        json_bool(&j, "bulk", m->flags & IPCD_MSG_BULK);
        /* The first bytes (at most 64); truncated when size says more. */
        json_strn(&j, "data", m->data ? m->data : "", shown);
        json_bool(&j, "truncated", m->id > shown);
        json_end_object(&j);
}

/* A notice from ipcd, e.g. copies this monitor missed because it did not
 * keep up. */
static void print_notice(const ipcd_msg *m, const char *stamp, uint64_t epoch_ms, bool json)
{
        size_t n = m->data ? m->len : 0;

        if (json) {
                struct json j;

                json_event_begin(&j, "notice", stamp, epoch_ms);
                json_i64(&j, "code", m->type);
                json_u64(&j, "arg", m->id);
                json_strn(&j, "text", m->data ? m->data : "", n);
                json_end_object(&j);
                return;
        }
        printf("%s [notice %ld] from ipcd (%" PRIu64 "): ", stamp, m->type, m->id);
        ctl_print_escaped(stdout, m->data, n, false);
        putchar('\n');
}

int cmd_monitor(struct ctl *ctl, int argc, char **argv)
{
        _cleanup_(ipcd_closep) ipcd_client *c = NULL;
        const char *pattern = argc > 1 ? argv[1] : "*";
        int r;

        if (!topic_pattern_is_valid(pattern)) {
                log_error("invalid pattern '%s': a name or topic, \"PREFIX/*\" or \"*\" "
                          "(1-63 bytes of [A-Za-z0-9._/-])",
                          pattern);
                return CTL_EXIT_USAGE;
        }

        ctl_catch_stop_signals();
        setvbuf(stdout, NULL, _IOLBF, 0);

        r = ipcd_connect_at(ctl->rundir, NULL, &c);
        if (r < 0)
                return ctl_report_error(ctl, "connect", r);

        r = ipcd_monitor(c, pattern);
        if (r == -EACCES || r == -EPERM) {
                log_error("monitor: permission denied (root or members of ipcd's group only)");
                return CTL_EXIT_FAILURE;
        }
        if (r == -EINVAL) {
                log_error("monitor: ipcd refused the pattern '%s' (EINVAL)", pattern);
                return CTL_EXIT_FAILURE;
        }
        if (r < 0)
                return ctl_report_error(ctl, "monitor", r);
        /* Copies that ipcd drops because we do not keep up are counted on
         * us; ask to be told, so that the output says where it has gaps. */
        r = ipcd_set_overflow(c, IPCD_OVERFLOW_DROP_NEW, 0, IPCD_NOTIFY_DROPS);
        if (r < 0)
                log_warning("cannot ask ipcd to report dropped copies: %s (%s)", strerror(-r),
                            ctl_errno_name(r));

        if (ctl->json) {
                struct json j;

                json_init(&j, stdout);
                json_begin_object(&j, NULL);
                json_str(&j, "event", "monitoring");
                json_str(&j, "pattern", pattern);
                json_u64(&j, "id", ipcd_id(c));
                json_end_object(&j);
        } else {
                printf("monitoring %s (id %" PRIu64 ")\n", pattern, ipcd_id(c));
        }
        if (fflush(stdout) != 0)
                return log_error_errno(negative_errno(), "cannot write the output"),
                       CTL_EXIT_FAILURE;

        while (!ctl_stop_signal) {
                char stamp[32];
                uint64_t epoch_ms;
                ipcd_msg m;

                r = ctl_recv(c, &m, MONITOR_POLL_MS);
                if (r == 0)
                        continue;
                if (r < 0)
                        return CTL_EXIT_FAILURE;
                now_stamp(stamp, sizeof(stamp), &epoch_ms);
                if (m.flags & IPCD_MSG_MONITOR) {
                        if (ctl->json)
                                print_copy_json(&m, stamp, epoch_ms);
                        else
                                print_copy_text(&m, stamp);
                } else if (m.flags & IPCD_MSG_NOTICE) {
                        print_notice(&m, stamp, epoch_ms, ctl->json);
                }
                /* Anything else cannot be addressed to an anonymous client
                 * (no name): ignored. */
                ipcd_msg_release(c, &m);
                if (fflush(stdout) != 0) {
                        log_error_errno(negative_errno(), "cannot write the output");
                        return CTL_EXIT_FAILURE;
                }
        }
        return CTL_EXIT_OK;
}
