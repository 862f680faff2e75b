/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ipcdctl.h - what the parts of ipcdctl share. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <ipcd.h>

#include "shared/wire.h"

/* Exit status: 0 success, 1 failure (ipcd not running, refused, ...),
 * 2 usage error. */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILURE = 1,
        CTL_EXIT_USAGE = 2,
};

/* `topics`: default time between the two STATUS snapshots a rate is
 * computed from, and the longest accepted. */
#define CTL_INTERVAL_DEFAULT_MS 1000
#define CTL_INTERVAL_MAX_MS 3600000

struct ctl {
        const char *rundir; /* --runtime-dir, $IPCD_RUNTIME_DIR or /run/ipcd */
        bool json;          /* --json */
        int interval_ms;    /* --interval (topics, top); 0: no rate */
        bool http;          /* --http (metrics) */
        const char *uid, *group, *unit; /* --uid, --group, --unit (policy check) */
        const char *sender_uid, *sender_unit; /* --sender-uid, --sender-unit (check receive) */
};

/* Command handlers: argv[0] is the command word; return an exit status. */
int cmd_status(struct ctl *ctl, int argc, char **argv);
int cmd_clients(struct ctl *ctl, int argc, char **argv);
int cmd_topics(struct ctl *ctl, int argc, char **argv);
int cmd_monitor(struct ctl *ctl, int argc, char **argv);
int cmd_reexec(struct ctl *ctl, int argc, char **argv);
int cmd_metrics(struct ctl *ctl, int argc, char **argv);
int cmd_top(struct ctl *ctl, int argc, char **argv);
int cmd_policy(struct ctl *ctl, int argc, char **argv);

/* One STATUS answer from ipcd at rundir into *set (free it with
 * wire_status_set_free): 0 or -errno, with ipcd's message in error[size]
 * when it refused ("" otherwise). */
int ctl_status_query(const char *rundir, struct wire_status_set *set, char *error,
                     size_t size);
/* As ctl_status_query at ctl->rundir: 0, or the exit status after printing
 * why it failed. */
int ctl_status_fetch(const struct ctl *ctl, struct wire_status_set *set);
/* The access rules in force (a POLICY request): the daemon record and
 * the rules, in order, with their hits (free them with
 * policy_rules_free).  0 or a negative errno (-ETIMEDOUT: no answer, as
 * from an ipcd older than the POLICY request); error gets the message of
 * an ERROR record. */
struct policy_rules;
int ctl_policy_query(const char *rundir, struct wire_status_daemon *daemon,
                     struct policy_rules *rules, char *error, size_t size);
/* Drop reasons (enum wire_drop_reason) as words: "overflow", ... */
extern const char *const ctl_drop_reason_key[WIRE_DROP_REASONS];
/* A byte count the way ls -h writes it: "512", "1.5K", "64M". */
void ctl_format_size(uint64_t v, char *buf, size_t size);

/* "ENOENT" for ENOENT (positive or negative), "errno N" if unknown. */
const char *ctl_errno_name(int e);
/* One receive of listen and monitor: 1 message, 0 none yet, -1 stop (said why). */
int ctl_recv(ipcd_client *c, ipcd_msg *m, int poll_ms);
/* Print why talking to ipcd at ctl->rundir failed (what: "status",
 * "connect", ...) and return CTL_EXIT_FAILURE.  Knows -ECONNREFUSED (not
 * running: says whether the control FIFO exists), -ETIMEDOUT, -EACCES,
 * -EXDEV, ... */
int ctl_report_error(const struct ctl *ctl, const char *what, int r);

/* A message's sender as listen and monitor print it: "NAME (id N, uid U,
 * pid P, unit X)" (no unit part for a sender in no unit; "unit ?" when
 * ipcd no longer knows it), and its "sender_unit" JSON key (left out
 * when unknown). */
void ctl_print_sender(const ipcd_msg *m);
struct json;
void ctl_json_sender_unit(struct json *j, const ipcd_msg *m);

/* Bytes as text: printable ASCII as is, everything else escaped (\\, \n,
 * \t, \r, \xNN; with quote set also \"), so that a payload always stays
 * on one line and cannot drive the terminal. */
void ctl_print_escaped(FILE *f, const unsigned char *p, size_t n, bool quote);

/* Set by SIGINT/SIGTERM once ctl_catch_stop_signals() installed the
 * handler (without SA_RESTART, so that a blocked wait returns EINTR). */
extern volatile sig_atomic_t ctl_stop_signal;
void ctl_catch_stop_signals(void);
