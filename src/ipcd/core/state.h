/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * state.h - the routing state's types: clients, per-uid inbound queues,
 * backlog entries, held chunks, limits, counters.  The lowest layer of the
 * core: every other file of src/ipcd/core includes it.  Who may touch
 * which field under which lock is written once, in router.h.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcd/core/msgq.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/ring.h"
#include "ipcd/core/topics.h"
#include "ipcd/core/units.h"
#include "shared/wire.h"

struct router;

#define CLIENT_GROUPS_MAX 64

struct router_limits {
        uint32_t max_clients;
        uint32_t max_clients_per_uid;
        uint32_t max_payload;          /* largest inline payload accepted */
        uint64_t backlog_bytes;        /* per destination */
        uint64_t backlog_total_bytes;  /* all destinations */
        uint64_t flow_window;          /* per sender->destination pair; 0: backlog_bytes */
        uint64_t flow_client;          /* one client to all destinations; 0: 4 windows */
        size_t queue_bytes;            /* wished msg_qbytes of a client queue */
        size_t inbound_queue_bytes;    /* wished msg_qbytes of an inbound queue */
        uint32_t registration_rate;    /* per uid per second */
        uint32_t registration_burst;
        uint32_t garbage_kick;         /* invalid records from one client before it is kicked */
        uint32_t max_subscriptions;    /* per client */
        uint32_t history_per_topic;    /* largest depth */
        uint64_t history_total;        /* messages */
        uint64_t history_per_uid;      /* messages: one uid's share of history_total */
        uint64_t history_total_bytes;
        int overflow_policy;           /* enum wire_overflow, the default */
        uint32_t max_calls;            /* calls waiting for one callee's replies */
        uint32_t lanes_per_uid;        /* per ring; 0: a quarter of its lanes, at least 1 */
        uint32_t max_held_chunks;      /* ring chunks one receiver may hold */
        uint64_t held_bytes;           /* ring bytes one receiver may hold; 0: half a lane */
        uint32_t channels_per_uid;     /* direct channels one uid may have opened */
        uint32_t channels_total;       /* direct channels in all */
        uint64_t channel_bytes;        /* each direction's ring, a power of two */
};

/* A direct channel (channel.c): a segment for one pair, on router->channels. */
enum channel_phase {
        CHANNEL_GRANTED,  /* created for the opener (segment owned by its uid) */
        CHANNEL_OFFERED,  /* opener attached; offered to the acceptor (owned by its uid) */
        CHANNEL_OPEN,     /* both attached; the segment is marked for removal */
};
struct channel {
        struct channel *next;
        uint64_t id;
        int shmid;
        void *base;               /* ipcd's own mapping: counters, state, wake-ups */
        uint64_t dir_bytes;
        enum channel_phase phase;
        struct client *opener, *acceptor;
        uid_t charged_uid;        /* the opener's: channels_per_uid counts there */
};

#define ROUTER_MAX_RINGS 32
/* Answers (ACK outcomes, call replies) waiting for one client: they have
 * their own type and bypass the per-destination byte limit, but not this
 * one, nor the global total. */
#define ROUTER_CTL_BACKLOG (256 * 1024)

struct held_chunk {
        uint32_t ring, lane;
        uint64_t pos, len;
        uint64_t sender_id; /* a unicast chunk under flow control (flow.c); 0: none */
};

/* Flow control for a topic (flow.c): one publisher's window for one
 * topic with reliable subscribers, on the publisher's list. */
struct flow_member {
        uint64_t client_id;
        uint64_t done;            /* cost of its copies that left ipcd */
};
struct flow_topic {
        struct flow_topic *next;
        uint64_t id;
        char topic[WIRE_NAME_MAX];
        uint64_t charged;         /* cost published since it began */
        uint64_t credited;        /* of which credited back */
        struct flow_member *members;
        size_t nmembers, cap;
};

/* Flow control (flow.c): what one sender has in flight to one
 * destination.  On the destination's list, the sender's list and the
 * router's hash of pairs; freed when either leaves, so the pointers to
 * both hold. */
struct flow_pair {
        struct flow_pair *next, **pprev;         /* dst->flow_in */
        struct flow_pair *out_next, **out_pprev; /* sender->flow_out */
        struct flow_pair *hnext;                 /* router->flow_hash chain */
        struct client *dst, *sender;
        uint64_t outstanding;     /* inline cost accepted, not yet into the queue */
        uint64_t due;             /* inline cost delivered, not yet credited back */
        uint64_t bulk_out;        /* bulk bytes delivered or queued, not released */
        uint64_t bulk_due;        /* bulk bytes released, not yet credited back */
        bool maybe_blocked;       /* a WIRE_IN_FLOW_FULL send came, not all credited since */
};

