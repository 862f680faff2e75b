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

/* One bulk ring (a libconfig list "rings"; none: one ring "default"). */
struct ipcd_ring_config {
        char *name;           /* name: 1-63 bytes of [A-Za-z0-9._-], unique */
        uint64_t size;        /* size: bytes, default 64 MiB, lane_size..1 TiB */
        uint64_t lane_size;   /* lane_size: bytes, default 8 MiB, 64 KiB..size, a
                                 multiple of 4096 (of 2 MiB with hugepages) */
        char *group;          /* group: the trust domain; NULL = ipcd's own group */
        bool hugepages;       /* hugepages: SHM_HUGETLB, default false */
};

struct ipcd_config {
        char *runtime_dir;            /* runtime_dir, default "/run/ipcd" */
        int log_level;                /* log_level, syslog level, default LOG_INFO ("info") */
        char *clients_group;          /* clients_group, NULL: any local user may register */
        uint32_t max_clients;         /* max_clients, default 4096, 1..65536 */
        uint32_t max_clients_per_uid; /* max_clients_per_uid, default 64, 1..max_clients */
        uint32_t max_message_size;    /* max_message_size: largest inline payload in bytes;
                                         default 0 = as large as kernel.msgmax allows;
                                         0 or 1..16777216 */
        uint32_t queue_bytes;         /* queue_bytes: msg_qbytes of each client queue (needs
                                         CAP_SYS_RESOURCE above kernel.msgmnb), default
                                         262144, 1024..1073741824 */
        uint32_t inbound_queue_bytes; /* inbound_queue_bytes: msg_qbytes of each uid's inbound
                                         queue, default 1048576, 1024..1073741824 */
        uint64_t backlog_bytes;       /* backlog_bytes: bytes waiting in ipcd for one
                                         destination, default 1 MiB, 0..1 GiB */
        uint64_t backlog_total_bytes; /* backlog_total_bytes: for all, default 64 MiB */
        uint32_t registration_rate;   /* registration_rate: per uid per second, default 50 */
        uint32_t registration_burst;  /* registration_burst: default 100 */
        uint32_t max_subscriptions;   /* max_subscriptions: per client, default 256, 1..65536 */
        uint32_t history_per_topic;   /* history_per_topic: largest history depth a topic may
                                         have, default 64, 0..65536 (0: no history) */
        uint32_t history_total;       /* history_total: messages kept as history in all,
                                         default 65536, 0..16777216 */
        uint64_t history_total_bytes; /* history_total_bytes: payload bytes kept as history in
                                         all, default 64 MiB, 0..4 GiB */
        uint32_t lanes_per_uid;       /* lanes_per_uid: bulk lanes one uid may hold, default 4,
                                         1..1024 */
        uint64_t bulk_held_bytes;     /* bulk_held_bytes: ring bytes one receiver may hold
                                         unreleased (chunks waiting in its queue count);
                                         default 0 = half a lane, 0..1 TiB */
        struct ipcd_ring_config *rings; /* rings: see above; nrings 0 = the default ring */
        size_t nrings;
        int overflow_policy;          /* overflow_policy: "drop-new" (default) or "drop-old":
                                         what happens when a client's backlog is full;
                                         1 = drop-new, 2 = drop-old (enum wire_overflow) */
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
