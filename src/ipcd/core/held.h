/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* held.h - ring chunks a receiver holds (held.c).  Lock held. */
#pragma once

#include "ipcd/core/state.h"

/* Record c's reference to a chunk; 0 or -ENOMEM. */
int held_add(struct client *c, const struct held_chunk *h);
/* Remove c's reference to a chunk; false if it holds none. */
bool held_take(struct client *c, uint32_t ring, uint32_t lane, uint64_t pos);
/* The same, with a copy of what it held in *out (its flow-control sender). */
bool held_take_get(struct client *c, uint32_t ring, uint32_t lane, uint64_t pos,
                   struct held_chunk *out);
/* Drop one reference of a chunk; its producer is woken if room appeared. */
void chunk_unref(struct router *r, uint32_t ring, uint32_t lane, uint64_t pos);
/* c leaves: every reference it holds goes. */
void held_drop_all(struct router *r, struct client *c);
