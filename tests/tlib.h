/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tlib.h - helpers shared by the integration tests in tests/.
 *
 * The tests run inside the harness (tests/harness.sh): a private IPC
 * namespace, a temporary runtime directory in $IPCD_RUNTIME_DIR and,
 * unless the test starts its own, an ipcd serving it.  Everything here
 * talks to ipcd the way a user would (the public API of <ipcd.h>), or, for
 * status and hostile input, with the bytes of src/shared/wire.h written
 * by hand, independent of the library's own implementation.
 *
 * Failures print "file:line: what" to stderr and exit 1; a skip exits 77.
 * Every test arms a generous alarm as a hang guard only: no test asserts
 * how fast something happens.
 */
#pragma once

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <ipcd.h>

#include "shared/macro.h"
#include "shared/wire.h"

#define TL_EXIT_SKIP 77

/* Hang guard for a whole test program, in seconds (raised under ASan). */
#define TL_HANG_GUARD_S 150

extern const char *tl_progname;

_Noreturn void tl_fail(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
_Noreturn void tl_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "ENOENT" for -ENOENT or ENOENT, "0" for 0, else the number. */
const char *tl_errname(int r);

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        tl_fail(__FILE__, __LINE__, "check failed: %s", #cond);                    \
        } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        tl_fail(__FILE__, __LINE__, __VA_ARGS__);                                  \
        } while (0)

/* r must be exactly `want` (0 or a negative errno). */
#define CHECK_R(expr, want)                                                                        \
        do {                                                                                       \
                long _r_ = (long)(expr);                                                           \
                long _w_ = (long)(want);                                                           \
                if (_r_ != _w_)                                                                    \
                        tl_fail(__FILE__, __LINE__, "%s returned %ld (%s), expected %ld (%s)",     \
                                #expr, _r_, tl_errname((int)_r_), _w_, tl_errname((int)_w_));      \
        } while (0)

/* expr must succeed (>= 0). */
#define CHECK_OK(expr)                                                                             \
        do {                                                                                       \
                long _r_ = (long)(expr);                                                           \
                if (_r_ < 0)                                                                       \
                        tl_fail(__FILE__, __LINE__, "%s failed: %ld (%s)", #expr, _r_,            \
                                tl_errname((int)_r_));                                             \
        } while (0)

#define CHECK_EQ(a, b)                                                                             \
        do {                                                                                       \
                long long _a_ = (long long)(a), _b_ = (long long)(b);                              \
                if (_a_ != _b_)                                                                    \
                        tl_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, _a_, _b_);   \
        } while (0)

#define CHECK_STREQ(a, b)                                                                          \
        do {                                                                                       \
                const char *_a_ = (a), *_b_ = (b);                                                 \
                if (strcmp(_a_, _b_) != 0)                                                         \
                        tl_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, _a_,     \
                                _b_);                                                              \
        } while (0)

/* Start of every test program: hang guard, stdio, $IPCD_RUNTIME_DIR. */
void tl_init(int argc, char **argv);
/* The runtime directory under test. */
const char *tl_rundir(void);
void tl_sleep_ms(unsigned ms);
uint64_t tl_now_ms(void);

/* ---- the public API, with checks ---- */

/* ipcd_connect() that must succeed (name NULL: anonymous). */
ipcd_client *tl_connect(const char *name);
/* Send that must succeed; with IPCD_ACK it must be delivered. */
void tl_send(ipcd_client *c, const char *dst, long type, const void *data, size_t len, int flags);
/* Receive with the filter (timeout -1 guarded by the alarm) and check type,
 * payload and, when sender != NULL, the sender's name; the message is
 * released.  Notices are skipped when filter is 0. */
void tl_expect(ipcd_client *c, long filter, long type, const void *data, size_t len,
               const char *sender);
/* Receive one user message (skipping notices) into msg; returns ipcd_recv's
 * result (>= 0 or -errno).  The caller releases msg on success. */
int tl_recv(ipcd_client *c, ipcd_msg *msg, long filter, int timeout_ms);
/* Nothing is waiting for c (timeout 0 gives -EAGAIN); notices are skipped. */
void tl_expect_empty(ipcd_client *c);
/* Wait until ipcd has processed everything c sent before: an IPCD_ACK
 * send to c's own name (c must be named), which is received and dropped. */
void tl_sync(ipcd_client *c);

/* ---- status, read straight from the control FIFO ---- */

struct tl_status {
        struct wire_status_daemon daemon;
        size_t n_queues, n_clients, n_rings, n_channels;
        struct wire_status_queue *queues;
        struct wire_status_client *clients;
        struct wire_status_ring *rings;
        struct wire_status_channel *channels;
};

