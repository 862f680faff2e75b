/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wire.h - every byte format ipcd speaks, defined once and used by the
 * daemon, the client library and ipcdctl.
 *
 * Three channels:
 *
 *  1. The control FIFO RUNDIR/control (client -> ipcd): text lines of at
 *     most PIPE_BUF bytes, so writers never interleave and the reader
 *     resynchronises at every newline:
 *        REGISTER 1 <nonce> <fifo> <pid> <name>      (<name> "-": anonymous)
 *        STATUS 1 <nonce> <fifo>
 *        POLICY 1 <nonce> <fifo>                     (the access rules in force)
 *     <nonce> and <fifo> are 32 lowercase hex digits; <fifo> is the basename
 *     of the reply FIFO in RUNDIR/clients/.  Fields are separated by one
 *     space.  Anything else is ignored and counted.
 *
 *  2. A reply FIFO (ipcd -> client): binary records, each a struct
 *     wire_rec header followed by a body; len covers both.  Records echo
 *     the nonce of the request they answer.
 *
 *  3. System V queues.  Inbound (client -> its uid's queue Qu) messages
 *     have mtype WIRE_MTYPE_IN and carry one or more struct wire_in
 *     records; delivered (ipcd -> client queue Qc) messages carry one or
 *     more struct wire_out records, all with the message's mtype.  Every
 *     record is padded to 8 bytes.
 *
 * All integers are in host byte order (one host).  Decoders never trust
 * lengths: they check every one against the bytes actually received.
 * Bodies may grow at the end in later versions: readers accept a body
 * longer than they know and zero-fill one shorter than they know.
 */
#pragma once

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WIRE_VERSION 1
#define WIRE_HEX_LEN 32      /* hex digits of a nonce or a reply FIFO name */
#define WIRE_NONCE_SIZE 16   /* bytes */
#define WIRE_TOKEN_SIZE 16   /* bytes */
#define WIRE_NAME_MAX 64     /* bytes with the NUL, == IPCD_NAME_MAX */
#define WIRE_UNIT_MAX 256    /* a systemd unit name with the NUL (UNIT_NAME_MAX) */
#define WIRE_LINE_MAX PIPE_BUF

/* ------------------------------------------------------------------ */
/* System V message types.                                             */

/* User types are 1 ... WIRE_TYPE_USER_MAX (== IPCD_TYPE_MAX). */
#define WIRE_TYPE_USER_MAX ((1L << 30) - 1)
/* A notice from ipcd (kind WIRE_OUT_NOTICE): given to the application by
 * ipcd_recv() with filter 0, flagged IPCD_MSG_NOTICE. */
#define WIRE_TYPE_NOTICE (1L << 30)
/* Zero-length marker: ipcd holds a backlog for this client that could not
 * be delivered because the queue was full.  The library answers with
 * WIRE_OP_PULL once it has emptied its queue. */
#define WIRE_TYPE_PULL ((1L << 30) + 1)
/* Flow control (ipcd -> sender): WIRE_OUT_CREDIT records giving back
 * window bytes for one destination.  The library takes them with a
 * type-selective msgrcv(2); the application never sees them. */
#define WIRE_TYPE_CREDIT ((1L << 30) + 2)
/* Answers to a client's own request (ACK outcomes, call replies) arrive
 * with type WIRE_TYPE_REPLY_BASE + (cookie & WIRE_COOKIE_SLOT_MASK), so a
 * waiting thread receives exactly its own answer with msgrcv(2). */
#define WIRE_TYPE_REPLY_BASE ((1L << 30) + (1L << 29))
#define WIRE_COOKIE_SLOT_MASK ((1UL << 29) - 1)
/* Every inbound message uses this mtype. */
#define WIRE_MTYPE_IN 1L

static inline long wire_reply_type(uint64_t cookie)
{
        return WIRE_TYPE_REPLY_BASE + (long)(cookie & WIRE_COOKIE_SLOT_MASK);
}

static inline bool wire_type_is_user(long t)
{
        return t >= 1 && t <= WIRE_TYPE_USER_MAX;
}

/* ------------------------------------------------------------------ */
/* 1. Control lines.                                                    */

enum wire_ctl_cmd {
        WIRE_CTL_REGISTER = 1,
        WIRE_CTL_STATUS = 2,
        /* "REEXEC 1 <nonce> <fifo> <pid>": re-execute ipcd keeping every
         * client (root and ipcd's group only; answered with END, or an
         * ERROR record). */
        WIRE_CTL_REEXEC = 3,
        /* "POLICY 1 <nonce> <fifo>": the access rules in force, answered
         * like STATUS (same rate bucket, anyone who may write the control
         * FIFO): a WIRE_REC_STATUS_DAEMON record (policy_rules: how many
         * rules are in force, policy_denied), then one WIRE_REC_POLICY_RULE
         * per rule in order, then END.  Fewer rule records than
         * policy_rules: the answer was capped (as topics are).  An ipcd
         * older than 0.13 ignores the line (the request times out). */
        WIRE_CTL_POLICY = 4,
};

struct wire_ctl {
        enum wire_ctl_cmd cmd;
        char nonce[WIRE_HEX_LEN + 1]; /* lowercase hex, NUL-terminated */
        char fifo[WIRE_HEX_LEN + 1];
        pid_t pid;                   /* REGISTER, REEXEC */
        char name[WIRE_NAME_MAX];    /* REGISTER only; "" = anonymous */
};

/* Format a request as one line with its '\n' into buf; returns its length
 * or -EINVAL (bad field) / -ENOBUFS. */
int wire_ctl_format(const struct wire_ctl *req, char *buf, size_t size);
/* Parse one line (without its '\n'); 0 or -EBADMSG.  Every field is
 * validated: versions, hex, pid > 0, name syntax. */
int wire_ctl_parse(const char *line, size_t len, struct wire_ctl *req);

/* ------------------------------------------------------------------ */
/* 2. Reply FIFO records (ipcd -> client).                              */

enum wire_rec_kind {
        WIRE_REC_ERROR = 1,         /* body: struct wire_rec_error */
        WIRE_REC_REGISTERED = 2,    /* body: struct wire_rec_registered */
        WIRE_REC_STATUS_DAEMON = 3, /* body: struct wire_status_daemon */
        WIRE_REC_STATUS_QUEUE = 4,  /* body: struct wire_status_queue, one per Qu */
        WIRE_REC_STATUS_CLIENT = 5, /* body: struct wire_status_client, one per client */
        WIRE_REC_STATUS_RING = 6,   /* body: struct wire_status_ring, one per ring */
        WIRE_REC_END = 7,           /* no body: the end of a list reply */
        WIRE_REC_STATUS_TOPIC = 8,  /* body: struct wire_status_topic, one per topic */
        WIRE_REC_STATUS_CHANNEL = 9, /* body: struct wire_status_channel, one per channel */
        WIRE_REC_POLICY_RULE = 10,  /* body: struct wire_policy_rule (POLICY answers only) */
};
/* The highest kind this version knows; wire_rec_check() refuses higher
 * ones, so a STATUS answer never carries a kind added later (an older
 * ipcdctl would stop reading): new kinds answer new requests. */
#define WIRE_REC_KIND_MAX WIRE_REC_POLICY_RULE

/* After WIRE_REC_REGISTERED, ipcd writes nothing on a client's reply FIFO
 * but doorbells, and only once the client asked (WIRE_OP_DOORBELL): one
 * byte, WIRE_DOORBELL, after each delivery into its queue.  A full FIFO
 * already means "readable", so ipcd ignores EAGAIN. */
#define WIRE_DOORBELL 0x2a

struct wire_rec {
        uint32_t len;     /* header + body, at most WIRE_REC_MAX */
        uint16_t version; /* WIRE_VERSION */
        uint16_t kind;    /* enum wire_rec_kind */
        uint8_t nonce[WIRE_NONCE_SIZE];
};
#define WIRE_REC_MAX 4096

struct wire_rec_error {
        int32_t error; /* negative errno */
        char message[128]; /* NUL-terminated, human-readable, may be "" */
};

struct wire_rec_registered {
        uint64_t client_id;
        uint8_t token[WIRE_TOKEN_SIZE];
        int32_t inbound_qid; /* Qu: the client sends here */
        int32_t queue_qid;   /* Qc: ipcd delivers here */
        int32_t semid;       /* Sc: raised after deliveries once the client asks (WIRE_OP_TIMED) */
        uint32_t max_payload; /* largest inline payload ipcd accepts */
        uint32_t max_qmsg;   /* largest mtext ipcd writes to Qc: the receive buffer size */
        int32_t daemon_pid;
        uint64_t ipc_ns;     /* inode of ipcd's IPC namespace */
        uint64_t instance;   /* random per ipcd start: a restart changes it */
        /* Flow control (see WIRE_OUT_CREDIT): the bytes, counted with
         * wire_flow_cost(), a sender may have in flight to one destination
         * (0: no flow control), and the ring bytes of unicast bulk chunks
         * it may have unreleased by one destination. */
        uint64_t flow_window;
        uint64_t flow_bulk_window;
        /* The inline cost a sender may have in flight to all destinations
         * together (its client budget; 0: no bound). */
        uint64_t flow_client;
};

/* Why ipcd dropped a message (status, notices): what is left once
 * unicast is lossless. */
enum wire_drop_reason {
        WIRE_DROP_OVERFLOW = 0, /* a receiver's backlog full: drop-new/drop-old it chose, a
                                   publish to a non-reliable subscriber, a monitor copy */
        WIRE_DROP_IGNORED = 1,  /* its sender ignored back pressure (over its window) */
        WIRE_DROP_RING = 2,     /* a bulk message for a receiver that cannot map the ring */
        WIRE_DROP_GONE = 3,     /* the receiver went away (or removed its queue) first */
        WIRE_DROP_MEMORY = 4,   /* ipcd's own limits (backlog_total_bytes, memory) */
        WIRE_DROP_REASONS = 5,
};

/* Buckets of the call latency histogram in struct wire_status_daemon:
 * under 1 us, 2 us, 4 us ... 2^(N-2) us (8.4 s), and the rest. */
#define WIRE_CALL_BUCKETS 25

/* The bucket of a latency of us microseconds. */
static inline unsigned wire_call_bucket(uint64_t us)
{
        unsigned b = 0;

        while (b + 1 < WIRE_CALL_BUCKETS && us >= (UINT64_C(1) << b))
                b++;
        return b;
}

struct wire_status_daemon {
        int32_t pid;
        uint32_t nclients;
        uint64_t uptime_ms;
        uint64_t routed;        /* user messages delivered (into a Qc) */
        uint64_t dropped;       /* user messages dropped */
        uint64_t accepted;      /* user messages accepted from senders */
        uint64_t registrations; /* successful */
        uint64_t refused;       /* registrations refused */
        uint64_t bad_control;   /* control lines ignored */
        uint64_t bad_inbound;   /* inbound records rejected */
        uint64_t backlog_bytes; /* bytes waiting in ipcd, all destinations */
        uint32_t max_clients;
        uint32_t queue_bytes;   /* msg_qbytes of client queues in effect */
        char version[32];
        uint32_t max_payload;
        uint32_t reserved_;
        uint64_t limit_hits;    /* requests refused by a limit */
        uint64_t published;     /* publishes accepted */
        uint64_t unheard;       /* publishes nobody was subscribed to */
        uint32_t ntopics;
        uint32_t nmonitors;
        uint64_t unroutable;    /* sends to a name nobody held, ACK or not */
        uint64_t dropped_by[WIRE_DROP_REASONS]; /* dropped, by enum wire_drop_reason */
        /* Time the data threads spent in routing passes (from taking a message
         * off a queue, through waiting for and holding the routing lock). */
        uint64_t data_busy_us;
        /* Calls answered by their callee (WIRE_OP_REPLY), by the time from
         * the request's routing to its reply's: bucket i counts those under
         * 2^i microseconds that no lower bucket counts; the last one, the
         * rest.  A call failed by ipcd's verdict is not counted. */
        uint64_t call_latency_sum_us;
        uint64_t call_latency[WIRE_CALL_BUCKETS];
        uint64_t policy_denied; /* actions the access rules denied (ipcd.conf "policy") */
        uint32_t policy_rules;  /* rules in force */
        uint32_t reserved2_;
};

struct wire_status_queue {
        uint32_t uid;
        int32_t qid;
        uint32_t nclients;
        uint32_t qnum;   /* messages waiting in it now */
};

struct wire_status_client {
        uint64_t id;
        uint32_t uid;
        int32_t pid;
        int32_t qid;         /* Qc */
        int32_t inbound_qid; /* its uid's Qu */
        uint64_t queued;     /* user messages waiting in ipcd or in Qc */
        uint64_t sent;       /* accepted from it */
        uint64_t received;   /* delivered to it */
        uint64_t dropped;    /* for it, dropped */
        char name[WIRE_NAME_MAX];
        uint64_t backlog_bytes;
        uint64_t connected_ms; /* since registration */
        uint32_t subscriptions;
        uint32_t pending_calls;  /* calls delivered to it, not answered yet */
        uint64_t bulk_sent;      /* payload bytes it sent through a ring */
        uint64_t bulk_received;  /* payload bytes delivered to it through a ring */
        uint64_t bulk_held;      /* bytes of ring chunks it holds unreleased */
        uint32_t lanes;          /* lanes it produces into */
        uint32_t reserved_;
        uint64_t unroutable;     /* its sends to a name nobody held */
        uint64_t dropped_ignored; /* on a sender: its sends dropped for ignoring back
                                    pressure (over its flow-control window) */
        uint64_t dropped_by[WIRE_DROP_REASONS]; /* its dropped, by enum wire_drop_reason */
        uint32_t reliable_subs;  /* of its subscriptions, reliable (IPCD_SUB_RELIABLE) */
        uint32_t reserved3_;
        char unit[WIRE_UNIT_MAX]; /* its systemd unit, "" none (NUL-terminated) */
};

struct wire_status_ring {
        char name[WIRE_NAME_MAX];
        int32_t shmid;
        uint32_t lanes;
        uint64_t size;
        uint64_t used;
        uint32_t lanes_used;
        uint32_t gid;
        uint64_t lane_size;
};

struct wire_status_topic {
        char name[WIRE_NAME_MAX];
        uint32_t subscribers;    /* exact subscriptions (wildcards not counted) */
        uint32_t history_depth;
        uint32_t history_len;
        uint32_t wildcard_subscribers; /* subscriptions to NAME/ followed by "*" */
        uint64_t published;      /* messages published on it */
        uint64_t delivered;      /* copies delivered */
        uint32_t reliable;       /* of its exact and NAME/ "*" subscriptions, reliable
                                    (IPCD_SUB_RELIABLE: never dropped, the publisher waits) */
        uint32_t reserved;
};

struct wire_status_channel {
        uint64_t id;
        int32_t shmid;
        uint32_t state;      /* 0 offered (not accepted yet), 1 open */
        uint64_t opener_id, acceptor_id;
        uint32_t opener_uid, acceptor_uid;
        uint64_t dir_bytes;
        /* Read from the segment (written by the ends, untrusted): messages
         * written and read in each direction (0: opener -> acceptor). */
        uint64_t sent[2], received[2];
};

/* One access rule in force (POLICY answer), as rules.h's struct
 * policy_rule.  Strings NUL-terminated within their field, "" when the
 * rule has none. */
enum wire_policy_flags {
        WIRE_POLICY_ALLOW = 1 << 0,    /* decision allow (else deny) */
        WIRE_POLICY_UID = 1 << 1,      /* uid is set */
        WIRE_POLICY_GID = 1 << 2,      /* gid is set (group) */
        WIRE_POLICY_PEER_UID = 1 << 3, /* peer_uid is set (sender_uid) */
        WIRE_POLICY_TOPIC = 1 << 4,    /* object is a topic (else a name) */
};
struct wire_policy_rule {
        uint32_t line;       /* in the configuration */
        uint16_t action;     /* enum policy_action (rules.h): own, send, receive, publish,
                                subscribe, call, monitor, bulk = 0 .. 7 */
        uint16_t flags;      /* enum wire_policy_flags */
        uint32_t uid, gid, peer_uid;
        uint32_t reserved_;
        uint64_t hits;       /* times it decided */
        char object[WIRE_NAME_MAX];
        char unit[WIRE_UNIT_MAX];
        char peer_unit[WIRE_UNIT_MAX]; /* sender_unit */
};

/* A whole STATUS answer: the DAEMON record and the lists that follow it.
 * ipcd builds one (struct router_status holds it), ipcdctl reads one back
 * (wire_status_set_add for each record up to END). */
struct wire_status_set {
        struct wire_status_daemon daemon;
        struct wire_status_queue *queues;
        size_t nqueues;
        struct wire_status_client *clients;
        size_t nclients;
        struct wire_status_ring *rings;
        size_t nrings;
        struct wire_status_topic *topics;
        size_t ntopics;
        struct wire_status_channel *channels;
        size_t nchannels;
};
/* Append body, a record of kind QUEUE, CLIENT, RING, TOPIC or CHANNEL (a whole
 * struct wire_status_*, see wire_rec_body), to its list; DAEMON replaces
 * set->daemon.  0, -ENOMEM, or -EINVAL for another kind. */
int wire_status_set_add(struct wire_status_set *set, enum wire_rec_kind kind, const void *body);
/* Free the lists and empty set. */
void wire_status_set_free(struct wire_status_set *set);

/* Append one record to buf (header + body); returns bytes written or
 * -ENOBUFS.  body may be NULL when body_len is 0. */
int wire_rec_put(void *buf, size_t size, enum wire_rec_kind kind,
                 const uint8_t nonce[WIRE_NONCE_SIZE], const void *body, size_t body_len);
/* Check a record header read from a FIFO: version, kind, len bounds.
 * 0 or -EBADMSG. */
int wire_rec_check(const struct wire_rec *h);
/* Copy a record body of body_len bytes into a known struct of size
 * `size`: truncate longer bodies, zero-fill shorter ones. */
void wire_rec_body(void *dst, size_t size, const void *body, size_t body_len);

/* ------------------------------------------------------------------ */
/* 3a. Inbound records (client -> Qu).                                  */

enum wire_op {
        WIRE_OP_SEND = 1,        /* dst = name; payload inline */
        WIRE_OP_UNREGISTER = 2,  /* the client leaves (ipcd also writes this one for
                                    a client it saw die, so that the client's earlier
                                    messages are routed before it is removed) */
        /* (UNREGISTER written by ipcd has arg WIRE_UNREGISTER_DEATH.) */
        WIRE_OP_PULL = 3,        /* the client emptied its queue: drain my backlog */
        WIRE_OP_TIMED = 4,       /* raise Sc after each delivery from now on */
        WIRE_OP_SUBSCRIBE = 5,   /* dst = topic pattern, arg = WIRE_SUB_*; answered on the
                                    reply type */
        WIRE_OP_UNSUBSCRIBE = 6, /* dst = topic pattern; answered on the reply type */
        WIRE_OP_PUBLISH = 7,     /* dst = topic */
        WIRE_OP_REPLY = 8,       /* arg = caller's client id, cookie = caller's cookie */
        WIRE_OP_SET_HISTORY = 9, /* dst = topic, arg = depth; answered */
        WIRE_OP_DOORBELL = 10,   /* write WIRE_DOORBELL bytes on the reply FIFO after deliveries */
        WIRE_OP_RELEASE = 11,    /* bulk chunk releases (payload: descriptors) */
        WIRE_OP_PING = 12,       /* answered with status 0 on the reply type */
        WIRE_OP_MONITOR = 13,    /* dst = pattern ("" = everything); privileged; answered */
        WIRE_OP_SET_OVERFLOW = 14, /* arg = policy | notify << 8, payload: optional uint64_t
                                      backlog bytes (0: the configured default); answered */
        WIRE_OP_LANE = 15,       /* give me a lane (another one if arg = 1); answered, the
                                    ACK's payload is a struct wire_lane_grant (ringfmt.h) */
        WIRE_OP_LANE_DROP = 16,  /* arg = ring << 32 | lane: I will not write it any more */
        WIRE_OP_CHANNEL_OPEN = 17, /* dst = name: a direct channel to it (chanfmt.h);
                                      answered, the ACK's payload is a struct
                                      wire_channel_grant */
        WIRE_OP_CHANNEL_ATTACHED = 18, /* arg = channel id: I attached its segment (the
                                          opener: offer it now; the acceptor: accepted);
                                          answered */
        WIRE_OP_CHANNEL_CLOSE = 19, /* arg = channel id: tear it down */
        WIRE_OP_WHOIS = 20,      /* arg = a client id: its systemd unit; answered, the
                                    ACK's payload the unit, NUL-terminated ("" none), or
                                    -ENOENT (no such client, or gone and forgotten:
                                    ipcd remembers the last WIRE_WHOIS_GONE gone) */
};
#define WIRE_WHOIS_GONE 128

/*
 * Answers.  The operations wire_op_answered() (below) names get one
 * WIRE_OUT_ACK record on the sender's type wire_reply_type(cookie)
 * whose status is 0 (or, for SET_HISTORY, the depth in effect) or a
 * negative errno.  A call (SEND with WIRE_IN_REQUEST) gets no ACK: its
 * answer is one WIRE_OUT_REPLY on wire_reply_type(cookie), either the
 * callee's reply (status 0) or ipcd's verdict (status -ENOENT no such
 * callee, -EAGAIN dropped: the callee is full, -ECONNRESET the callee went
 * away before replying).  A bridge (privileged) that forwards calls to
 * another host answers with REPLY | WIRE_IN_REMOTE and an int32 verdict
 * when the remote side failed: -ETIMEDOUT, -ECONNRESET, -ENOENT, -EAGAIN,
 * -EHOSTUNREACH (no route to the other host), -EMSGSIZE.
 *
 * A successful ACK (status 0, no body) may also arrive as a message of
 * zero bytes on the reply type: ipcd sends that when the queue is full of
 * unread messages, since a zero-byte message still fits.
 */
enum wire_overflow {
        WIRE_OVERFLOW_DROP_NEW = 1, /* backlog full: new messages are dropped (default) */
        WIRE_OVERFLOW_DROP_OLD = 2, /* backlog full: its oldest messages are dropped */
};
#define WIRE_OVERFLOW_NOTIFY 0x100 /* in arg: send WIRE_NOTICE_DROPPED notices */

#define WIRE_UNREGISTER_DEATH 1

/* SUBSCRIBE arg: never drop for this subscription, hold the publisher. */
#define WIRE_SUB_RELIABLE 1
/* WIRE_OUT_CREDIT for a topic (topic set, no name): status 0 credit,
 * WIRE_CREDIT_TOPIC_ON a reliable subscriber appeared (the publisher's
 * window for the topic starts), WIRE_CREDIT_TOPIC_OFF none left. */
#define WIRE_CREDIT_TOPIC_ON 1
#define WIRE_CREDIT_TOPIC_OFF 2

enum wire_in_flags {
        WIRE_IN_ACK = 1 << 0,     /* answer with a WIRE_OUT_ACK on the reply type */
        WIRE_IN_REQUEST = 1 << 1, /* a call: deliver with WIRE_OUT_REQUEST */
        WIRE_IN_MORE = 1 << 2,    /* sent with IPCD_MORE (the library batched it);
                                     ipcd routes it like any other */
        WIRE_IN_BULK = 1 << 3,    /* payload is a ring descriptor */
        WIRE_IN_FLOW_FULL = 1 << 4, /* flow control: with this send, half the sender's
                                       window or more is in flight to its destination:
                                       it may wait for credit (ipcd tells it when the
                                       destination goes away) */
        WIRE_IN_FLOW_WANTS = 1 << 5, /* and half its client budget or more is in
                                        flight to all destinations: it may wait for
                                        credit from any of them */
        WIRE_IN_REMOTE = 1 << 6,    /* PUBLISH from a bridge (ipcd-bridge): the payload
                                       starts with a struct wire_origin; privileged
                                       clients only; delivered with WIRE_OUT_REMOTE.
                                       REPLY from a bridge: the payload is one int32,
                                       a verdict (wire_remote_verdict_ok) given to the
                                       caller as ipcd's would be */
};

/*
 * Where a bridged message comes from (another host, through ipcd-bridge):
 * the first bytes of a WIRE_IN_REMOTE payload, kept in front of the
 * delivered payload (WIRE_OUT_REMOTE), which the library hides from the
 * application (ipcd_msg_origin() copies it out; it is ipcd_origin of
 * <ipcd.h>, byte for byte).  Strings are NUL-terminated within their
 * field; uid and pid are those of the sender on its own host: never a
 * local identity.  sizeof == 256, 8-aligned.
 */
#define WIRE_ORIGIN_MAGIC 0x6f726967u /* "orig" */
struct wire_origin {
        uint32_t magic;
        uint32_t uid;
        int32_t pid;
        uint32_t reserved0_;
        uint64_t bridge_id;  /* the bridge that imported it */
        uint64_t sender_id;  /* the sender's id in its own ipcd */
        char host[64];
        char sender[64];     /* "" for an anonymous sender */
        char unit[64];       /* its systemd unit where known, else "" */
        uint64_t reserved_[4];
};
/* 0 if o is well formed (magic, terminated strings), else -EBADMSG. */
int wire_origin_check(const struct wire_origin *o);

/*
 * Which operations are answered, stated once: ipcd's dispatch and the
 * library both read wire_op_answered().  PING, SUBSCRIBE, UNSUBSCRIBE,
 * SET_HISTORY, MONITOR, SET_OVERFLOW, LANE, CHANNEL_OPEN,
 * CHANNEL_ATTACHED and WHOIS always get one answer; SEND,
 * PUBLISH (status: the subscribers reached), TIMED and DOORBELL one when
 * they carry WIRE_IN_ACK, and a call (SEND with WIRE_IN_REQUEST) its
 * WIRE_OUT_REPLY; UNREGISTER, PULL, REPLY, RELEASE, LANE_DROP and
 * CHANNEL_CLOSE never,
 * whatever their flags.  An unknown operation is answered -EOPNOTSUPP when
 * it carries WIRE_IN_ACK.
 */
static inline bool wire_op_answered(uint16_t op, uint16_t flags)
{
        switch (op) {
        case WIRE_OP_PING:
        case WIRE_OP_SUBSCRIBE:
        case WIRE_OP_UNSUBSCRIBE:
        case WIRE_OP_SET_HISTORY:
        case WIRE_OP_MONITOR:
        case WIRE_OP_SET_OVERFLOW:
        case WIRE_OP_LANE:
        case WIRE_OP_CHANNEL_OPEN:
        case WIRE_OP_CHANNEL_ATTACHED:
        case WIRE_OP_WHOIS:
                return true;
        case WIRE_OP_SEND:
                return flags & (WIRE_IN_ACK | WIRE_IN_REQUEST);
        case WIRE_OP_UNREGISTER:
        case WIRE_OP_PULL:
        case WIRE_OP_REPLY:
        case WIRE_OP_RELEASE:
        case WIRE_OP_LANE_DROP:
        case WIRE_OP_CHANNEL_CLOSE:
                return false;
        default: /* PUBLISH, TIMED, DOORBELL, and unknown operations */
                return flags & WIRE_IN_ACK;
        }
}

struct wire_in {
        uint64_t client_id;
        uint8_t token[WIRE_TOKEN_SIZE];
        uint16_t op;     /* enum wire_op */
        uint16_t flags;  /* enum wire_in_flags */
        uint8_t dst_len; /* bytes of destination name/topic that follow, 0..63 */
        uint8_t reserved_[3];
        int64_t type;    /* user type, 1..WIRE_TYPE_USER_MAX, for SEND/PUBLISH/REPLY */
        uint64_t cookie; /* the sender's correlation id (ACK, call) */
        uint64_t arg;    /* op-specific */
        uint32_t len;    /* payload bytes following the destination */
        uint32_t reserved2_;
};
/* Followed by dst[dst_len] (no NUL) and zero padding to 8, then
 * payload[len] (8-aligned, so a descriptor can be read in place) and
 * zero padding to 8. */

static inline size_t wire_in_size(size_t dst_len, size_t len)
{
        return sizeof(struct wire_in) + ((dst_len + 7) & ~(size_t)7) + ((len + 7) & ~(size_t)7);
}

/* Append one inbound record at buf+*off (capacity size).  0, or -EMSGSIZE
 * when it does not fit (nothing written). */
int wire_in_put(void *buf, size_t size, size_t *off, const struct wire_in *h, const char *dst,
                const void *payload);

/* Decode the next inbound record from buf[*off..n).  Returns 1 with *h,
 * *dst (not NUL-terminated, h->dst_len bytes) and *payload set and *off
 * advanced, 0 at the end, -EBADMSG for a malformed record (the rest of the
 * message cannot be trusted and must be skipped).  Checks lengths only;
 * the caller authenticates and validates the semantics. */
int wire_in_next(const void *buf, size_t n, size_t *off, struct wire_in *h, const char **dst,
                 const void **payload);

/* ------------------------------------------------------------------ */
/* 3b. Delivered records (ipcd -> Qc).                                  */

enum wire_out_kind {
        WIRE_OUT_MSG = 1,    /* a user message (SEND, PUBLISH, call request) */
        WIRE_OUT_ACK = 2,    /* outcome of the sender's request: status, cookie */
        WIRE_OUT_REPLY = 3,  /* a reply to the receiver's call: cookie, payload */
        WIRE_OUT_NOTICE = 4, /* from ipcd: status = notice code, cookie = count, payload = text */
        WIRE_OUT_MONITOR = 5, /* a copy for a monitor: name = sender, topic = destination
                                 name or topic (WIRE_OUT_TOPIC), payload = the first bytes,
                                 cookie = the full payload length */
        WIRE_OUT_CREDIT = 6, /* flow control, on WIRE_TYPE_CREDIT: name = the destination,
                                cookie = inline bytes given back, type = bulk bytes given
                                back, status = 0, or -ECONNRESET: the destination went
                                away (every byte in flight to it is given back) */
};

/* What one inline SEND costs in a flow-control window: its payload and a
 * fixed overhead, so empty messages count too.  Both sides use this. */
#define WIRE_FLOW_RECORD 64
static inline uint64_t wire_flow_cost(uint64_t len)
{
        return len + WIRE_FLOW_RECORD;
}

enum wire_out_flags {
        WIRE_OUT_REQUEST = 1 << 0, /* answer with WIRE_OP_REPLY */
        WIRE_OUT_BULK = 1 << 1,    /* payload is a ring descriptor */
        WIRE_OUT_BACKLOG = 1 << 2, /* more for you waits in ipcd: PULL once empty (the
                                      library honours it; ipcd signals a backlog with
                                      the zero-byte WIRE_TYPE_PULL marker instead) */
        WIRE_OUT_HISTORY = 1 << 3, /* replayed from a topic's history */
        WIRE_OUT_TOPIC = 1 << 4,   /* MONITOR: the destination is a topic */
        WIRE_OUT_REMOTE = 1 << 5,  /* bridged from another host: the payload starts with
                                      a struct wire_origin (WIRE_IN_REMOTE) */
};

/* Bytes of payload a monitor record carries. */
#define WIRE_MONITOR_BYTES 64

enum wire_notice_code {
        WIRE_NOTICE_DROPPED = 1,  /* arg: number of messages dropped for you */
        WIRE_NOTICE_NAME_LOST = 2, /* also: a policy reload released the name */
        WIRE_NOTICE_REVOKED = 3,   /* a policy reload dropped a subscription */
        WIRE_NOTICE_CHANNEL = 4,  /* a channel is offered: cookie = its id, sender = the
                                     opener, payload = struct wire_channel_grant */
};

struct wire_out {
        uint16_t kind;     /* enum wire_out_kind */
        uint16_t flags;    /* enum wire_out_flags */
        uint8_t name_len;  /* sender name bytes that follow, 0 = anonymous */
        uint8_t topic_len; /* topic bytes that follow the name, 0 = none */
        uint16_t reserved_;
        int64_t type;      /* the user type */
        uint64_t sender_id;
        uint32_t sender_uid;
        int32_t sender_pid;
        uint64_t cookie;   /* MSG+REQUEST: the caller's cookie; ACK/REPLY: the cookie answered */
        int32_t status;    /* ACK: 0 or a negative errno; NOTICE: the code */
        uint32_t len;      /* payload bytes */
};
/* Followed by name[name_len], topic[topic_len], zero padding to 8, then
 * payload[len] (8-aligned) and zero padding to 8. */

static inline size_t wire_out_size(size_t name_len, size_t topic_len, size_t len)
{
        return sizeof(struct wire_out) + ((name_len + topic_len + 7) & ~(size_t)7) +
               ((len + 7) & ~(size_t)7);
}

int wire_out_put(void *buf, size_t size, size_t *off, const struct wire_out *h, const char *name,
                 const char *topic, const void *payload);
/* As wire_in_next(); *name and *topic point at h->name_len/topic_len bytes. */
int wire_out_next(const void *buf, size_t n, size_t *off, struct wire_out *h, const char **name,
                  const char **topic, const void **payload);

/* ------------------------------------------------------------------ */
/* Small codecs.                                                        */

/* Lowercase hex of n bytes into out (2n+1 with NUL). */
void wire_hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly 2n lowercase hex digits; 0 or -EINVAL. */
int wire_hex_decode(const char *in, uint8_t *out, size_t n);
/* Constant-time comparison of two tokens. */
bool wire_token_equal(const uint8_t a[WIRE_TOKEN_SIZE], const uint8_t b[WIRE_TOKEN_SIZE]);

/* A verdict a bridge may give for a call it forwarded (REPLY with
 * WIRE_IN_REMOTE). */
static inline bool wire_remote_verdict_ok(int32_t status)
{
        return status == -ETIMEDOUT || status == -ECONNRESET || status == -ENOENT ||
               status == -EAGAIN || status == -EHOSTUNREACH || status == -EMSGSIZE;
}
