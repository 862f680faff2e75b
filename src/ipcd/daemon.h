/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemon.h - the state of one running ipcd, shared by main.c (start-up,
 * configuration), control.c (the control FIFO), event.c (the event loop,
 * the only file that talks to libsystemd) and rundir.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcd/core/router.h"
#include "shared/ipcstate.h"
#include "shared/wire.h"

struct event_loop; /* event.c */

struct daemon {
        char *rundir;
        char *config_path;        /* NULL: the default file, if any */
        bool config_explicit;
        int rundir_fd;
        int clients_fd;           /* RUNDIR/clients */
        int control_fd;           /* RUNDIR/control, O_RDWR|O_NONBLOCK */
        bool control_created;     /* we made the FIFO (not systemd): we remove it */
        int lock_fd;              /* RUNDIR/ipcd.lock, flock()ed */
        int state_fd;             /* RUNDIR/ipcd.state */
        int sentinel_fd;          /* write end of the sentinel's pipe, -1: none */
        pid_t sentinel_pid;
        /* The names of a crashed predecessor (from its state file), for
         * the router's reservations (name_grace_ms). */
        struct ipcstate_name *dead_names;
        size_t ndead_names;
        /* Replies parked for slow readers (event_write_reply), at most in
         * all and per uid (parked_bytes, parked_bytes_per_uid). */
        uint64_t parked_bytes, parked_bytes_per_uid;
        gid_t gid;                /* group of every object */
        gid_t clients_gid;        /* clients_group, if set */
        bool have_clients_group;
        uint64_t ipc_ns;
        struct router router;

        /* control FIFO line framing */
        char line[WIRE_LINE_MAX];
        size_t line_len;
        bool line_discard;        /* inside an over-long line: skip to '\n' */
        uint64_t line_since_ms;   /* first byte of the partial line (clock_now_ms), 0: none */

        /* re-exec (reexec.c) */
        int argc;
        char **argv;
        char exe_path[4096];      /* our binary, resolved at start: after an upgrade,
                                     the new one */
        bool reexec_requested;    /* a REEXEC line: re-exec once the FIFO read is over */
        bool adopted;             /* this image took over an earlier one's state */
        int kept_control_fd;      /* systemd's FIFO kept by a failed take-over, or -1 */
        uint8_t *rest;            /* control bytes read after the REEXEC line */
        size_t rest_len;

        struct event_loop *loop;
        int (*reload)(struct daemon *d); /* SIGHUP: re-read the configuration */
};

/* rundir.c: create the layout, take the lock, clean up after a crash. */
int rundir_setup(struct daemon *d, int inherited_fifo_fd);
void rundir_teardown(struct daemon *d);
/* Group and mode of RUNDIR/control for clients_group: 0620 and the
 * group when set, 0622 and ipcd's group when not (also on SIGHUP). */
int rundir_control_access(struct daemon *d);

/* sentinel.c: a process that removes our objects the moment we die. */
int sentinel_start(struct daemon *d);
/* clean: we removed our objects ourselves; else the sentinel does.  Waits
 * for it to exit. */
void sentinel_stop(struct daemon *d, bool clean);

/* reexec.c: serialize, execve(2); returns only when that failed (the
 * data threads paused by the caller). */
int reexec_exec(struct daemon *d);
/* The new image: take over the state in fd (closed), or give up on it
 * (logged: then every inherited descriptor is closed and ipcd starts as
 * after a crash).  0 or -errno.  d->router is router_init'ed. */
int reexec_adopt(struct daemon *d, int fd);

/* control.c */
void control_read(struct daemon *d);
/* Feed bytes as if read from the control FIFO (control_read, unit tests). */
void control_feed(struct daemon *d, const char *buf, size_t n);
/* A partial line older than this is dropped (and counted as bad). */
#define CONTROL_PARTIAL_MS 100U
/* Drop the partial line if it is CONTROL_PARTIAL_MS old at now_ms.
 * Returns when the partial line left expires (clock_now_ms time), 0 if
 * none is left: the event loop runs a timer only while one is pending. */
uint64_t control_expire(struct daemon *d, uint64_t now_ms);
/* The systemd unit a cgroup path places a process in ("" none), as
 * registration reads it from /proc/PID/cgroup. */
void control_unit_of_cgroup(const char *path, char unit[POLICY_UNIT_MAX]);
/* After a re-exec from a version 1 state: read every client's groups and
 * unit again from /proc/PID (that state does not carry them; its pidfd
 * still watches the process) and put it in its unit's books.  A client
 * whose process cannot be read keeps none.  Router lock held. */
void control_identities_refresh(struct daemon *d);

/* event.c */
/* The control FIFO passed by systemd (ipcd.socket, ListenFIFO=), or -1. */
int event_inherited_fifo(const char *rundir);
int event_run(struct daemon *d);
int event_watch_client(struct daemon *d, struct client *c);
/* Write buf to fd without blocking; what does not fit now is written when
 * fd becomes writable, if it fits the bounds on parked replies (for uid,
 * the requester, and in all: parked_bytes*); else it is dropped.  Takes fd and buf; closes/frees them when done or
 * after 5 s. */
void event_write_reply(struct daemon *d, uid_t uid, int fd, void *buf, size_t len);
/* Log a client event; under journald with structured fields
 * (IPCD_CLIENT_ID, IPCD_CLIENT_NAME, IPCD_CLIENT_UID, IPCD_CLIENT_PID). */
void event_log_client(int level, const struct client *c, const char *event);