/* One STATUS request; 0 or -errno (-ECONNREFUSED: no daemon). */
int tl_status_get(struct tl_status *st, int timeout_ms);
/* As above, failing the test on error. */
void tl_status(struct tl_status *st);
void tl_status_free(struct tl_status *st);
/* The client record with that name / id, or NULL. */
const struct wire_status_client *tl_status_client(const struct tl_status *st, const char *name);
const struct wire_status_client *tl_status_client_id(const struct tl_status *st, uint64_t id);
void tl_status_print(const struct tl_status *st, FILE *f);
/* Wait (hang guard 10 s) until ipcd lists exactly n clients: closes are
 * processed by ipcd asynchronously. */
void tl_wait_clients(unsigned n);

/* ---- raw control FIFO and registration (hostile tests) ---- */

/* Write bytes to RUNDIR/control (blocking); 0 or -errno. */
int tl_control_write(const void *buf, size_t len);

struct tl_raw {
        int reply_fd; /* kept open for the whole session: closing it = leaving */
        char fifo[WIRE_HEX_LEN + 1];
        struct wire_rec_registered reg;
        int32_t error; /* the error record's errno when refused */
};

/* Register by hand (name NULL or "": anonymous), claiming `pid` (0: our
 * own).  Returns 0 with r->reg set, the negative errno of an error record,
 * or -ETIMEDOUT. */
int tl_raw_register(struct tl_raw *r, const char *name, pid_t pid, int timeout_ms);
void tl_raw_close(struct tl_raw *r);
/* Fill a wire_in header for r (client id and token). */
void tl_raw_header(const struct tl_raw *r, struct wire_in *h, uint16_t op, const char *dst);
/* msgsnd one inbound message of mtype with the given mtext; 0 or -errno. */
int tl_msgsnd(int qid, long mtype, const void *mtext, size_t len);

/* ---- /proc/sysvipc ---- */

struct tl_sysv {
        int id;
        unsigned perms;
        uid_t uid, cuid;
        gid_t gid, cgid;
        unsigned long qnum; /* msg: messages waiting */
};

/* 1 and *ret filled if a queue/semaphore set/segment with this id exists
 * in our IPC namespace, 0 if not. */
int tl_sysv_find(const char *kind, int id, struct tl_sysv *ret);
/* Number of objects of kind ("msg", "sem", "shm") in our IPC namespace. */
unsigned tl_sysv_count(const char *kind);
/* Their ids (at most max of them); returns the count. */
unsigned tl_sysv_ids(const char *kind, int *ids, unsigned max);

/* ---- a daemon of our own (tests that restart it) ---- */

/* Start $IPCD --runtime-dir RUNDIR [--config $IPCD_TEST_CONFIG] and wait
 * until it answers STATUS; returns its pid.  Its stderr goes to ours. */
pid_t tl_ipcd_start(void);
/* Send sig and wait for it (hang guard); returns the wait status. */
int tl_ipcd_stop(pid_t pid, int sig);
/* SIGKILL the sentinel of the ipcd of that pid (ipcd(8): it removes ipcd's
 * objects the moment ipcd dies) and wait until it is dead, so that a crash
 * of ipcd leaves its objects behind for the next ipcd's clean-up.  Fails
 * the test if ipcd has no sentinel. */
void tl_ipcd_kill_sentinel(pid_t ipcd);

/* ---- attacks (tests/test-attack-*.c) ---- */

/* Skip unless we are root and every uid in [first, first + n) is mapped
 * in our user namespace (tests that turn children into other uids). */
void tl_require_uids(uid_t first, unsigned n);
/* Become uid (gid the same number), with the given supplementary groups
 * (NULL, 0: none).  For forked children; fails the test on error. */
void tl_become(uid_t uid, const gid_t *groups, size_t ngroups);
/* VmRSS of a process in KiB (/proc/PID/status), or -errno. */
long tl_rss_kib(pid_t pid);
/* Any "kB" line of /proc/PID/status ("VmRSS", "VmHWM": the peak RSS), in
 * KiB, or -errno. */
long tl_proc_kib(pid_t pid, const char *field);
/* How many clients of uid a status lists. */
unsigned tl_status_uid_clients(const struct tl_status *st, uid_t uid);

/* A STATUS request whose reply FIFO is kept open but never read, so that
 * ipcd must park its answer. */
struct tl_parked {
        int fd;
        char path[PATH_MAX];
};
/* 0 or -errno. */
int tl_status_park(struct tl_parked *p);
/* Close the FIFO (ipcd's writer sees EPIPE) and unlink it. */
void tl_parked_close(struct tl_parked *p);

/* Run `cmd` (sh -c) and return its whole stdout (malloc'd, NUL-terminated)
 * and its exit status in *status; NULL on failure to run it. */
char *tl_capture(const char *cmd, int *status);

/* ---- uid 65534 (tests/test-stray.c, test-reload.c) ---- */

#define TL_NOBODY 65534
/* Skip (exit 77) unless we are root and uid 65534 is mapped here. */
void tl_skip_unless_nobody(void);
/* In a child: drop every group and become uid/gid 65534, or fail. */
void tl_become_nobody(void);
