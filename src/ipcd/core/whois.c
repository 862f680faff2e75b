/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* whois.c - a client's unit by its id (see whois.h). */
#include <string.h>

#include "ipcd/core/answers.h"
#include "ipcd/core/errors.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/router.h"
#include "ipcd/core/whois.h"

_Static_assert(POLICY_UNIT_MAX <= ANSWER_DATA_MAX, "a unit fits an answer");

void whois_client_gone(struct router *r, const struct client *c)
{
        struct whois_gone *g = &r->gone[r->gone_next];

        g->id = c->id;
        memcpy(g->unit, c->unit, sizeof(g->unit));
        g->unit[sizeof(g->unit) - 1] = '\0';
        r->gone_next = (r->gone_next + 1) % WIRE_WHOIS_GONE;
}

int op_whois(struct op_call *x)
{
        struct router *r = x->p->r;
        const struct client *c;
        const char *unit = NULL;

        if (x->h->len || x->h->dst_len || !x->h->arg)
                return ROUTER_E_INVALID;
        c = router_client_by_id(r, x->h->arg);
        if (c && !c->removed)
                unit = c->unit;
        else
                for (unsigned i = 0; i < WIRE_WHOIS_GONE && !unit; i++)
                        if (r->gone[i].id == x->h->arg)
                                unit = r->gone[i].unit;
        if (!unit)
                return ROUTER_E_NOT_FOUND;
        send_answer_data(r, x->s, WIRE_OUT_ACK, x->h->cookie, 0, unit,
                         (uint32_t)strnlen(unit, POLICY_UNIT_MAX - 1) + 1);
        x->answered = true;
        return 0;
}
