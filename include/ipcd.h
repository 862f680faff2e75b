/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipcd.h - client library of ipcd, the local message broker.
 *
 * Every function returns 0 (or a non-negative count) on success and a
 * negative errno on failure, like libsystemd.  See libipcd-client(3).
 *
 * Thread safety: any thread may send and any thread may receive on one
 * handle; ipcd_close() must not race with other calls on the same handle.
 * The library installs no signal handler, starts no thread, never prints
 * and never raises SIGPIPE.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPCD_VERSION_MAJOR 0
#define IPCD_VERSION_MINOR 1
#define IPCD_VERSION_PATCH 0

#define IPCD_NAME_MAX 64 /* bytes, NUL included */

/* User message types are 1 ... IPCD_TYPE_MAX; higher values are reserved. */
#define IPCD_TYPE_MAX ((1L << 30) - 1)

typedef struct ipcd_client ipcd_client;

typedef struct ipcd_msg {
        long type;                    /* > 0, as the sender gave it */
        const void *data;             /* valid until ipcd_msg_release() */
        size_t len;
        char sender[IPCD_NAME_MAX];   /* "" for an anonymous sender */
        uint64_t sender_id;           /* never reused while one ipcd runs */
        uid_t sender_uid;             /* as authenticated by ipcd */
        pid_t sender_pid;
        char topic[IPCD_NAME_MAX];    /* set for a published message */
        uint64_t id;                  /* for ipcd_reply() */
        uint32_t flags;               /* IPCD_MSG_BULK, IPCD_MSG_REQUEST, ... */
        uint64_t reserved_[8];        /* library-private */
} ipcd_msg;

enum {
        IPCD_NONBLOCK = 1 << 0, /* -EAGAIN instead of waiting */
        IPCD_ACK = 1 << 1,      /* return once delivered, or the error */
        IPCD_MORE = 1 << 2,     /* ipcd_send: more follows at once; the library may hold
                                   this message in the handle and send several in one
                                   queue message.  Held messages leave with the next
                                   call on the handle that sends without IPCD_MORE,
                                   receives, publishes, calls or closes. */
};

enum {
        IPCD_MSG_BULK = 1 << 0,    /* data lies in the ring, read in place */
        IPCD_MSG_REQUEST = 1 << 1, /* sent by ipcd_call: answer with ipcd_reply */
        IPCD_MSG_NOTICE = 1 << 2,  /* from ipcd itself, e.g. "N messages missed" */
};

int ipcd_connect(const char *name, ipcd_client **ret); /* NULL: anonymous */
int ipcd_connect_at(const char *runtime_dir, const char *name, ipcd_client **ret);
void ipcd_close(ipcd_client *c);
uint64_t ipcd_id(const ipcd_client *c);

int ipcd_send(ipcd_client *c, const char *dst, long type, const void *data, size_t len,
              int flags);
int ipcd_recv(ipcd_client *c, ipcd_msg *msg, long type_filter, int timeout_ms);
void ipcd_msg_release(ipcd_client *c, ipcd_msg *msg);

int ipcd_subscribe(ipcd_client *c, const char *topic);
/* A reliable subscription is never dropped: a publisher to a topic it
 * matches waits for it as for a unicast destination (see
 * ipcd_set_send_timeout; inline publishes).  Subscribing again changes
 * the flags. */
enum { IPCD_SUB_RELIABLE = 1 << 0 };
int ipcd_subscribe_flags(ipcd_client *c, const char *topic, int flags);
int ipcd_unsubscribe(ipcd_client *c, const char *topic);
int ipcd_publish(ipcd_client *c, const char *topic, long type, const void *data, size_t len,
                 int flags);

/* Flow control: point-to-point sends are lossless.  A send to a
 * destination whose window is full (its backlog in ipcd is at its bound)
 * waits until there is room; IPCD_NONBLOCK gives -EAGAIN and accepts
 * nothing; a destination that goes away while a send waits gives
 * -ECONNRESET.  This bounds every such wait of this handle: -ETIMEDOUT
 * after timeout_ms (-1: wait forever, the default; 0: never wait). */
int ipcd_set_send_timeout(ipcd_client *c, int timeout_ms);

int ipcd_call(ipcd_client *c, const char *dst, long type, const void *req, size_t len,
              ipcd_msg *reply, int timeout_ms);
int ipcd_reply(ipcd_client *c, const ipcd_msg *request, long type, const void *data,
               size_t len);
