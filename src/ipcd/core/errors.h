/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.h - the core's error contract (dbus-broker's, src/bus/peer.h):
 * 0 is success; a positive ROUTER_E_* is an expected outcome a caller must
 * handle (a name taken, a quota, no such destination, ...); a negative
 * errno is an unexpected failure (-ENOMEM, a failed system call), passed
 * up unchanged.  router_errno() is the one place that turns the expected
 * outcomes into the negative errno clients see: the edges (the answers on
 * the wire, registration replies) call it, nothing else maps.
 */
#pragma once

enum {
        ROUTER_E_INVALID = 1, /* a malformed or out-of-range request */
        ROUTER_E_TOO_BIG,     /* payload above max_payload */
        ROUTER_E_NAME_TAKEN,  /* another client owns the name */
        ROUTER_E_QUOTA,       /* a configured limit (clients, subscriptions, lanes, history) */
        ROUTER_E_NOT_FOUND,   /* no such destination, or no such subscription */
        ROUTER_E_DENIED,      /* policy said no, or a ring it cannot map */
        ROUTER_E_FULL,        /* the destination cannot take it now (queue, backlog, calls) */
        ROUTER_E_RATE,        /* the uid's request bucket is empty */
        ROUTER_E_GONE,        /* the destination left */
        ROUTER_E_UNSUPPORTED, /* an operation ipcd does not know */
        ROUTER_E_EXISTS,      /* already so (a subscription): not an error to the client */
        _ROUTER_E_MAX,
};

/* The public status for r: 0 stays 0, ROUTER_E_* its errno (negative),
 * a negative errno unchanged. */
int router_errno(int r);
