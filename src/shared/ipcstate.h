/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipcstate.h - the record of every System V object an ipcd instance
 * created, kept in RUNDIR/ipcd.state, so that objects left by a crashed
 * instance can be removed by the next one or by `ipcdctl cleanup`.
 *
 * Format: one line per event, "+msg ID", "+sem ID", "+shm ID" when an
 * object is created and "-msg ID" etc. when ipcd removed it itself.  An
 * object is removed at clean-up only if /proc/sysvipc still lists it with
 * key IPC_PRIVATE and the expected creator uid.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

enum ipcstate_kind { IPCSTATE_MSG = 'm', IPCSTATE_SEM = 's', IPCSTATE_SHM = 'h' };

/* Open (create, truncate) RUNDIR/ipcd.state for appending; fd or -errno. */
int ipcstate_open(const char *rundir);
/* Append one event; 0 or -errno.  Thread-safe (one write(2) per line). */
int ipcstate_record(int fd, enum ipcstate_kind kind, int id, bool removed);
/* Remove the objects that RUNDIR/ipcd.state names and that still exist
 * with creator uid `creator`; *nremoved counts them.  A missing file is
 * not an error.  The file itself is left alone. */
int ipcstate_cleanup(const char *rundir, uid_t creator, unsigned *nremoved);
/* Remove one object by kind and id (IPC_RMID); 0 or -errno. */
int ipcstate_remove_object(enum ipcstate_kind kind, int id);
