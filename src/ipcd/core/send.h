/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* send.h - WIRE_OP_SEND (send.c).  Lock held. */
#pragma once

#include "ipcd/core/opcall.h"

op_handler_fn op_send;
