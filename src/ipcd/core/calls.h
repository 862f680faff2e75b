/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* calls.h - pending calls and replies (calls.c).  Lock held. */
#pragma once

#include "ipcd/core/opcall.h"

/* callee was handed caller_id's call cookie: 0, ROUTER_E_FULL (max_calls)
 * or -ENOMEM. */
/* start_us: when the request was routed (clock_now_us), for the latency
 * histogram. */
int call_add(struct router *r, struct client *callee, uint64_t caller_id, uint64_t cookie,
             uint64_t start_us);
/* callee leaves: every caller waiting for it gets a -ECONNRESET verdict. */
void calls_fail_all(struct router *r, struct client *callee);

op_handler_fn op_reply;