/* Answer a call with an error instead of a reply, as ipcd's own verdict
 * would be: the caller's ipcd_call() returns it.  error is -ETIMEDOUT,
 * -ECONNRESET, -ENOENT, -EAGAIN, -EHOSTUNREACH or -EMSGSIZE.  For bridges
 * (ipcd-bridge) that forward calls to other hosts: root or ipcd's group
 * only (else ipcd drops it and the caller times out).  LIBIPCD_CLIENT_3. */
int ipcd_reply_error(ipcd_client *c, const ipcd_msg *request, int error);

int ipcd_set_history(ipcd_client *c, const char *topic, unsigned depth);

int ipcd_fd(ipcd_client *c); /* readable when ipcd_recv() may not block */

int ipcd_buf_alloc(ipcd_client *c, size_t len, int flags, void **buf); /* in the ring */
int ipcd_send_buf(ipcd_client *c, const char *dst, long type, void *buf, size_t len,
                  int flags); /* takes buf */
int ipcd_publish_buf(ipcd_client *c, const char *topic, long type, void *buf, size_t len,
                     int flags);                  /* takes buf */
void ipcd_buf_free(ipcd_client *c, void *buf); /* unsent buf */

/* Additions beyond the contract. */

/* A notice (IPCD_MSG_NOTICE) has type = one of these codes, id = a count,
 * and data = a human-readable text. */
enum {
        IPCD_NOTICE_DROPPED = 1,   /* id messages for you were dropped (IPCD_NOTIFY_DROPS) */
        IPCD_NOTICE_NAME_LOST = 2, /* after a reconnection, your name was taken; or a
                                      policy reload took it (you are anonymous now) */
        IPCD_NOTICE_REVOKED = 3,   /* a policy reload dropped one of your subscriptions
                                      (data: which, and the rule's line) */
};

enum {
        IPCD_MSG_MONITOR = 1 << 3, /* a copy for ipcd_monitor(): topic holds the destination
                                      name or topic, data the first bytes, id the full length */
        IPCD_MSG_TOPIC = 1 << 4,   /* with IPCD_MSG_MONITOR: the destination is a topic */
        IPCD_MSG_REMOTE = 1 << 5,  /* from another host, through a bridge (ipcd-bridge):
                                      sender, sender_uid and sender_pid are the local
                                      bridge's; ipcd_msg_origin() tells who sent it */
};

/* Where a message from another host comes from (IPCD_MSG_REMOTE).  uid
 * and pid are the sender's on its own host: never a local identity. */
#define IPCD_ORIGIN_MAGIC 0x6f726967u
typedef struct ipcd_origin {
        uint32_t magic;          /* IPCD_ORIGIN_MAGIC */
        uint32_t uid;            /* on host */
        int32_t pid;             /* on host, 0 when unknown */
        uint32_t reserved0_;
        uint64_t bridge_id;      /* the bridge that carried it */
        uint64_t sender_id;      /* the sender's id in its own ipcd */
        char host[64];           /* NUL-terminated */
        char sender[IPCD_NAME_MAX]; /* "" for an anonymous sender */
        char unit[64];           /* its systemd unit where known, else "" */
        uint64_t reserved_[4];
} ipcd_origin;

/* Copy the origin of a message received with IPCD_MSG_REMOTE into *ret.
 * 0, -ENOENT for a local message, -EBADMSG for a malformed origin. */
int ipcd_msg_origin(const ipcd_msg *msg, ipcd_origin *ret);

/* The systemd unit of a received message's sender ("foo.service", a user
 * unit, "session-2.scope"; "" when it runs in none), as ipcd read it from
 * the sender's cgroup when it registered: trusted like sender_uid, the
 * sender cannot choose it.  For a message from a bridge (IPCD_MSG_REMOTE)
 * the bridge's unit; ipcd_msg_origin() has the remote sender's.  The
 * first call for a sender asks ipcd (one round trip); the handle keeps
 * the answer, so later ones cost a lookup.  The string stays valid until
 * ipcd_close() of the handle the message came from (call this before
 * that, and before ipcd_msg_release()).  NULL with errno: ENOENT for a
 * notice, or a sender ipcd no longer knows (it left long ago); ESTALE for
 * a message of an ipcd the handle is no longer connected to; EINVAL for
 * a message not filled by ipcd_recv()/ipcd_call() (or released);
 * EOPNOTSUPP from an ipcd older than this call (asked once per
 * connection); ETIMEDOUT, ECONNRESET, ENOMEM.  Version node LIBIPCD_CLIENT_3
 * (-version-info 3:0:3). */
