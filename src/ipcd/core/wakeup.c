/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wakeup.c - telling a client that something is in its queue: its
 * semaphore Sc for timed waits, a doorbell byte on its FIFO for ipcd_fd()
 * users, and the zero-byte WIRE_TYPE_PULL marker that asks it to say when
 * its queue has room for its backlog.  Never blocks.
 */
#include <errno.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <unistd.h>

#include "ipcd/core/wakeup.h"

/* Something arrived in c's queue: raise Sc for timed waits, ring the
 * doorbell for ipcd_fd() users. */
void wakeup_waiters(struct client *c)
{
        struct sembuf op = { .sem_num = 0, .sem_op = 1, .sem_flg = IPC_NOWAIT };

        /* ERANGE (the count is at SEMVMX) only means wake-ups are pending. */
        if (c->timed)
                (void)semop(c->semid, &op, 1);
}

void wakeup_raise(struct client *c)
{
        wakeup_waiters(c);
        if (c->doorbell && c->fifo_fd >= 0) {
                char b = WIRE_DOORBELL;

                /* EAGAIN: the FIFO is full of doorbells, readable already. */
                if (write(c->fifo_fd, &b, 1) < 0 && errno != EAGAIN)
                        c->doorbell = false;
        }
}

void wakeup_pull_marker(struct client *c)
{
        long m = WIRE_TYPE_PULL;

        /* Zero bytes of mtext fit in a queue full by bytes. */
        if (!c->pull_marker && msgsnd(c->qid, &m, 0, IPC_NOWAIT) == 0) {
                c->pull_marker = true;
                wakeup_raise(c);
        }
}
