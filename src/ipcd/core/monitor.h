/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* monitor.h - copies for monitors (monitor.c).  Lock held. */
#pragma once

#include "ipcd/core/opcall.h"

/* Copies for monitors of a message from s routed to dst (a name, or a
 * topic if topic). */
void monitor_copy(struct router_pass *p, struct client *s, const struct wire_in *h,
                  const char *dst, bool topic, const void *payload);

op_handler_fn op_monitor;
