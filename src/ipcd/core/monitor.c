/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * monitor.c - clients that receive copies of routed messages (privileged,
 * WIRE_OP_MONITOR): who watches which names or topics, and the copies.
 */
#include <string.h>

#include "ipcd/core/delivery.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/message.h"
#include "ipcd/core/monitor.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/policy.h"
#include "shared/macro.h"
#include "shared/names.h"

void monitor_copy(struct router_pass *p, struct client *s, const struct wire_in *h,
                  const char *dst, bool topic, const void *payload)
{
        struct router *r = p->r;
        char dname[WIRE_NAME_MAX];
        struct wire_out o = {
                .kind = WIRE_OUT_MONITOR,
                .flags = topic ? WIRE_OUT_TOPIC : 0,
                .topic_len = h->dst_len,
                .type = h->type,
                .cookie = h->len,
                .len = MIN(h->len, (uint32_t)WIRE_MONITOR_BYTES),
        };
        stamp_sender(&o, s);

        if (h->flags & WIRE_IN_BULK) {
                /* The payload lies in the ring: report its size only. */
                struct wire_bulk d;

                memcpy(&d, payload, sizeof(d));
                o.flags |= WIRE_OUT_BULK;
                o.cookie = d.len;
                o.len = 0;
        }

        message_dst_cstr(dname, dst, h->dst_len);
        for (struct client *m = r->clients; m; m = m->next) {
                if (!m->monitor || m == s)
                        continue;
                if (m->monitor_pattern[0] && !topic_pattern_match(m->monitor_pattern, dname))
                        continue;
                if (r->policy.n && !policy_may_watch(r, m, dname, topic))
                        continue;
                /* A monitor that does not keep up loses copies, counted on it. */
                if (!batch_append(p, m, h->type, &o, s->name, dname, payload))
                        count_drop_why(r, m, 1, WIRE_DROP_OVERFLOW);
        }
}

int op_monitor(struct op_call *x)
{
        char pattern[WIRE_NAME_MAX];
        struct client *s = x->s;
        int e;

        message_dst_cstr(pattern, x->dst, x->h->dst_len);
        e = policy_check_monitor(x->p->r, s, pattern);
        if (e != 0)
                return e;
        if (pattern[0] && !topic_pattern_is_valid(pattern))
                return ROUTER_E_INVALID;
        if (strcmp(pattern, "*") == 0)
                pattern[0] = '\0';
        memcpy(s->monitor_pattern, pattern, sizeof(pattern));
        if (!s->monitor) {
                s->monitor = true;
                x->p->r->nmonitors++;
        }
        return 0;
}
