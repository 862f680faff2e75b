/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * whois.h - WIRE_OP_WHOIS: a client's systemd unit by its id, for a
 * receiver's library (ipcd_msg_sender_unit), which asks once per sender
 * and keeps the answer.  So the unit costs the message path nothing: no
 * string in any delivered record.  Lock held.
 */
#pragma once

#include "ipcd/core/opcall.h"

op_handler_fn op_whois;
/* c is being removed: remember its unit for a while (router->gone). */
void whois_client_gone(struct router *r, const struct client *c);
