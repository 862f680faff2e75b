/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* channel.h - direct channels between two clients (channel.c).  Lock held. */
#pragma once

#include "ipcd/core/opcall.h"

int op_channel_open(struct op_call *x);
int op_channel_attached(struct op_call *x);
int op_channel_close(struct op_call *x);

/* c leaves: every channel it is an end of is closed (the other end gets
 * -ECONNRESET) and its segment removed. */
void channel_client_gone(struct router *r, struct client *c);

/* Status records of every channel, counters read from the segments. */
void channel_status(struct router *r, struct wire_status_channel *out, size_t cap, size_t *n);
