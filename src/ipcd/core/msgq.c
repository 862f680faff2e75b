/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>

#include "ipcd/core/msgq.h"
#include "shared/ipcstate.h"
#include "shared/log.h"

size_t msgq_sysctl(const char *name, size_t def)
{
        char path[128];
        unsigned long long v;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
        f = fopen(path, "re");
        if (!f)
                return def;
        if (fscanf(f, "%llu", &v) != 1)
                v = def;
        fclose(f);
        return (size_t)v;
}

void msgq_ctx_init(struct msgq_ctx *ctx, int state_fd, gid_t gid)
{
        memset(ctx, 0, sizeof(*ctx));
        ctx->state_fd = state_fd;
        ctx->gid = gid;
        ctx->msgmax = msgq_sysctl("msgmax", 8192);
        ctx->msgmnb = msgq_sysctl("msgmnb", 16384);
}

int msgq_create(struct msgq_ctx *ctx, uid_t uid, size_t qbytes, size_t *ret_qbytes)
{
        struct msqid_ds ds;
        int qid, r;

        qid = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
        if (qid < 0)
                return -errno;
        ipcstate_record(ctx->state_fd, IPCSTATE_MSG, qid, false);

        if (msgctl(qid, IPC_STAT, &ds) < 0) {
                r = -errno;
                goto fail;
        }
        ds.msg_perm.uid = uid;
        ds.msg_perm.gid = ctx->gid;
        ds.msg_perm.mode = 0600;
        if (qbytes && ds.msg_qbytes != qbytes && !(ctx->qbytes_denied && qbytes > ds.msg_qbytes)) {
                msglen_t old = ds.msg_qbytes;

                ds.msg_qbytes = (msglen_t)qbytes;
                if (msgctl(qid, IPC_SET, &ds) == 0)
                        goto done;
                if (errno != EPERM) {
                        r = -errno;
                        goto fail;
                }
                /* Raising msg_qbytes above kernel.msgmnb needs CAP_SYS_RESOURCE. */
                if (!ctx->qbytes_warned)
                        log_warning("cannot raise queue size to %zu bytes without "
                                    "CAP_SYS_RESOURCE; using the kernel's %lu bytes "
                                    "(kernel.msgmnb)",
                                    qbytes, (unsigned long)old);
                ctx->qbytes_warned = true;
                ctx->qbytes_denied = true;
                ds.msg_qbytes = old;
        }
        if (msgctl(qid, IPC_SET, &ds) < 0) {
                r = -errno;
                goto fail;
        }
done:
        if (ret_qbytes)
                *ret_qbytes = ds.msg_qbytes;
        return qid;
fail:
        msgq_remove(ctx, qid);
        return r;
}

int msgq_remove(struct msgq_ctx *ctx, int qid)
{
        if (qid < 0)
                return -1;
        if (msgctl(qid, IPC_RMID, NULL) == 0 || errno == EINVAL || errno == EIDRM)
                ipcstate_record(ctx->state_fd, IPCSTATE_MSG, qid, true);
        return -1;
}

int sem_create(struct msgq_ctx *ctx, uid_t uid)
{
        struct semid_ds ds;
        union semun {
                int val;
                struct semid_ds *buf;
        } arg = { .buf = &ds };
        int id, r;

        id = semget(IPC_PRIVATE, 1, IPC_CREAT | IPC_EXCL | 0600);
        if (id < 0)
                return -errno;
        ipcstate_record(ctx->state_fd, IPCSTATE_SEM, id, false);
        if (semctl(id, 0, IPC_STAT, arg) < 0) {
                r = -errno;
                goto fail;
        }
        ds.sem_perm.uid = uid;
        ds.sem_perm.gid = ctx->gid;
        ds.sem_perm.mode = 0600;
        if (semctl(id, 0, IPC_SET, arg) < 0) {
                r = -errno;
                goto fail;
        }
        return id;
fail:
        sem_remove(ctx, id);
        return r;
}

int sem_remove(struct msgq_ctx *ctx, int semid)
{
        if (semid < 0)
                return -1;
        if (semctl(semid, 0, IPC_RMID) == 0 || errno == EINVAL || errno == EIDRM)
                ipcstate_record(ctx->state_fd, IPCSTATE_SEM, semid, true);
        return -1;
}
