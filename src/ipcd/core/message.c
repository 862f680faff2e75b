/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * message.c - what every routed message (SEND, PUBLISH) goes through
 * before it is routed, and the sender's identity on what is delivered.
 */
#include <string.h>

#include "ipcd/core/bulk.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/message.h"
#include "ipcd/core/pass.h"
#include "shared/names.h"

int message_accept(struct op_call *x, struct wire_bulk *d, bool *bulk)
{
        const struct wire_in *h = x->h;
        const char *why = NULL;
        int e = ROUTER_E_INVALID;

        if (!wire_type_is_user(h->type))
                why = "message type out of range";
        else if (!name_is_valid_n(x->dst, h->dst_len))
                why = "invalid destination name or topic";
        else if (h->len > x->p->r->lim.max_payload) {
                why = "payload too large";
                e = ROUTER_E_TOO_BIG;
        } else if (*bulk) {
                e = bulk_accept(x->p->r, x->s, h, x->payload, d);
                if (e != 0)
                        why = "invalid bulk descriptor";
        }
        if (!why)
                return 0;
        pass_reject(x->p, x->s, why);
        *bulk = false;
        return e;
}

void stamp_sender(struct wire_out *o, const struct client *s)
{
        o->name_len = (uint8_t)strlen(s->name);
        o->sender_id = s->id;
        o->sender_uid = (uint32_t)s->uid;
        o->sender_pid = s->pid;
}

void message_dst_cstr(char out[WIRE_NAME_MAX], const char *dst, size_t len)
{
        memcpy(out, dst, len);
        out[len] = '\0';
}
