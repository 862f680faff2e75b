/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ipcdctl.h - what the parts of ipcdctl share. */
#pragma once

#include <stdbool.h>

/* Exit status: 0 success, 1 failure (ipcd not running, refused, ...),
 * 2 usage error. */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILURE = 1,
        CTL_EXIT_USAGE = 2,
};

struct ctl {
        const char *rundir; /* --runtime-dir, $IPCD_RUNTIME_DIR or /run/ipcd */
        bool json;          /* --json */
};

/* Command handlers: argv[0] is the command word; return an exit status. */
int cmd_status(struct ctl *ctl, int argc, char **argv);
int cmd_clients(struct ctl *ctl, int argc, char **argv);

/* "ENOENT" for ENOENT (positive or negative), "errno N" if unknown. */
const char *ctl_errno_name(int e);
/* Print why talking to ipcd at ctl->rundir failed (what: "status",
 * "connect", ...) and return CTL_EXIT_FAILURE.  Knows -ECONNREFUSED (not
 * running: says whether the control FIFO exists), -ETIMEDOUT, -EACCES,
 * -EXDEV, ... */
int ctl_report_error(const struct ctl *ctl, const char *what, int r);
