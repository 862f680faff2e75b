/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * opcall.h - what an operation's handler is given and returns.  The
 * handlers live with their concept (bulk.c, calls.c, pubsub.c, ...); the
 * table of them is ops.c, the dispatch that reads it dispatch.c.
 */
#pragma once

#include "ipcd/core/state.h"

struct router_pass;

struct op_call {
        struct router_pass *p;
        struct client *s;       /* the sender, authenticated */
        const struct wire_in *h;
        const char *dst;        /* h->dst_len bytes, not NUL-terminated */
        const void *payload;    /* h->len bytes */
        int32_t value;          /* with 0 returned: the count to answer with */
        bool answered;          /* the handler answered (or left it to a callee) */
};

/* 0 (then c->value is answered), a ROUTER_E_* outcome, or -errno.  The
 * dispatcher answers with router_errno() of it when wire_op_answered()
 * says so and the handler did not. */
typedef int op_handler_fn(struct op_call *c);
