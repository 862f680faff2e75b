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

/* Re-exec (snapshot-read.c): take over the channel a state describes
 * (from: its fields but next and base, checked against the clients read),
 * appended to r->channels with ipcd's mapping, once its segment checks
 * out.  0; -ENOMEM; or another -errno with *why: the segment does not
 * match (then, if its header names the channel, it is closed, and removed
 * unless already marked: its ends get -ECONNRESET). */
int channel_adopt(struct router *r, const struct channel *from, char *why, size_t whylen);
/* Every channel freed and ipcd's mapping detached, no segment removed
 * (snapshot_discard); close: their ends are told first, as on a death
 * (a fresh start after an unusable state). */
void channel_detach_all(struct router *r, bool close);
