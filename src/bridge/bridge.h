/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bridge.h - ipcd-bridge: an ipcd client on one side, a NATS client
 * (libnats) on the other.  Not part of the daemon: ipcd stays free of
 * network code.
 *
 *   config.c   the "bridge" group of ipcd.conf (libconfig)
 *   mapping.c  topics <-> subjects, NATS headers <-> origin
 *   nats.c     the NATS connection: export (publish) and import (subscribe)
 *   calls.c    serve and remote: calls across hosts (NATS request/reply)
 *   main.c     arguments, the ipcd side, --status
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ipcd.h>

struct bridge_import {
        char *subject; /* NATS subject, '*' and '>' wildcards allowed */
        char *strip;   /* prefix removed from matching subjects (default: subject_prefix) */
        char *stream;  /* JetStream: consume through durable (both set, or neither) */
        char *durable;
        bool ack;      /* publish with IPCD_ACK (always with durable) */
};

/* An export mapping's JetStream part (jetstream.c): stream NULL for core
 * NATS (at most once). */
struct bridge_export_js {
        char *stream;
        bool create;      /* add the stream if absent, subjects from its mappings */
        uint64_t replicas; /* of a created stream (1..5) */
};

/* serve: calls from NATS (request/reply on subject) to the local client
 * name; remote: the bridge holds name locally and forwards what it gets
 * (ipcd_call, ipcd_send) to subject.  Default subject <prefix>.call.<name>. */
struct bridge_call {
        char *name;
        char *subject;
        int line;
};

struct bridge_config {
        char **servers;
        size_t nservers;
        char *user, *password, *token;
        bool tls;
        bool send_asap;           /* libnats writes each publish at once */
        char *tls_ca, *tls_cert, *tls_key;
        char *subject_prefix; /* "" for none */
        char *name;           /* the bridge's ipcd client name */
        char *host;           /* sent as origin host; default gethostname() */
        char *runtime_dir;    /* the ipcd to attach to (NULL: $IPCD_RUNTIME_DIR or default) */
        uint64_t buffer_bytes; /* bounded buffer toward NATS while disconnected */
        uint64_t max_payload;  /* largest imported payload (0: NATS's max_payload) */
        char **exports;        /* local topic patterns */
        struct bridge_export_js *export_js; /* parallel to exports */
        size_t nexports;
        struct bridge_import *imports;
        size_t nimports;
        struct bridge_call *serves, *remotes;
        size_t nserves, nremotes;
        uint64_t calls;           /* calls in flight per serve/remote mapping (1..64) */
        uint64_t call_timeout_ms; /* how long a forwarded call may take */
        uint64_t js_inflight;     /* JetStream publishes awaiting their ack (1..65536) */
        uint64_t js_ack_timeout_ms; /* then resent */
        bool jetstream;           /* some mapping names a stream */
};

/* Read the "bridge" group of path (other top-level keys are ipcd's and
 * left alone).  0, or -errno with "file:line: message" in err. */
int bridge_config_load(struct bridge_config *cfg, const char *path, char *err, size_t errlen);
void bridge_config_done(struct bridge_config *cfg);

/* Counters, shown by --status. */
enum bridge_counter {
        BC_EXPORTED,        /* local messages published to NATS */
        BC_IMPORTED,        /* NATS messages published locally */
        BC_SKIPPED_REMOTE,  /* local copies of imported messages, not exported again */
        BC_SKIPPED_OWN,     /* NATS messages this bridge had exported */
        BC_OVERFLOW,        /* dropped: "bridge overflow" (NATS buffer full) */
        BC_TOO_LARGE,       /* refused: over NATS max_payload or the local limit */
        BC_BAD_HEADER,      /* dropped: malformed or hostile ipcd headers */
        BC_BAD_SUBJECT,     /* dropped: a subject that maps to no valid topic */
        BC_LOCAL_FAILED,    /* imports ipcd could not take (it went away, timed out) */
        BC_LOCAL_REFUSED,   /* imports ipcd refused (policy, its limits) */
        BC_NATS_FAILED,     /* exports NATS refused for another reason */
        BC_LOCAL_DROPPED,   /* ipcd dropped messages for the bridge (notices) */
        BC_NATS_RECONNECTS,
        BC_NATS_DISCONNECTS,
        BC_IPCD_RECONNECTS,
        BC_CALLS_SERVED,    /* NATS requests answered by a local callee */
        BC_CALLS_FORWARDED, /* local calls to a remote name answered with a reply */
        BC_CALLS_FAILED,    /* calls either way that ended in an error verdict */
        BC_SENDS_FORWARDED, /* local sends to a remote name published to NATS */
        BC_SENDS_DELIVERED, /* NATS messages sent to a served local name */
        BC_COUNTERS,
};
extern const char *const bridge_counter_names[BC_COUNTERS];