const char *ipcd_msg_sender_unit(const ipcd_msg *msg);

enum {
        IPCD_REMOTE = 1 << 3, /* ipcd_publish/ipcd_publish_buf: the payload starts with an
                                 ipcd_origin; subscribers get IPCD_MSG_REMOTE and the rest.
                                 For bridges: root and members of ipcd's group (-EACCES) */
};

/* What ipcd does when a client's backlog (messages waiting in ipcd beyond
 * its queue) is full. */
enum {
        IPCD_OVERFLOW_DROP_NEW = 1, /* drop new messages (the default) */
        IPCD_OVERFLOW_DROP_OLD = 2, /* drop the oldest waiting messages */
};
enum {
        IPCD_NOTIFY_DROPS = 1 << 0, /* a notice in my stream tells how many I missed */
};
/* Set this client's overflow policy, its backlog size (0: the configured
 * default; capped by the configuration) and IPCD_NOTIFY_DROPS. */
int ipcd_set_overflow(ipcd_client *c, int policy, size_t backlog_bytes, int flags);

/* Receive a copy (IPCD_MSG_MONITOR) of every message ipcd routes whose
 * destination name or topic matches pattern ("*" or NULL: everything).
 * Root and members of ipcd's group only (-EACCES). */
int ipcd_monitor(ipcd_client *c, const char *pattern);

/*
 * Direct channels (libipcd-client(3) "DIRECT CHANNELS"): a shared-memory
 * ring pair for one pair of clients, set up and watched by ipcd, whose
 * messages then bypass it.  The opener calls ipcd_channel_open(); the
 * destination receives an offer, a notice (IPCD_MSG_NOTICE) of type
 * IPCD_NOTICE_CHANNEL from ipcd_recv() with filter 0, whose sender fields
 * are the opener's, and calls ipcd_channel_accept() with it (or only
 * releases it: the channel stays offered until the opener closes it).
 * Messages received through a channel carry IPCD_MSG_CHANNEL and the
 * peer's identity as ipcd attested it at setup; their data stays valid
 * until the next ipcd_channel_recv() or ipcd_channel_close() on that
 * channel (ipcd_msg_release() is allowed and does nothing).  One thread
 * may send and one receive on a channel at a time.  When the other end
 * closes or dies, ipcd_channel_recv() returns what it had sent, then
 * -ECONNRESET; ipcd_channel_send() returns -ECONNRESET.  A ring the peer
 * corrupted gives -EBADMSG and the channel is closed.  Close every channel
 * before ipcd_close() of its handle.
 */
typedef struct ipcd_channel ipcd_channel;
enum { IPCD_NOTICE_CHANNEL = 4 };       /* a channel offer: id = the channel's id */
enum { IPCD_MSG_CHANNEL = 1 << 6 };     /* received through a direct channel */
/* flags: 0.  -ENOENT no such destination, -EACCES not allowed, -EDQUOT
 * channels_per_uid or channels_total reached. */
int ipcd_channel_open(ipcd_client *c, const char *dst, int flags, ipcd_channel **ret);
int ipcd_channel_accept(ipcd_client *c, const ipcd_msg *offer, ipcd_channel **ret);
/* flags: IPCD_NONBLOCK.  Without it a full ring is waited for, at most
 * 10 s (-ETIMEDOUT).  -EMSGSIZE beyond ipcd_channel_max_msg(). */
int ipcd_channel_send(ipcd_channel *ch, long type, const void *data, size_t len, int flags);
/* timeout_ms: -1 forever, 0 never wait.  The receiver spins for the spin
 * time (ipcd_channel_set_spin, default 50 us; 0: never spin), then sleeps
 * on a futex in the ring. */
int ipcd_channel_recv(ipcd_channel *ch, ipcd_msg *msg, int timeout_ms);
int ipcd_channel_set_spin(ipcd_channel *ch, unsigned spin_us);
uint64_t ipcd_channel_id(const ipcd_channel *ch);
size_t ipcd_channel_max_msg(const ipcd_channel *ch);
void ipcd_channel_close(ipcd_channel *ch);

/* The largest payload ipcd_send() moves inline through the queues. */
size_t ipcd_max_inline(const ipcd_client *c);

/* The name the client registered, or "" when anonymous. */
const char *ipcd_name(const ipcd_client *c);

/* 1 if name is a valid client or topic name (1-63 bytes of [A-Za-z0-9._/-]). */
int ipcd_name_is_valid(const char *name);

#ifdef __cplusplus
}
#endif
