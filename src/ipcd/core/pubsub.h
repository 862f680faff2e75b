/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pubsub.h - publish/subscribe operations (pubsub.c).  Lock held. */
#pragma once

#include "ipcd/core/opcall.h"

op_handler_fn op_publish, op_subscribe, op_unsubscribe, op_set_history;

/* Drop the subscription *pp of c (unlinked from its list). */
void pubsub_drop(struct router *r, struct client *c, struct sub **pp);
