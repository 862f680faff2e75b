/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* answers.h - ACKs and call verdicts (answers.c).  Lock held.  status is
 * the public value: 0, a count, or a negative errno. */
#pragma once

#include "ipcd/core/state.h"

/* An answer on the client's own reply type, with an optional small body
 * (at most ANSWER_DATA_MAX bytes). */
#define ANSWER_DATA_MAX 256
void send_answer_data(struct router *r, struct client *c, uint16_t kind, uint64_t cookie,
                      int status, const void *data, uint32_t len);
/* The outcome of a request. */
void send_ack(struct router *r, struct client *c, uint64_t cookie, int status);
/* ipcd's verdict on a call: the callee is missing, full, or gone. */
void send_verdict(struct router *r, struct client *caller, uint64_t cookie, int status);
