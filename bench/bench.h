/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench.h - ipcd-bench: ipcd and its baselines, side by side in one run.
 *
 * The parent process only orchestrates: every measurement runs in fresh
 * child processes (A and B, plus S/F/L for isolation), which pin
 * themselves, open their end of a transport, report "ready" and wait for
 * "go"; the parent pins the helper processes (the floor's forwarder,
 * ipcd, the D-Bus brokers) in "same CPU" mode once the children are
 * connected (ipcd and dbus-broker start threads on demand), then releases
 * them.  Samples travel back through a MAP_SHARED region.
 *
 * A transport is a small table of functions (struct transport); adding
 * one (the bulk ring, fan-out, calls) means adding a table and a line in
 * a section's list, nothing else.  The Python rows (python.c) come from
 * python/bench.py, run against the same ipcd.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <ipcd.h>

#include "shared/macro.h"

#define BENCH_MAX_MSG 65536 /* largest message any section uses */

/* The backlog the isolation and fan-out receivers choose with
 * ipcd_set_overflow (drop-new): the default backlog_bytes.  ipcd runs with
 * its default backlog; flow control holds one-way senders back. */
#define DEFAULT_BACKLOG_BYTES (1ULL << 20)

/* Sender batching (ipcd-more, floor-more): messages per batch; ipcd-more
 * sends without IPCD_MORE every this many. */
#define SENDER_BATCH 64
#define BENCH_MAX_HELPERS 16

/* First byte of every payload: what the message is for. */
enum {
        MARK_DATA = 'D',
        MARK_END = 'E',  /* throughput: end of one repetition */
        MARK_QUIT = 'Q', /* the peer exits */
};

enum {
        SIDE_A = 0, /* client / sender */
        SIDE_B = 1, /* server / receiver */
};

enum bench_send_flags {
        BSEND_ONEWAY = 1 << 0,   /* no answer will be awaited (throughput, quit) */
        BSEND_RELIABLE = 1 << 1, /* must not be dropped: may wait and retry (end marker) */
};

struct pair;

struct transport {
        const char *name;  /* short, for --only and the CSV */
        const char *label; /* for the tables */
        /* In the parent, before the children are forked.  0, -errno, or 1
         * when the transport is not available (reason in p->why). */
        int (*setup)(struct pair *p);
        /* In a child: open one end. */
        int (*open)(struct pair *p, int side, void **ret);
        int (*send)(void *ep, const void *buf, size_t len, int flags);
        /* Receive one message of at most len bytes (stream transports read
         * exactly len); returns its length or -errno. */
        ssize_t (*recv)(void *ep, void *buf, size_t len);
        /* Receiver, after MARK_END (D-Bus answers the sender's call). */
        void (*end_ack)(void *ep);
        void (*close)(void *ep);
        /* In the parent, after the children exited. */
        void (*teardown)(struct pair *p);
        const void *arg; /* transport-specific constant */
        bool touches;    /* recv() reads every payload byte in place (a ring) */
        bool spins;      /* the receiver spins: only measured unpinned (2 CPUs) */
};

/* One measurement of one transport between two processes. */
struct pair {
        const struct transport *t;
        struct bench *b;
        unsigned seq;                     /* unique within the run: names, paths */
        size_t size;                      /* payload bytes */
        void *priv;                       /* set by setup, inherited by the children */
        pid_t helpers[BENCH_MAX_HELPERS]; /* processes pinned with the children */
        size_t n_helpers;
        char why[256]; /* why setup skipped */
};

/* median, min and max over the repetitions */
struct stat3 {
        double med, min, max;
        bool valid;
};

struct lat_result {
        struct stat3 p50, p99, p999; /* microseconds */
        double samples;              /* round trips measured, all repetitions */
        char why[256];               /* set when skipped or failed */
        bool ok;
};

struct thr_result {
        struct stat3 rate;       /* messages per second */
        uint64_t sent, received; /* over the measured repetitions */
        uint64_t notices;        /* ipcd notices seen by the receiver */
        char why[256];
        bool ok;
};

struct bench {
        /* settings */
        bool quick;
        unsigned reps; /* measured repetitions */
        double rep_s;  /* seconds per repetition */
        double warm_s; /* warm-up seconds */
        char **only;   /* --only words, NULL-terminated, or NULL */
        const char *out_dir;
        const char *csv_path;
        bool verbose;
        bool no_unshare;

        /* environment */
        char tmpdir[256]; /* private scratch directory */
        bool private_ipc_ns;
        char ns_note[512]; /* what was done to the namespace */
        long msgmnb, msgmax;
        int ncpus;

        /* outputs */
        FILE *txt;
        FILE *csv;

        /* ipcd daemon (drv-ipcd.c) */
        char ipcd_path[512]; /* as found */
        char ipcd_exec[300]; /* the private copy that runs */
        char ipcd_rundir[300];
        char ipcd_conf[300]; /* its config file, "" for the built-in defaults */
        char ipcd_why[300];  /* why ipcd is unavailable */
        char ipcd_note[512];
        pid_t ipcd_pid;
        bool ipcd_big_config; /* started with the raised client limits */

        /* D-Bus buses (dbus.c) */
        char dbus_broker_addr[300];
        char dbus_daemon_addr[300];
        char dbus_broker_why[300];
        char dbus_daemon_why[300];
        pid_t dbus_broker_pid, dbus_daemon_pid;

        /* figures the targets summary needs (NAN: not measured) */
        double iso_ratio;         /* F with L stuck / F with L reading */
        double scale_ratio;       /* cost per message, 1000 clients / 2 clients */
        double scale_subs_ratio;  /* the same with 1000 clients holding ~10 000 subscriptions */
        double scale_rtt_ratio;   /* round trip, 1000 clients / 2 clients */
        double idle_wakeups;      /* worst of the scale points, per second */
        double fan16_ratio;       /* 1 MiB: delivered bytes/s, 16 subscribers / 1 */
        double fan16_small_ratio; /* the same for 64 B */

