/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * natsint.h - what nats.c shares with calls.c (both use libnats).
 */
#pragma once

#include <nats/nats.h>

#include "bridge/bridge.h"

natsConnection *bridge_nats_conn(struct bridge *b);
/* Ipcd-Type and the origin of m (host, sender, uid, pid, unit, bridge id). */
natsStatus bridge_nats_origin_headers(struct bridge *b, natsMsg *nm, const ipcd_msg *m);
