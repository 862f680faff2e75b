/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ops.h - the operation table (ops.c). */
#pragma once

#include "ipcd/core/opcall.h"

struct router_op {
        op_handler_fn *fn;
        bool bulk;      /* WIRE_IN_BULK allowed */
};

/* The row of a wire operation, or NULL for one ipcd does not know. */
const struct router_op *router_op_find(uint16_t op);