struct backlog_entry {
        struct backlog_entry *next;
        uint32_t size;    /* mtext bytes */
        uint32_t nrec;    /* user records in it (counted as received when delivered) */
        bool control;     /* ACK or notice: not subject to the byte limit */
        bool has_bulk;    /* it carries a bulk descriptor for this chunk, held */
        uint64_t flow_sender; /* its records' sender under flow control, or 0 */
        uint64_t flow_group;  /* a reliable topic copy: the struct flow_topic id, or 0 */
        uint64_t flow_cost;   /* their cost (wire_flow_cost) */
        struct held_chunk bulk;
        long msg[];       /* msgsnd(2) buffer: msg[0] is the mtype, the mtext follows */
};

struct uidq {
        struct router *router;
        struct uidq *next;
        uid_t uid;
        int qid;                  /* Qu */
        unsigned nclients;
        uint64_t bl_bytes;        /* waiting in ipcd for this uid's clients */
        uint64_t bl_flow_bytes;   /* of which under flow control (bounded by windows) */
        bool removed;             /* Qu removed: the thread is on its way out */
        pthread_t thread;
        bool thread_started;
        atomic_bool busy;         /* [atomic] inside a pass */
        atomic_uint_fast64_t pass_start_ms; /* [atomic] */
        atomic_uint_fast64_t passes;        /* [atomic] */
};

/* What one uid holds, whatever becomes of its inbound queue: the per-uid
 * limits count here (clients.c). */
struct uid_books {
        struct uid_books *next;
        uid_t uid;
        unsigned nclients;
};

struct client {
        struct client *id_next;   /* hash chains */
        struct client *name_next;
        struct client *next;      /* all clients / reap list */
        struct client *prev;

        uint64_t id;
        uint8_t token[WIRE_TOKEN_SIZE];
        uid_t uid;
        pid_t pid;
        char name[WIRE_NAME_MAX]; /* "" = anonymous */
        /* Who it is beyond its uid, read at registration (control.c):
         * its real and supplementary groups (/proc/PID/status) and its
         * systemd unit (/proc/PID/cgroup; "" when it has none), for the
         * policy rules and the status. */
        gid_t gid;
        gid_t groups[CLIENT_GROUPS_MAX];
        uint32_t ngroups;
        char unit[POLICY_UNIT_MAX];
        int qid;                  /* Qc */
        int semid;                /* Sc */
        size_t qmsg_max;          /* largest mtext for its queue */
        struct uidq *uq;
        struct unit_books *ub;    /* its unit's (units.c); NULL: in no unit */

        bool timed;               /* raise Sc after deliveries */
        bool removed;             /* out of the tables */
        bool dying;               /* UNREGISTER posted for it */
        bool pull_marker;         /* a WIRE_TYPE_PULL marker is in its queue */
        uint32_t garbage;         /* invalid records seen from it */
        bool privileged;          /* root or a member of ipcd's group */
        bool doorbell;            /* write WIRE_DOORBELL on its FIFO after deliveries */
        bool monitor;             /* receives copies of routed messages */
        bool notify_drops;        /* wants WIRE_NOTICE_DROPPED notices */
        int overflow;             /* enum wire_overflow */
        uint64_t backlog_limit;   /* its backlog bytes, <= limits' */
        uint64_t missed;          /* drops not yet told (notify_drops) */
        bool drop_chosen;         /* it chose drop-new/drop-old (ipcd_set_overflow): its
                                     unicast backlog is capped too, not only windowed */
        struct flow_pair *flow_in; /* senders with bytes in flight to it (flow.c) */
        struct flow_pair *flow_out; /* destinations it has bytes in flight to */
        uint64_t flow_held;       /* inline cost of all its pairs (outstanding + due) */
        bool flow_wants;          /* its last send said it is near its client budget */
        struct flow_topic *flow_topics; /* topics it publishes to reliable subscribers */
        uint64_t flow_told;       /* the window it was told (at its first send), or 0 */
        uint64_t flow_told_client; /* and the client budget */
        uint32_t nreliable;       /* its reliable subscriptions */
        uint64_t dropped_ignored; /* its sends dropped: over its window ("ignored back
                                     pressure") */
        uint64_t dropped_by[WIRE_DROP_REASONS]; /* its dropped, by reason */
        uint64_t missed_by[WIRE_DROP_REASONS];  /* missed, by reason (notify_drops) */
        char monitor_pattern[WIRE_NAME_MAX];

        struct sub *subs;         /* its subscriptions */
        uint32_t nsubs;
        uint64_t pub_gen;         /* topics_match() generation */
        struct hist_contrib *hist_contribs; /* its history depths (topics.c) */

        struct pending_call *calls; /* calls delivered to it, not yet answered */
        size_t ncalls, calls_cap;

        uint32_t ring_access;     /* bit i: it can map ring i */
        struct held_chunk *held;  /* ring chunks delivered to it, not released */
        size_t nheld, held_cap;
        uint64_t held_bytes;
        uint64_t bulk_sent, bulk_received;