/* Per JetStream mapping (the first 64 of each kind), shown by --status. */
struct bridge_js_count {
        _Atomic uint64_t published;   /* export: first sends */
        _Atomic uint64_t acked;       /* export: stored (acks); import: acked to the stream */
        _Atomic uint64_t retried;     /* export: sends again (timeout, error, reconnect) */
        _Atomic uint64_t duplicates;  /* export: acks saying "duplicate"; import: redeliveries
                                         of messages already published here, skipped */
        _Atomic uint64_t redelivered; /* import: messages delivered more than once */
        _Atomic uint64_t refused;     /* import: refused (bad header, subject, size, ipcd) */
};

struct bridge {
        struct bridge_config cfg;
        uint64_t id;         /* random, in every exported message's headers */
        ipcd_client *ipcd;
        struct bridge_nats *nats;
        struct bridge_calls *calls;
        _Atomic uint64_t cnt[BC_COUNTERS];
        _Atomic uint64_t exported_by[64]; /* per export pattern (first 64) */
        _Atomic uint64_t imported_by[64]; /* per import subject (first 64) */
        struct bridge_js_count js_export[64], js_import[64];
        struct bridge_js *js; /* jetstream.c; NULL without JetStream mappings */
        _Atomic int stop; /* set by a signal handler and bridge_calls_stop, read by every thread */
};

static inline void bridge_count(struct bridge *b, enum bridge_counter c)
{
        atomic_fetch_add_explicit(&b->cnt[c], 1, memory_order_relaxed);
}

/* mapping.c */
/* "robot/arm" -> "<prefix>.robot.arm".  0 or -ENAMETOOLONG. */
int mapping_topic_to_subject(const char *prefix, const char *topic, char *out, size_t size);
/* "<strip>.robot.arm" -> "robot/arm" (strip removed only as a whole first
 * part); 0, or -EINVAL when the result is no valid ipcd topic. */
int mapping_subject_to_topic(const char *strip, const char *subject, char *out, size_t size);
/* The export pattern (index) a topic matched, or -1. */
int mapping_export_match(const struct bridge_config *cfg, const char *topic);
/* A decimal header value in 0..max; 0 or -EINVAL. */
int mapping_parse_u64(const char *s, uint64_t max, uint64_t *ret);
/* A header string that may go into an origin field of size bytes:
 * printable ASCII, shorter than size.  NULL (absent) is "". */
bool mapping_text_ok(const char *s, size_t size);

/* nats.c */
int bridge_nats_start(struct bridge *b, char *err, size_t errlen);
void bridge_nats_stop(struct bridge *b);
/* Publish one local message; counts what happens to it. */
void bridge_nats_export(struct bridge *b, const ipcd_msg *m, int pattern);
/* "connected nats://... " or "reconnecting", for --status. */
void bridge_nats_describe(struct bridge *b, char *out, size_t size);
uint64_t bridge_nats_max_payload(struct bridge *b);

/* jetstream.c (its connection and threads; bridge_nats_start/stop call these) */
int bridge_js_start(struct bridge *b, char *err, size_t errlen);
/* Stop the import threads; wait up to wait_ms for the publishes' acks. */
void bridge_js_stop(struct bridge *b, int wait_ms);
void bridge_js_free(struct bridge *b);
/* Main thread: publish m on its mapping's stream, waiting (back pressure)
 * while js_inflight are unacknowledged. */
void bridge_js_export(struct bridge *b, const ipcd_msg *m, int pattern);
/* Main thread, often: resend what timed out or was lost in a reconnect. */
void bridge_js_tick(struct bridge *b);
/* " stream S published P acked A ..." for --status (export or import i). */
void bridge_js_describe(struct bridge *b, bool exp, size_t i, char *out, size_t size);
/* "connected nats://..." or "reconnecting", of the JetStream connection. */
void bridge_js_describe_conn(struct bridge *b, char *out, size_t size);

/* calls.c */
/* After bridge_nats_start: the serve subscriptions, the remote clients. */
int bridge_calls_start(struct bridge *b, const char *rundir);
/* From bridge_nats_stop: no new serve calls; then, once the connection is
 * closed (forwarded calls in flight fail), the remote threads end; then,
 * once libnats's threads are gone, the memory. */
void bridge_calls_unsubscribe(struct bridge *b);
void bridge_calls_stop(struct bridge *b);
void bridge_calls_free(struct bridge *b);