        unsigned seq;
};

/* ---- bench-util.c ---- */
/* snprintf that truncates silently (messages and paths). */
void bprintf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
double now_s(void);
uint64_t now_ns(void);
void out(struct bench *b, const char *fmt, ...) _printf_(2, 3);
void vlog(struct bench *b, const char *fmt, ...) _printf_(2, 3);
void csv_row(struct bench *b, const char *section, const char *test, const char *transport,
             const char *mode, size_t size, const char *metric, const char *unit,
             const struct stat3 *s, double ratio, const char *ratio_to);
bool only_wants(const struct bench *b, const char *section, const char *transport);
bool only_names_section(const struct bench *b, const char *section);
bool only_lists(const struct bench *b, const char *word);
struct stat3 stat3_of(double *v, size_t n);
double percentile_sorted(const double *v, size_t n, double p);
int pin_self(int cpu);             /* cpu < 0: every CPU */
void pin_tree(pid_t pid, int cpu); /* pid, its threads and descendants */
int write_file(const char *path, const char *s);
long read_long_file(const char *path);
int status_field(pid_t pid, const char *key, long *ret); /* /proc/PID/status, kB or count */
int ctxt_switches(pid_t pid, uint64_t *ret);             /* sum over every task */
int wait_child(pid_t pid, double timeout_s, int *status);
void kill_wait(pid_t pid);
const char *fmt_rate(double v, char *buf, size_t size);
const char *fmt_stat(const struct stat3 *s, int prec, char *buf, size_t size);

/* Read every byte of a payload (bulk receivers must, to be fair to
 * transports that copy); returns a checksum nobody needs. */
uint64_t touch_bytes(const void *p, size_t n);
extern volatile uint64_t bench_sink; /* where checksums go, so reads stay */
#define BULK_TOUCH_MIN 4096          /* payloads from this size on are touched */

/* ---- run.c: the generic drivers ---- */
int run_latency(struct bench *b, const struct transport *t, bool same_cpu, size_t size,
                struct lat_result *res);
int run_throughput(struct bench *b, const struct transport *t, bool same_cpu, size_t size,
                   struct thr_result *res);

/* ---- transports.c ---- */
extern const struct transport transport_pipe;
extern const struct transport transport_unix;
extern const struct transport transport_unix_stream;
extern const struct transport transport_sysv;
extern const struct transport transport_floor;
extern const struct transport transport_floor_batch;
extern const struct transport transport_floor_more;

/* ---- floor-shm.c ---- */
extern const struct transport transport_floor_shm;

/* ---- dbus.c ---- */
extern const struct transport transport_dbus_broker;
extern const struct transport transport_dbus_daemon;
void dbus_buses_start(struct bench *b);
void dbus_buses_stop(struct bench *b);

/* ---- drv-chan.c: direct channels and their shared-memory floors ---- */
extern const struct transport transport_chan_spin;
extern const struct transport transport_chan_futex;
extern const struct transport transport_chan;
extern const struct transport transport_shm_spin;
extern const struct transport transport_shm_futex;

/* ---- zmq.c ---- */
extern const struct transport transport_zmq;

/* ---- drv-ipcd.c ---- */
extern const struct transport transport_ipcd;
extern const struct transport transport_ipcd_call;
extern const struct transport transport_ipcd_more;
extern const struct transport transport_ipcd_ring;
extern const struct transport transport_ipcd_ring_ack;
int drv_ipcd_setup(struct pair *p);
int connect_retry(const char *rundir, const char *name, ipcd_client **ret);
int drv_ipcd_daemon_start(struct bench *b);
void exe_dir(char *buf, size_t size);
void tail_log(struct bench *b, const char *log);
void drv_ipcd_daemon_stop(struct bench *b);
bool drv_ipcd_available(const struct bench *b);
int bench_isolation(struct bench *b);
int bench_fanout(struct bench *b);
int bench_scale(struct bench *b);

/* ---- python.c: section 8, the Python binding against pyzmq; the C ipcd
 * figures of sections 1 (median round trip per mode, us) and 2 (64 B
 * rate) for its ratios, NAN where not measured ---- */
int bench_python(struct bench *b, const double c_rtt_us[2], double c_oneway);

/* ---- bridge.c: section 9 (--bridge), topics across two IPC namespaces
 * through ipcd-bridge and one nats-server, against a direct NATS pair ---- */

/* A transport that may lose messages (core NATS is at most once) sends
 * its MARK_END and MARK_QUIT through this: each is stamped with a
 * sequence number and repeated until the receiver acknowledges it;
 * lossy_recv() acknowledges and drops the repeats.  Data goes as is. */
struct lossy_link {
        int (*put)(void *ep, const void *buf, size_t len);
        /* one message, at most len bytes; -ETIMEDOUT after timeout_ms */
        ssize_t (*get)(void *ep, void *buf, size_t len, int timeout_ms);
        void *ep;
        uint32_t sent_seq, seen_seq;
        char mark[BENCH_MAX_MSG];
};
int lossy_send(struct lossy_link *l, const void *buf, size_t len);
ssize_t lossy_recv(struct lossy_link *l, void *buf, size_t len);
const char *bridge_nats_url(void); /* the bench's nats-server, "" when not running */
/* 0, 1 when the section was skipped (the reason is printed), or -errno */
int bench_bridge(struct bench *b);

/* ---- nats.c (built with libnats only) ---- */
#ifdef BENCH_NATS
extern const struct transport transport_nats;
extern const struct transport transport_nats_asap;
#endif
