/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clients.h - the client tables and the uid list (clients.c).  The lookups
 * by id and name, and the rate buckets, are in router.h.  Lock held.
 */
#pragma once

#include "ipcd/core/state.h"

void clients_insert(struct router *r, struct client *c);
void clients_remove(struct router *r, struct client *c);
/* Double the buckets; 0 or -ENOMEM. */
int clients_grow(struct router *r);

/* uid's live inbound queue, or NULL. */
struct uidq *uidq_find(struct router *r, uid_t uid);
void uidq_unlink(struct router *r, struct uidq *u);
/* Clients of uid: counted on its books, not on its inbound queue (which
 * its uid may remove). */
unsigned uid_clients(struct router *r, uid_t uid);
/* A client of uid arrives (0 or -ENOMEM) or leaves. */
int uid_books_join(struct router *r, uid_t uid);
void uid_books_leave(struct router *r, uid_t uid);
