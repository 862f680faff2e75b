/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h - the daemon's configuration as a plain struct.  Only config.c
 * knows libconfig; everything else takes a struct ipcd_config, so unit
 * tests build one in code.  Every key is documented in conf/ipcd.conf
 * and ipcd.conf(5).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipcd/core/router.h"

/* One bulk ring (a libconfig list "rings"; none: one ring "default"). */
struct ipcd_ring_config {
        char *name;           /* name: 1-63 bytes of [A-Za-z0-9._-], unique */
        uint64_t size;        /* size: bytes, default 64 MiB, lane_size..1 TiB */
        uint64_t lane_size;   /* lane_size: bytes, default 8 MiB, 64 KiB..size, a
                                 multiple of 4096 (of 2 MiB with hugepages) */
        char *group;          /* group: the trust domain; NULL = ipcd's own group */
        bool hugepages;       /* hugepages: SHM_HUGETLB, default false */
};

/*
 * The configuration.  The router's limits are embedded: config.c's key
 * table writes them in place (each key names its field by offset and
 * width), so nothing copies them from one struct to another.
 */
struct ipcd_config {
        char *runtime_dir;            /* runtime_dir, default "/run/ipcd" */
        int log_level;                /* log_level, syslog level, default LOG_INFO ("info") */
        char *clients_group;          /* clients_group, NULL: any local user may register */
        uint32_t max_message_size;    /* max_message_size: largest inline payload in bytes;
                                         default 0 = as large as kernel.msgmax allows;
                                         0 or 1..16777216.  lim.max_payload is derived
                                         from it and kernel.msgmax at start-up. */
        uint32_t name_grace_ms;       /* name_grace_ms: after a crash, the dead instance's
                                         names stay reserved for their previous owner's uid
                                         this long; default 10000, 0 = none; start-up only */
        uint32_t parked_bytes;        /* parked_bytes: replies (STATUS answers) waiting in
                                         ipcd for a slow reader, in all; default 4 MiB */
        uint32_t parked_bytes_per_uid; /* parked_bytes_per_uid: the same for one uid's
                                         requests; default 1 MiB */
        /*
         * lim.max_clients           max_clients, default 4096, 1..65536
         * lim.max_clients_per_uid   max_clients_per_uid, default 64, 1..max_clients
         * lim.queue_bytes           queue_bytes: msg_qbytes of each client queue (needs
         *                           CAP_SYS_RESOURCE above kernel.msgmnb), default 262144,
         *                           1024..1073741824
         * lim.inbound_queue_bytes   inbound_queue_bytes: of each uid's inbound queue,
         *                           default 1048576, 1024..1073741824
         * lim.backlog_bytes         backlog_bytes: bytes waiting in ipcd for one
         *                           destination, default 1 MiB, 0..1 GiB
         * lim.backlog_total_bytes   backlog_total_bytes: for all, default 64 MiB
         * lim.registration_rate     registration_rate: per uid per second, default 50
         * lim.registration_burst    registration_burst: default 100
         * lim.garbage_kick          garbage_kick: invalid records one client may send before
         *                           it is disconnected, default 1000, 0 (never) or 1..1000000
         * lim.max_subscriptions     max_subscriptions: per client, default 256, 1..65536
         * lim.history_per_topic     history_per_topic: largest history depth of a topic,
         *                           default 64, 0..65536 (0: no history)
         * lim.history_total         history_total: messages kept as history in all,
         *                           default 65536, 0..16777216
         * lim.history_per_uid       history_per_uid: the history depths one uid's clients
         *                           may set in all, default 16384, 0..16777216
         * lim.history_total_bytes   history_total_bytes: their payload bytes, default
         *                           64 MiB, 0..4 GiB
         * lim.overflow_policy       overflow_policy: "drop-new" (default) or "drop-old"
         *                           (enum wire_overflow)
         * lim.max_calls             max_calls: calls waiting for one callee's replies,
         *                           default 4096, 1..1048576
         * lim.lanes_per_uid         lanes_per_uid: bulk lanes one uid may hold, default 4,
         *                           1..1024
         * lim.max_held_chunks       max_held_chunks: ring chunks one receiver may hold
         *                           unreleased, default 4096, 1..1048576
         * lim.held_bytes            bulk_held_bytes: ring bytes one receiver may hold
         *                           unreleased; default 0 = half a lane, 0 or 4096..1 TiB
         * lim.channels_per_uid      channels_per_uid: direct channels one uid may have
         *                           opened, default 8, 1..1024
         * lim.channels_total        channels_total: direct channels in all, default 256,
         *                           1..65536
         * lim.channel_bytes         channel_bytes: each direction's ring of a channel,
         *                           default 64 KiB, 4096..64 MiB, rounded down to a
         *                           power of two
         */
        struct router_limits lim;
        struct ipcd_ring_config *rings; /* rings: see above; nrings 0 = the default ring */
        size_t nrings;
        struct policy_rules policy;   /* policy: the access rules (core/policy.h), in order;
                                         uids and groups resolved; live on reload */
        struct unit_limits unit_limits; /* unit_limits: per systemd unit (core/units.h), in
                                           order; live on reload */
};

/* Fill cfg with the built-in defaults (allocates runtime_dir).  Not
 * "config_init": that is libconfig's own constructor. */
int config_set_defaults(struct ipcd_config *cfg);
void config_done(struct ipcd_config *cfg);

/*
 * Read a libconfig file into cfg (which holds defaults or earlier values;
 * keys absent from the file keep them).  A missing file is an error only
 * if must_exist.  On error returns a negative errno and writes
 * "file:line: message" into err (size errlen); unknown keys, wrong types
 * and values out of range are errors with their line.
 */
int config_load(struct ipcd_config *cfg, const char *path, bool must_exist, char *err,
                size_t errlen);

/* The same for text already read (NUL-terminated) as if it were the
 * file path: errors name path, @include is relative to its directory
 * (config_load reads the file and calls this; fuzz-config feeds it). */
int config_load_text(struct ipcd_config *cfg, const char *path, const char *text, char *err,
                     size_t errlen);

/*
 * Reload: for every key whose value differs between old and new, call
 * fn(key, live, userdata); live is false for the keys that only take
 * effect after a restart (runtime_dir, rings).  The
 * order is that of the key table.
 */
void config_foreach_changed(const struct ipcd_config *old, const struct ipcd_config *new,
                            void (*fn)(const char *key, bool live, void *userdata),
                            void *userdata);
