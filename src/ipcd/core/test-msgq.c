/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-msgq.c - the System V objects ipcd creates, without a daemon: each
 * is handed to its owner uid with ipcd's group and mode 0600, gets the
 * queue size asked for, is recorded in the state file when it is created
 * and when ipcd removes it, and is gone after its removal.  Runs in a
 * private IPC namespace (unshare(2)); skips (77) where that is impossible.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <unistd.h>

#include "ipcd/core/msgq.h"

/* Later checks build on earlier ones: the first failure ends the test. */
#define TEST_CHECK_EXITS
#include "shared/test-util.h"

#define OWNER ((uid_t)4242)
#define GROUP ((gid_t)4343)

/* Whether the state file holds the line (e.g. "+msg 3"). */
static bool state_has(int fd, const char *line)
{
        char buf[4096], want[64];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

        CHECK(n >= 0);
        buf[n] = '\0';
        snprintf(want, sizeof(want), "%s\n", line);
        return strstr(buf, want) != NULL;
}

static bool state_has_id(int fd, char sign, const char *kind, int id)
{
        char line[64];

        snprintf(line, sizeof(line), "%c%s %d", sign, kind, id);
        return state_has(fd, line);
}

/* Objects of a kind in this namespace (/proc/sysvipc/NAME, minus the header). */
static int objects(const char *name)
{
        char path[64], line[512];
        int n = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/sysvipc/%s", name);
        f = fopen(path, "re");
        CHECK(f);
        while (fgets(line, sizeof(line), f))
                n++;
        fclose(f);
        return n;
}

static void test_queue(struct msgq_ctx *mq, int state_fd)
{
        struct msqid_ds ds;
        size_t got = 0;
        int qid = msgq_create(mq, OWNER, 4096, &got);

        CHECK(qid >= 0);
        CHECK(got == 4096);
        CHECK(state_has_id(state_fd, '+', "msg", qid));
        CHECK(!state_has_id(state_fd, '-', "msg", qid));
        CHECK(msgctl(qid, IPC_STAT, &ds) == 0);
        CHECK(ds.msg_perm.uid == OWNER && ds.msg_perm.gid == GROUP);
        CHECK((ds.msg_perm.mode & 0777) == 0600);
        CHECK(ds.msg_qbytes == 4096);
        CHECK(objects("msg") == 1);

        CHECK(msgq_remove(mq, qid) == -1);
        CHECK(msgctl(qid, IPC_STAT, &ds) < 0 && (errno == EINVAL || errno == EIDRM));
        CHECK(state_has_id(state_fd, '-', "msg", qid));
        CHECK(objects("msg") == 0);
        /* Removing nothing, or again, is harmless. */
        CHECK(msgq_remove(mq, -1) == -1);
        CHECK(msgq_remove(mq, qid) == -1);

        /* qbytes 0: the kernel's default size, reported. */
        qid = msgq_create(mq, OWNER, 0, &got);
        CHECK(qid >= 0);
        CHECK(msgctl(qid, IPC_STAT, &ds) == 0 && got == ds.msg_qbytes && got > 0);
        qid = msgq_remove(mq, qid);
        CHECK(qid == -1);
}

static void test_sem(struct msgq_ctx *mq, int state_fd)
{
        struct semid_ds ds;
        union semun {
                int val;
                struct semid_ds *buf;
        } arg = { .buf = &ds };
        int id = sem_create(mq, OWNER);

        CHECK(id >= 0);
        CHECK(state_has_id(state_fd, '+', "sem", id));
        CHECK(semctl(id, 0, IPC_STAT, arg) == 0);
        CHECK(ds.sem_perm.uid == OWNER && ds.sem_perm.gid == GROUP);
        CHECK((ds.sem_perm.mode & 0777) == 0600);
        CHECK(ds.sem_nsems == 1 && semctl(id, 0, GETVAL) == 0);
        CHECK(sem_remove(mq, id) == -1);
        CHECK(semctl(id, 0, GETVAL) < 0);
        CHECK(state_has_id(state_fd, '-', "sem", id));
        CHECK(objects("sem") == 0);
}

int main(void)
{
        char path[] = "/tmp/test-msgq.XXXXXX";
        struct msgq_ctx mq;
        int state_fd;

        if (unshare(CLONE_NEWIPC) < 0) {
                fprintf(stderr, "no private IPC namespace (%s): skipped\n", strerror(errno));
                return 77;
        }
        state_fd = mkstemp(path);
        CHECK(state_fd >= 0);
        CHECK(unlink(path) == 0);
        CHECK(fcntl(state_fd, F_SETFL, O_APPEND) == 0);

        CHECK(msgq_sysctl("no-such-key", 42) == 42);
        CHECK(msgq_sysctl("msgmax", 0) > 0);
        msgq_ctx_init(&mq, state_fd, GROUP);
        CHECK(mq.msgmax == msgq_sysctl("msgmax", 0) && mq.msgmnb == msgq_sysctl("msgmnb", 0));
        CHECK(mq.state_fd == state_fd && mq.gid == GROUP);

        test_queue(&mq, state_fd);
        test_sem(&mq, state_fd);
        close(state_fd);
        return 0;
}
