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

/* What became of one message from NATS (import mapping index). */
enum import_verdict {
        IMPORT_DONE,    /* ipcd accepted it (IPCD_ACK) */
        IMPORT_SKIPPED, /* our own */
        IMPORT_REFUSED, /* bad header, subject, size, or refused by ipcd: counted */
        IMPORT_FAILED,  /* ipcd could not take it now (*err): not counted */
};
enum import_verdict bridge_nats_import_one(struct bridge *b, size_t index, natsMsg *m, int *err);
/* The connection's options; js: the JetStream connection's (no reconnect
 * buffer: a publish while disconnected fails and is resent by us). */
natsStatus bridge_nats_options(struct bridge *b, bool js, natsOptions **ret);
