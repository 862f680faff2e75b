/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * answers.c - what ipcd itself writes on a client's reply type
 * (wire_reply_type(cookie)): the outcome of a request (WIRE_OUT_ACK) and
 * ipcd's verdict on a call (WIRE_OUT_REPLY).  Which operations are
 * answered is wire.h's wire_op_answered(); the status written is a public
 * one (0, a count, or a negative errno: router_errno()).
 */
#include <errno.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "ipcd/core/answers.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/wakeup.h"

/* An answer on the client's own reply type, with an optional small body. */
void send_answer_data(struct router *r, struct client *c, uint16_t kind, uint64_t cookie,
                             int status, const void *data, uint32_t len)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_out) + ANSWER_DATA_MAX];
        } m = { .mtype = wire_reply_type(cookie) };
        struct wire_out h = {
                .kind = kind,
                .cookie = cookie,
                .status = status,
                .len = len,
        };
        size_t off = 0;

        if (c->removed || len > ANSWER_DATA_MAX)
                return;
        wire_out_put(m.mtext, sizeof(m.mtext), &off, &h, NULL, NULL, data);
        if (kind == WIRE_OUT_ACK && status == 0 && len == 0) {
                /* When its queue is full of messages it has not read (it is
                 * busy sending), a zero-byte message still fits: it means 0. */
                if (msgsnd(c->qid, &m, off, IPC_NOWAIT) == 0 ||
                    (errno == EAGAIN && msgsnd(c->qid, &m, 0, IPC_NOWAIT) == 0)) {
                        wakeup_waiters(c);
                        return;
                }
        }
        (void)deliver(r, c, &(struct delivery){ .msg = &m.mtype, .size = off, .control = true,
                                                .answer = true });
}

static void send_answer(struct router *r, struct client *c, uint16_t kind, uint64_t cookie,
                        int status)
{
        send_answer_data(r, c, kind, cookie, status, NULL, 0);
}

/* The outcome of a request: 0 or -errno (or a count). */
void send_ack(struct router *r, struct client *c, uint64_t cookie, int status)
{
        send_answer(r, c, WIRE_OUT_ACK, cookie, status);
}

/* ipcd's verdict on a call: the callee is missing, full, or gone. */
void send_verdict(struct router *r, struct client *caller, uint64_t cookie, int status)
{
        send_answer(r, caller, WIRE_OUT_REPLY, cookie, status);
}
