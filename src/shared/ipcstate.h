/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipcstate.h - the record of every System V object an ipcd instance
 * created, kept in RUNDIR/ipcd.state, so that objects left by a crashed
 * instance can be removed by the next one or by `ipcdctl cleanup`.
 *
 * Format: one line per event, "+msg ID", "+sem ID", "+shm ID" when an
 * object is created and "-msg ID" etc. when ipcd removed it itself; the
 * last line about an object wins, and a last line without its newline is
 * ignored.  Names too: "+name UID NAME" when a client of uid UID registers
 * NAME, "-name UID NAME" when it goes, so that after a crash the next ipcd
 * can reserve each name for its previous owner (name_grace_ms).  An object is removed at clean-up only if /proc/sysvipc still
 * lists it with key IPC_PRIVATE and the expected creator uid.
 *
 * The file stays proportional to the objects alive: ipcstate keeps the
 * live set in memory and, once the file holds about twice as many lines
 * as there are live objects, rewrites it (RUNDIR/ipcd.state.new with one
 * "+" line per live object, then rename(2) over ipcd.state, then dup3(2)
 * onto the same descriptor number, so the callers' fd stays valid).  A
 * crash during the rewrite leaves the old, complete file.  Clean-up reads
 * the file and each /proc/sysvipc table once: linear in their sizes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum ipcstate_kind { IPCSTATE_MSG = 'm', IPCSTATE_SEM = 's', IPCSTATE_SHM = 'h' };

/* Open (create, truncate) RUNDIR/ipcd.state for appending and start its
 * live set (a stale ipcd.state.new is removed); fd or -errno. */
int ipcstate_open(const char *rundir);
/* Close what ipcstate_open returned and forget its live set; -1. */
int ipcstate_close(int fd);
/* Record one event, compacting the file when due; 0 or -errno.
 * Thread-safe (one lock for all).  fd < 0: nothing is recorded.  On an fd
 * that ipcstate_open did not return, the line is only appended. */
int ipcstate_record(int fd, enum ipcstate_kind kind, int id, bool removed);
/* The live objects and the lines of the file behind fd (tests, status). */
int ipcstate_stats(int fd, size_t *nlive, size_t *nlines);
/* Remove the objects that RUNDIR/ipcd.state names and that still exist
 * with creator uid `creator`; *nremoved counts them.  A missing file is
 * not an error.  The file itself is left alone. */
int ipcstate_cleanup(const char *rundir, uid_t creator, unsigned *nremoved);
/* A registered name as the state file records it. */
#define IPCSTATE_NAME_MAX 64 /* with the NUL, == WIRE_NAME_MAX */
struct ipcstate_name {
        uid_t uid;
        char name[IPCSTATE_NAME_MAX];
};
/* Record that a client of uid registered name (removed: it went);
 * 0 or -errno, like ipcstate_record.  An empty name records nothing. */
int ipcstate_record_name(int fd, uid_t uid, const char *name, bool removed);
/* The names RUNDIR/ipcd.state says were held (last line wins) into a
 * malloc'ed array *ret of *n; a missing file gives none.  0 or -errno. */
int ipcstate_names(const char *rundir, struct ipcstate_name **ret, size_t *n);
/* After a crash clean-up: rewrite RUNDIR/ipcd.state with its names only
 * (the objects are gone), by atomic rename.  0 or -errno. */
int ipcstate_forget_objects(const char *rundir);

/* Remove one object by kind and id (IPC_RMID); 0 or -errno. */
int ipcstate_remove_object(enum ipcstate_kind kind, int id);

/* Tests only: called during a rewrite, after ipcd.state.new is written
 * and before it is renamed over ipcd.state (to simulate a crash there). */
extern void (*ipcstate_before_rename)(void);