        struct backlog_entry *bl_head, *bl_tail;
        struct client *bl_next, *bl_prev; /* in router->backlogged while bl_head */
        uint64_t bl_bytes;
        uint64_t bl_flow_bytes;   /* of which under flow control (bounded by windows) */
        uint64_t bl_records;
        uint64_t bl_ctl_bytes;    /* of which answers (ACKs, replies): ROUTER_CTL_BACKLOG */

        uint64_t sent, received, dropped;
        uint64_t unroutable;      /* its sends to a name nobody held */
        uint64_t connected_ms;

        /* [event] */
        int fifo_fd;
        int pidfd;
        void *fifo_source;
        void *pid_source;
        void *event_owner;        /* the struct daemon, for callbacks */
        bool death_pending;       /* UNREGISTER could not be posted yet */
        unsigned death_tries;
};

struct pending_call {
        uint64_t caller_id;
        uint64_t cookie;
        uint64_t start_us; /* when it was routed to the callee */
};

struct router_counters {
        uint64_t published, unheard; /* publishes, and those nobody subscribed to */
        uint64_t accepted, routed, dropped;
        uint64_t dropped_by[WIRE_DROP_REASONS];
        uint64_t registrations, refused, limit_hits;
        uint64_t bad_control, bad_inbound, unroutable;
        uint64_t data_busy_us; /* data threads' time in routing passes */
        uint64_t call_latency_sum_us;
        uint64_t call_latency[WIRE_CALL_BUCKETS]; /* answered calls, wire_call_bucket() */
        uint64_t policy_denied;      /* actions a policy rule denied (policy.c) */
};

struct rate_bucket {
        uid_t uid;
        double tokens;
        uint64_t last_ms;
        bool used;
};

/* A data thread's progress, read by the watchdog without the lock
 * (datathread.c).  Slots are only added to router->watch and reused,
 * never freed before router_done(), so the list can be walked lock-free. */
struct watch_slot {
        struct watch_slot *next;           /* fixed once pushed */
        atomic_bool used;
        atomic_uint uid;
        atomic_uint_fast64_t busy_since_ms; /* start of its current slice; 0: idle */
};

struct ipcstate_name;

struct router {
        pthread_mutex_t lock;
        atomic_uint lock_waiters;          /* [atomic] threads in router_lock() */
        atomic_uint_fast64_t lock_grants;  /* [atomic] router_lock() calls that got it */
        _Atomic(struct watch_slot *) watch; /* [atomic] the data threads' slots */
        struct router_limits lim;
        struct msgq_ctx mq;

        struct client **id_buckets, **name_buckets;
        size_t nbuckets;
        struct client *clients;   /* all, doubly linked */
        unsigned nclients;
        struct uidq *uidqs;
        struct uid_books *uids;   /* uids with clients */
        uint64_t next_id;
        uint64_t names_gen;       /* bumped when a name leaves the table (pass.h's cache) */
        uint64_t instance;
        uint64_t ipc_ns;
        /* Names of a crashed predecessor, reserved for their previous
         * owner's uid until reserved_until_ms (clock_now_ms): only that uid
         * may register them meanwhile (DESIGN "Names across a restart").
         * Set by the edge before any client, never changed; not owned. */
        const struct ipcstate_name *reserved;
        size_t nreserved;
        uint64_t reserved_until_ms;
        uint64_t start_ms;
        uint64_t backlog_total;
        uint64_t backlog_flow;    /* of which under flow control: not capped by the
                                     totals, bounded by the senders' budgets (flow.c) */
        struct flow_pair **flow_hash; /* pairs by (destination, sender) (flow.c) */
        size_t flow_hash_size, flow_npairs;
        unsigned nbacklogged;     /* clients with a non-empty backlog */
        struct client *backlogged; /* those clients */
        struct router_counters cnt;
        struct rate_bucket rate[256];
        struct topics topics;
        unsigned nmonitors;
        struct policy_rules policy; /* the configuration's rules (policy.h), owned */
        struct unit_limits unit_limits; /* the configuration's, owned (units.h) */
        struct unit_books *units;       /* units with clients */
        struct ring *rings[ROUTER_MAX_RINGS];
        unsigned nrings;

        struct channel *channels; /* direct channels (channel.c) */
        unsigned nchannels;
        uint64_t next_channel_id;

        /* The units of the last WIRE_WHOIS_GONE clients removed, for
         * WIRE_OP_WHOIS from a receiver still holding their messages
         * (whois.c): a ring, gone_next the next slot. */
        struct whois_gone {
                uint64_t id;
                char unit[POLICY_UNIT_MAX];
        } gone[WIRE_WHOIS_GONE];
        unsigned gone_next;

        struct client *reap;      /* removed, to be freed by the event thread */
        struct uidq *dead_uidqs;  /* threads to join */
        void (*wake)(void *userdata); /* something is on reap/dead_uidqs */
        void *wake_userdata;
        bool shutting_down;
        atomic_bool pausing;      /* [atomic] re-exec: data threads stop after their pass */
};

