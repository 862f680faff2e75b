/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clients.c - the client tables (by id, by name: chained hash tables with
 * power-of-two buckets, grown at load factor 1), the per-uid inbound
 * queue list, the per-uid books (what the per-uid limits count), and the
 * per-uid request buckets (registrations, STATUS).
 * Lookups only: registration is router.c, removal removal.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipcd/core/clients.h"
#include "ipcd/core/router.h"
#include "shared/clock.h"
#include "shared/macro.h"

static uint64_t hash_u64(uint64_t x)
{
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return x;
}

static uint64_t hash_str(const char *s, size_t n)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        for (size_t i = 0; i < n; i++) {
                h ^= (uint8_t)s[i];
                h *= 1099511628211ULL;
        }
        return h;
}

void clients_insert(struct router *r, struct client *c)
{
        size_t b = hash_u64(c->id) & (r->nbuckets - 1);

        c->id_next = r->id_buckets[b];
        r->id_buckets[b] = c;
        if (c->name[0]) {
                b = hash_str(c->name, strlen(c->name)) & (r->nbuckets - 1);
                c->name_next = r->name_buckets[b];
                r->name_buckets[b] = c;
        }
}

int clients_grow(struct router *r)
{
        size_t n = r->nbuckets * 2;
        struct client **ib = calloc(n, sizeof(*ib)), **nb = calloc(n, sizeof(*nb));

        if (!ib || !nb) {
                free(ib);
                free(nb);
                return -ENOMEM;
        }
        free(r->id_buckets);
        free(r->name_buckets);
        r->id_buckets = ib;
        r->name_buckets = nb;
        r->nbuckets = n;
        for (struct client *c = r->clients; c; c = c->next)
                clients_insert(r, c);
        return 0;
}

void clients_remove(struct router *r, struct client *c)
{
        struct client **pp;
        size_t b = hash_u64(c->id) & (r->nbuckets - 1);

        for (pp = &r->id_buckets[b]; *pp; pp = &(*pp)->id_next)
                if (*pp == c) {
                        *pp = c->id_next;
                        break;
                }
        if (c->name[0]) {
                r->names_gen++; /* a pass's cached look-up may name it */
                b = hash_str(c->name, strlen(c->name)) & (r->nbuckets - 1);
                for (pp = &r->name_buckets[b]; *pp; pp = &(*pp)->name_next)
                        if (*pp == c) {
                                *pp = c->name_next;
                                break;
                        }
        }
}

struct client *router_client_by_id(struct router *r, uint64_t id)
{
        for (struct client *c = r->id_buckets[hash_u64(id) & (r->nbuckets - 1)]; c; c = c->id_next)
                if (c->id == id)
                        return c;
        return NULL;
}

struct client *router_client_by_name(struct router *r, const char *name, size_t len)
{
        size_t b = hash_str(name, len) & (r->nbuckets - 1);

        for (struct client *c = r->name_buckets[b]; c; c = c->name_next)
                if (strncmp(c->name, name, len) == 0 && c->name[len] == '\0')
                        return c;
        return NULL;
}


bool router_rate_take(struct router *r, uid_t uid)
{
        uint64_t now = clock_now_ms();
        struct rate_bucket *b = NULL, *victim = NULL;

        if (r->lim.registration_rate == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(r->rate); i++) {
                struct rate_bucket *x = &r->rate[i];

                if (x->used && x->uid == uid) {
                        b = x;
                        break;
                }
                /* Reuse a free bucket or the least recently used one. */
                if (!victim || !x->used || (victim->used && x->last_ms < victim->last_ms))
                        victim = x;
        }
        if (!b) {
                b = victim;
                b->used = true;
                b->uid = uid;
                b->tokens = r->lim.registration_burst;
                b->last_ms = now;
        }
        b->tokens += (double)(now - b->last_ms) * r->lim.registration_rate / 1000.0;
        if (b->tokens > r->lim.registration_burst)
                b->tokens = r->lim.registration_burst;
        b->last_ms = now;
        if (b->tokens < 1.0)
                return false;
        b->tokens -= 1.0;
        return true;
}

struct uidq *uidq_find(struct router *r, uid_t uid)
{
        for (struct uidq *u = r->uidqs; u; u = u->next)
                if (u->uid == uid && !u->removed)
                        return u;
        return NULL;
}

void uidq_unlink(struct router *r, struct uidq *u)
{
        for (struct uidq **pp = &r->uidqs; *pp; pp = &(*pp)->next)
                if (*pp == u) {
                        *pp = u->next;
                        return;
                }
}

static struct uid_books *uid_books_find(struct router *r, uid_t uid)
{
        for (struct uid_books *b = r->uids; b; b = b->next)
                if (b->uid == uid)
                        return b;
        return NULL;
}

unsigned uid_clients(struct router *r, uid_t uid)
{
        struct uid_books *b = uid_books_find(r, uid);

        return b ? b->nclients : 0;
}

int uid_books_join(struct router *r, uid_t uid)
{
        struct uid_books *b = uid_books_find(r, uid);

        if (!b) {
                b = calloc(1, sizeof(*b));
                if (!b)
                        return -ENOMEM;
                b->uid = uid;
                b->next = r->uids;
                r->uids = b;
        }
        b->nclients++;
        return 0;
}

void uid_books_leave(struct router *r, uid_t uid)
{
        for (struct uid_books **pp = &r->uids; *pp; pp = &(*pp)->next) {
                struct uid_books *b = *pp;

                if (b->uid != uid)
                        continue;
                if (--b->nclients == 0) {
                        *pp = b->next;
                        free(b);
                }
                return;
        }
}

