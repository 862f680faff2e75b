/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * units.h - limits per systemd unit (ipcd.conf "unit_limits"), beside
 * the per-uid ones, so that two services of one uid cannot starve each
 * other: how many clients one unit may have registered, how many backlog
 * bytes ipcd may hold for the clients of one unit, how many lanes of a
 * ring one unit's clients may produce into.  Each entry names a unit or
 * an fnmatch(3) glob; a client's unit takes the first entry that matches
 * it, and the limits count per unit (two units matched by one glob each
 * have the whole limit).  A client in no unit has no unit limits.  0: no
 * limit of that kind.  Lock held for everything but the list functions.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct ring;
struct router;

struct unit_limit {
        char *unit;             /* a unit name or glob */
        uint32_t clients;       /* clients of one unit; 0: no limit */
        uint64_t backlog_bytes; /* backlog held for one unit's clients; 0: none */
        uint32_t lanes;         /* lanes of one ring one unit may hold; 0: none */
        unsigned line;          /* in the configuration */
};

struct unit_limits {
        struct unit_limit *v;
        size_t n;
};

void unit_limits_free(struct unit_limits *ul);
int unit_limits_copy(struct unit_limits *dst, const struct unit_limits *src);
bool unit_limits_equal(const struct unit_limits *a, const struct unit_limits *b);

/* The clients of one unit, and what they hold (router->units). */
struct unit_books {
        struct unit_books *next;
        unsigned nclients;
        uint64_t bl_bytes, bl_flow_bytes; /* backlog held for them (flow-controlled apart) */
        struct unit_limit lim;            /* in force (lim.unit unused) */
        char unit[];
};

/* Would one more client of unit pass its clients limit?  (Counted in
 * limit_hits by the caller.) */
bool unit_clients_full(struct router *r, const char *unit);
/* c registers / leaves: c->ub set (NULL for no unit); 0 or -ENOMEM. */
int unit_books_join(struct router *r, struct client *c);
void unit_books_leave(struct router *r, struct client *c);
/* c's unit was set after it joined (a re-exec's take-over): into the
 * books of c->unit, with its backlog; 0 or -ENOMEM (then in no unit). */
int unit_books_rejoin(struct router *r, struct client *c);
/* Backlog accounting of c (delivery.c), and its check. */
void unit_backlog_account(struct client *c, int64_t delta, bool flow);
bool unit_backlog_full(const struct client *c, size_t size);
/* May s take one more lane of rg? */
bool unit_lanes_full(const struct ring *rg, const struct client *s);
/* Swap the limits in (taking ul's), applied to every unit from now on
 * (clients over a new limit stay: the limit holds for what comes). */
void router_set_unit_limits(struct router *r, struct unit_limits *ul);
