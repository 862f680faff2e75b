/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* datathread.h - inbound queues and their threads (datathread.c).  The
 * thread's entry point and router_stop_threads() are in router.h. */
#pragma once

#include "ipcd/core/state.h"

/* uid's inbound queue, created with its data thread if it has none:
 * 0 and *ret, or -errno (lock held). */
int uidq_get(struct router *r, uid_t uid, struct uidq **ret);
