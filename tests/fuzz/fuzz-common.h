/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-common.h - what the daemon-side fuzz targets share: a private IPC
 * namespace for the objects a router creates (the fuzzer runs as root
 * under make fuzz; elsewhere run.sh puts it under unshare --ipc), and
 * freeing what a router put on its reap lists, as event.c's reap() does
 * (joining the data threads of removed uid queues).
 * Included once by each target.
 */
#pragma once

#include <pthread.h>
#include <sched.h>
#include <syslog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcd/core/router.h"
#include "shared/log.h"
#include "shared/macro.h"

/* What must hold, or the input found a bug: abort (libFuzzer keeps it). */
#define FUZZ_CHECK(cond)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Objects this process creates must never reach the machine's own
 * namespace: refuse to run in it. */
static _unused_ void fuzz_private_ipc(void)
{
        /* What ipcd would log about hostile input is rate-limited noise here. */
        log_set_max_level(LOG_CRIT);
        if (getenv("IPCD_FUZZ_UNSHARED"))
                return;
        if (unshare(CLONE_NEWIPC) < 0) {
                fprintf(stderr, "fuzz: unshare(CLONE_NEWIPC): %m (run under unshare --ipc "
                                "and set IPCD_FUZZ_UNSHARED=1)\n");
                exit(1);
        }
}

/* event.c's reap(): free what the router removed (lock not needed: one
 * thread). */
static _unused_ void fuzz_reap(struct router *r)
{
        struct client *c, *n;
        struct uidq *u, *un;

        for (c = r->reap, r->reap = NULL; c; c = n) {
                n = c->next;
                safe_close(c->fifo_fd);
                safe_close(c->pidfd);
                free(c);
        }
        for (u = r->dead_uidqs, r->dead_uidqs = NULL; u; u = un) {
                un = u->next;
                if (u->thread_started)
                        pthread_join(u->thread, NULL);
                free(u);
        }
}
