/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* message.h - the checks of a routed message; the sender's stamp
 * (message.c).  Lock held. */
#pragma once

#include "ipcd/core/opcall.h"

/*
 * The checks a SEND or PUBLISH record passes before it is routed: type,
 * destination name or topic, size, and for bulk (*bulk) the descriptor,
 * which then holds a routing reference (bulk_done()).  0, or the outcome
 * to answer with (ROUTER_E_INVALID, ROUTER_E_TOO_BIG, ROUTER_E_DENIED,
 * -ENOMEM) after the record was reported; *bulk is false when no
 * reference was taken.
 */
int message_accept(struct op_call *x, struct wire_bulk *d, bool *bulk);

/* The sender's identity on a delivered record: ipcd's record of the
 * client, never anything the client wrote (the one place it is set). */
void stamp_sender(struct wire_out *o, const struct client *s);

/* A record's counted destination (a name, a topic or a pattern, at most
 * WIRE_NAME_MAX - 1 bytes: wire_in_next() checked) as a C string. */
void message_dst_cstr(char out[WIRE_NAME_MAX], const char *dst, size_t len);
