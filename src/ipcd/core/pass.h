/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pass.h - one pass of a data thread and its per-destination batches
 * (pass.c).  router_pass_new/free/end/handle are in router.h.  Lock held. */
#pragma once

#include "ipcd/core/state.h"

struct batch {
        struct client *dst;
        size_t len;   /* mtext bytes used */
        size_t cap;   /* mtext capacity */
        uint32_t nrec;
        bool has_bulk; /* its last record is a bulk descriptor for this chunk */
        struct held_chunk bulk;
        uint64_t flow_sender; /* its records' sender under flow control, or 0 (flow.c) */
        uint64_t flow_group;  /* and the reliable topic's group, or 0 */
        uint64_t flow_cost;
        long *msg;    /* msg[0] mtype, then mtext */
};

struct router_pass {
        struct router *r;
        struct uidq *uq;
        struct batch *b;
        size_t nb, cap;
        /* Slices (router.h's lock discipline): set by the data thread;
         * NULL (unit tests): one slice. */
        void (*yield)(struct router_pass *p);
        void *yield_data;
        uint64_t slice_start_us;
        uint64_t slice_work;
        /* The destination of the last send by name (pass_client_by_name):
         * valid while r->names_gen is dst_gen; kept across records (a
         * batch of IPCD_MORE sends to one name) and passes. */
        struct client *dst;
        uint64_t dst_gen;
        size_t dst_len;
        char dst_name[WIRE_NAME_MAX];
};

/* router_client_by_name(p->r, name, len), through the one-entry cache. */
struct client *pass_client_by_name(struct router_pass *p, const char *name, size_t len);

/* A slice ends after this much work (records, history entries
 * replayed) or this long, whichever comes first. */
#define PASS_SLICE_WORK 1024
#define PASS_SLICE_US 2000

/* Between two records: end the slice if it is over (p->yield). */
void pass_slice_check(struct router_pass *p);
/* Start a slice (the lock just taken). */
void pass_slice_begin(struct router_pass *p);

/*
 * Append a record for dst with mtype type.  A batch closes when the type
 * changes or when it is full.  Returns the batch, or NULL when memory ran
 * out (the record is then dropped: the caller counts it).
 */
struct batch *batch_append(struct router_pass *p, struct client *dst, long type,
                           const struct wire_out *h, const char *name, const char *topic,
                           const void *payload);
/* The same for a SEND under flow control from sender_id, of cost: a
 * batch holds the records of one such sender (flow.c). */
struct batch *batch_append_flow(struct router_pass *p, struct client *dst, long type,
                                const struct wire_out *h, const char *name, const char *topic,
                                const void *payload, uint64_t sender_id, uint64_t group,
                                uint64_t cost);
/* Deliver what b holds now: deliver()'s result. */
int batch_flush(struct router_pass *p, struct batch *b);

/* An invalid record, from client c (NULL: no client could be told): count
 * it and log it, rate-limited.  Nothing else: the caller decides. */
void pass_reject(struct router_pass *p, struct client *c, const char *why);
/* c sent more invalid records than garbage_kick allows. */
bool pass_client_is_garbage(const struct router_pass *p, const struct client *c);
