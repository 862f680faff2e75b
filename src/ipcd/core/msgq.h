/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * msgq.h - the System V objects ipcd creates: queues and semaphores.
 *
 * Every object is created with IPC_PRIVATE, recorded in the state file the
 * moment it exists (ipcstate.h), then handed to its owner uid with
 * IPC_SET (uid = the client's, gid = ipcd's group, mode 0600) so that the
 * kernel attests the sender of everything in an inbound queue and only
 * the client can read its own queue.  msgq_remove() and sem_remove()
 * return -1 so ids can be reset in one line: q = msgq_remove(st, q).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct msgq_ctx {
        int state_fd;          /* ipcstate file, -1: none */
        gid_t gid;             /* group of every object */
        size_t msgmax;         /* kernel.msgmax when ipcd started */
        size_t msgmnb;         /* kernel.msgmnb when ipcd started */
        bool qbytes_warned;    /* the one warning about CAP_SYS_RESOURCE */
        bool qbytes_denied;    /* raising failed once: don't try again */
};

void msgq_ctx_init(struct msgq_ctx *ctx, int state_fd, gid_t gid);

/* Create a queue owned by uid (mode 0600) with msg_qbytes = qbytes if the
 * kernel lets us (CAP_SYS_RESOURCE above kernel.msgmnb; otherwise one
 * warning and the kernel default).  Returns the msqid or -errno.
 * *ret_qbytes (optional) gets the size in effect. */
int msgq_create(struct msgq_ctx *ctx, uid_t uid, size_t qbytes, size_t *ret_qbytes);
int msgq_remove(struct msgq_ctx *ctx, int qid);

/* One semaphore, value 0, owned by uid, mode 0600.  semid or -errno. */
int sem_create(struct msgq_ctx *ctx, uid_t uid);
int sem_remove(struct msgq_ctx *ctx, int semid);

/* Read a kernel.* value from /proc/sys/kernel/NAME; def if unreadable. */
size_t msgq_sysctl(const char *name, size_t def);
