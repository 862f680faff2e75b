/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * reexec.c - `ipcdctl reexec`: ask ipcd to re-execute its binary keeping
 * every client (a REEXEC line; root and ipcd's group only), then wait
 * until the new image answers a STATUS request, and say how long that
 * took.  What a package's postinst runs after installing a new ipcd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipcdctl/ipcdctl.h"
#include "shared/clock.h"
#include "shared/ctlchan.h"
#include "shared/macro.h"
#include "shared/wire.h"

#define REEXEC_ANSWER_MS 5000
#define REEXEC_READY_MS 30000
#define STATUS_ASK_MS 1000

/* One request of cmd on a fresh channel; the first answer's kind, its
 * body in *body.  STATUS: records up to END are read (daemon first). */
static int ask(const char *rundir, enum wire_ctl_cmd cmd, union {
        struct wire_rec_error error;
        struct wire_status_daemon daemon;
        uint8_t any[WIRE_REC_MAX];
} *body, int timeout_ms)
{
        struct ctlchan *ch = calloc(1, sizeof(*ch));
        struct wire_ctl req = { .cmd = cmd, .pid = getpid() };
        int r, first;

        if (!ch)
                return -ENOMEM;
        r = ctlchan_open(ch, rundir);
        if (r < 0) {
                free(ch);
                return r;
        }
        r = ctlchan_send(ch, &req, timeout_ms);
        if (r >= 0)
                r = ctlchan_read(ch, body, sizeof(*body), timeout_ms);
        first = r;
        /* The rest of a STATUS answer, up to END. */
        while (cmd == WIRE_CTL_STATUS && r > 0 && r != WIRE_REC_END && r != WIRE_REC_ERROR) {
                uint8_t skip[WIRE_REC_MAX];

                r = ctlchan_read(ch, skip, sizeof(skip), timeout_ms);
        }
        ctlchan_close(ch, 0);
        free(ch);
        return r < 0 ? r : first;
}

int cmd_reexec(struct ctl *ctl, int argc, char **argv)
{
        union {
                struct wire_rec_error error;
                struct wire_status_daemon daemon;
                uint8_t any[WIRE_REC_MAX];
        } body;
        uint64_t t0 = clock_now_us(), t1;
        int r;

        (void)argc;
        (void)argv;
        memset(&body, 0, sizeof(body));
        r = ask(ctl->rundir, WIRE_CTL_REEXEC, (void *)&body, REEXEC_ANSWER_MS);
        if (r == WIRE_REC_ERROR) {
                int e = body.error.error < 0 ? body.error.error : -EPROTO;

                fprintf(stderr, "ipcdctl: reexec refused by ipcd at %s: %.*s (%s)\n",
                        ctl->rundir, (int)strnlen(body.error.message, sizeof(body.error.message)),
                        body.error.message, ctl_errno_name(e));
                return CTL_EXIT_FAILURE;
        }
        if (r < 0)
                return ctl_report_error(ctl, "reexec", r);
        /* The old image answered and goes; wait for the new one. */
        for (;;) {
                memset(&body, 0, sizeof(body));
                r = ask(ctl->rundir, WIRE_CTL_STATUS, (void *)&body, STATUS_ASK_MS);
                if (r == WIRE_REC_STATUS_DAEMON)
                        break;
                if (clock_now_us() - t0 > REEXEC_READY_MS * 1000ULL)
                        return ctl_report_error(ctl, "reexec (waiting for the new image)",
                                                r < 0 ? r : -EPROTO);
                usleep(10 * 1000);
        }
        t1 = clock_now_us();
        printf("ipcd %.*s (pid %d) re-executed in %.1f ms\n",
               (int)strnlen(body.daemon.version, sizeof(body.daemon.version)),
               body.daemon.version, (int)body.daemon.pid, (double)(t1 - t0) / 1000.0);
        return CTL_EXIT_OK;
}
