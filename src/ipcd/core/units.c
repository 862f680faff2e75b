/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* units.c - limits per systemd unit (see units.h). */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/ring.h"
#include "ipcd/core/router.h"
#include "ipcd/core/units.h"

void unit_limits_free(struct unit_limits *ul)
{
        for (size_t i = 0; i < ul->n; i++)
                free(ul->v[i].unit);
        free(ul->v);
        ul->v = NULL;
        ul->n = 0;
}

int unit_limits_copy(struct unit_limits *dst, const struct unit_limits *src)
{
        *dst = (struct unit_limits){ 0 };
        if (!src->n)
                return 0;
        dst->v = calloc(src->n, sizeof(*dst->v));
        if (!dst->v)
                return -ENOMEM;
        for (size_t i = 0; i < src->n; i++) {
                dst->v[i] = src->v[i];
                dst->v[i].unit = strdup(src->v[i].unit);
                dst->n = i + 1;
                if (!dst->v[i].unit) {
                        unit_limits_free(dst);
                        return -ENOMEM;
                }
        }
        return 0;
}

bool unit_limits_equal(const struct unit_limits *a, const struct unit_limits *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                const struct unit_limit *x = &a->v[i], *y = &b->v[i];

                if (strcmp(x->unit, y->unit) != 0 || x->clients != y->clients ||
                    x->backlog_bytes != y->backlog_bytes || x->lanes != y->lanes ||
                    x->line != y->line)
                        return false;
        }
        return true;
}

/* The first entry matching unit, or none (all zero). */
static struct unit_limit limit_of(const struct router *r, const char *unit)
{
        for (size_t i = 0; i < r->unit_limits.n; i++)
                if (fnmatch(r->unit_limits.v[i].unit, unit, 0) == 0) {
                        struct unit_limit l = r->unit_limits.v[i];

                        l.unit = NULL;
                        return l;
                }
        return (struct unit_limit){ 0 };
}

static struct unit_books *books_find(struct router *r, const char *unit)
{
        for (struct unit_books *b = r->units; b; b = b->next)
                if (strcmp(b->unit, unit) == 0)
                        return b;
        return NULL;
}

bool unit_clients_full(struct router *r, const char *unit)
{
        struct unit_books *b;
        struct unit_limit l;

        if (!unit || !unit[0] || !r->unit_limits.n)
                return false;
        b = books_find(r, unit);
        l = b ? b->lim : limit_of(r, unit);
        return l.clients && (b ? b->nclients : 0) + 1 > l.clients;
}

int unit_books_join(struct router *r, struct client *c)
{
        struct unit_books *b;
        size_t n;

        c->ub = NULL;
        if (!c->unit[0])
                return 0;
        b = books_find(r, c->unit);
        if (!b) {
                n = strlen(c->unit);
                b = calloc(1, sizeof(*b) + n + 1);
                if (!b)
                        return -ENOMEM;
                memcpy(b->unit, c->unit, n + 1);
                b->lim = limit_of(r, c->unit);
                b->next = r->units;
                r->units = b;
        }
        b->nclients++;
        c->ub = b;
        return 0;
}

void unit_books_leave(struct router *r, struct client *c)
{
        struct unit_books *b = c->ub;

        if (!b)
                return;
        c->ub = NULL;
        if (--b->nclients)
                return;
        for (struct unit_books **pp = &r->units; *pp; pp = &(*pp)->next)
                if (*pp == b) {
                        *pp = b->next;
                        free(b);
                        return;
                }
}

int unit_books_rejoin(struct router *r, struct client *c)
{
        int e;

        if (c->ub) {
                c->ub->bl_bytes -= c->bl_bytes;
                c->ub->bl_flow_bytes -= c->bl_flow_bytes;
        }
        unit_books_leave(r, c);
        e = unit_books_join(r, c);
        if (e < 0 || !c->ub)
                return e;
        c->ub->bl_bytes += c->bl_bytes;
        c->ub->bl_flow_bytes += c->bl_flow_bytes;
        return 0;
}

void unit_backlog_account(struct client *c, int64_t delta, bool flow)
{
        if (!c->ub)
                return;
        c->ub->bl_bytes += (uint64_t)delta;
        if (flow)
                c->ub->bl_flow_bytes += (uint64_t)delta;
}

bool unit_backlog_full(const struct client *c, size_t size)
{
        const struct unit_books *b = c->ub;

        return b && b->lim.backlog_bytes &&
               b->bl_bytes - b->bl_flow_bytes + size > b->lim.backlog_bytes;
}

bool unit_lanes_full(const struct ring *rg, const struct client *s)
{
        unsigned n = 0;

        if (!s->ub || !s->ub->lim.lanes)
                return false;
        for (uint32_t i = 0; i < rg->nlanes; i++)
                if (rg->lanes[i].busy && rg->lanes[i].owner && rg->lanes[i].owner->ub == s->ub)
                        n++;
        return n >= s->ub->lim.lanes;
}

void router_set_unit_limits(struct router *r, struct unit_limits *ul)
{
        unit_limits_free(&r->unit_limits);
        r->unit_limits = *ul;
        *ul = (struct unit_limits){ 0 };
        for (struct unit_books *b = r->units; b; b = b->next)
                b->lim = limit_of(r, b->unit);
}
