/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unit.c - libipcd-client: ipcd_msg_sender_unit(), the systemd unit of a
 * message's sender, as ipcd read it from the sender's cgroup when it
 * registered (so trusted like sender_uid; the sender never writes it).
 *
 * No delivered record carries it: the first time the handle is asked for
 * the unit of a sender id, it asks ipcd (WIRE_OP_WHOIS, one round trip;
 * ipcd answers from its clients, or from the units of the last
 * WIRE_WHOIS_GONE clients that left), and keeps the answer in a table by
 * (ipcd instance, sender id); later messages of that sender cost a
 * lookup.  So the message path pays nothing, and a receiver that never
 * asks pays nothing at all.  The strings are kept (interned, at most
 * UNIT_NAMES_MAX distinct ones) until ipcd_close().
 *
 * A message filled by msg_fill() keeps its handle in reserved_[7]; its
 * buffer (reserved_[0]) the instance of the ipcd it came from, so that a
 * message from before a reconnection to another ipcd is never looked up
 * in the new one (ids start again there).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "shared/clock.h"
#include "shared/macro.h"

#define UNIT_SLOTS 1024      /* table entries (direct-mapped by id) */
#define UNIT_NAMES_MAX 1024  /* distinct unit strings kept */

struct unit_name {
        struct unit_name *next;
        char s[];
};

struct unit_slot {
        uint64_t instance, id; /* id 0: empty */
        const char *unit;
};

struct unit_cache {
        /* An ipcd older than WIRE_OP_WHOIS answered it -EOPNOTSUPP: not
         * asked again in that instance (each ask counts as invalid there). */
        uint64_t unsupported_instance;
        struct unit_slot slots[UNIT_SLOTS];
        struct unit_name *names;
        unsigned nnames;
};

void unit_free(ipcd_client *c)
{
        struct unit_cache *u = c->units;

        if (!u)
                return;
        while (u->names) {
                struct unit_name *n = u->names;

                u->names = n->next;
                free(n);
        }
        free(u);
        c->units = NULL;
}

static struct unit_slot *slot_of(struct unit_cache *u, uint64_t id)
{
        return &u->slots[(id * UINT64_C(0x9e3779b97f4a7c15)) >> 54 & (UNIT_SLOTS - 1)];
}

/* The kept copy of s (lock held): NULL with errno ENOMEM or ENOSPC. */
static const char *intern_locked(struct unit_cache *u, const char *s)
{
        size_t n = strlen(s);
        struct unit_name *e;

        for (e = u->names; e; e = e->next)
                if (strcmp(e->s, s) == 0)
                        return e->s;
        if (u->nnames >= UNIT_NAMES_MAX) {
                errno = ENOSPC;
                return NULL;
        }
        e = malloc(sizeof(*e) + n + 1);
        if (!e) {
                errno = ENOMEM;
                return NULL;
        }
        memcpy(e->s, s, n + 1);
        e->next = u->names;
        u->names = e;
        u->nnames++;
        return e->s;
}

IPCD_EXPORT const char *ipcd_msg_sender_unit(const ipcd_msg *msg)
{
        char answer[WIRE_UNIT_MAX];
        struct waiter w = { .kind = WAITER_REPLY, .answer = answer,
                            .answer_size = sizeof(answer) };
        struct lib_req q = {
                .op = WIRE_OP_WHOIS,
                /* Answered anyway; the flag makes an older ipcd, which does
                 * not know the operation, say so at once. */
                .wflags = WIRE_IN_ACK,
                .qfull = QFULL_RETRY,
                .deadline = clock_deadline_us(ACK_TIMEOUT_USEC),
        };
        const struct rxbuf *b;
        const char *unit = NULL;
        struct unit_slot *sl;
        ipcd_client *c;
        uint64_t instance;
        int r;

        if (!msg || !msg->reserved_[7] || !msg_is_ours(msg)) {
                errno = EINVAL;
                return NULL;
        }
        if (!msg->sender_id || (msg->flags & IPCD_MSG_NOTICE)) {
                errno = ENOENT; /* from ipcd itself */
                return NULL;
        }
        c = (ipcd_client *)(uintptr_t)msg->reserved_[7];
        b = (const struct rxbuf *)(uintptr_t)msg->reserved_[0];
        instance = b->instance;
        if (client_forked(c)) {
                errno = ECHILD;
                return NULL;
        }
        pthread_mutex_lock(&c->lock);
        if (!c->units)
                c->units = calloc(1, sizeof(*c->units));
        if (!c->units) {
                pthread_mutex_unlock(&c->lock);
                errno = ENOMEM;
                return NULL;
        }
        sl = slot_of(c->units, msg->sender_id);
        if (sl->id == msg->sender_id && sl->instance == instance)
                unit = sl->unit;
        r = !unit && (!c->connected || c->s.instance != instance) ? -ESTALE : 0;
        if (!unit && r == 0 && c->units->unsupported_instance == instance)
                r = -EOPNOTSUPP;
        pthread_mutex_unlock(&c->lock);
        if (unit)
                return unit;
        if (r < 0) {
                errno = -r; /* ESTALE: from an ipcd we are no longer connected to */
                return NULL;
        }

        q.arg = msg->sender_id;
        r = lib_request(c, &q, &w);
        if (r == -EOPNOTSUPP) {
                pthread_mutex_lock(&c->lock);
                c->units->unsupported_instance = instance;
                pthread_mutex_unlock(&c->lock);
        }
        if (r < 0) {
                errno = -r; /* ENOENT: ipcd does not know it (any more) */
                return NULL;
        }
        if (w.answer_len == 0 || w.answer_len > sizeof(answer) ||
            !memchr(answer, '\0', w.answer_len)) {
                errno = EBADMSG;
                return NULL;
        }
        pthread_mutex_lock(&c->lock);
        if (c->s.instance != instance) {
                pthread_mutex_unlock(&c->lock);
                errno = ESTALE; /* reconnected meanwhile: the answer is of another ipcd */
                return NULL;
        }
        unit = intern_locked(c->units, answer);
        if (unit) {
                sl = slot_of(c->units, msg->sender_id);
                *sl = (struct unit_slot){ instance, msg->sender_id, unit };
        }
        pthread_mutex_unlock(&c->lock);
        return unit;
}
