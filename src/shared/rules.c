/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rules.c - the access rules and their evaluation (see rules.h). */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/names.h"
#include "shared/rules.h"
#include "shared/wire.h"

const char *const policy_action_names[_POLICY_ACTION_MAX] = {
        [POLICY_OWN] = "own",         [POLICY_SEND] = "send",       [POLICY_RECEIVE] = "receive",
        [POLICY_PUBLISH] = "publish", [POLICY_SUBSCRIBE] = "subscribe", [POLICY_CALL] = "call",
        [POLICY_MONITOR] = "monitor", [POLICY_BULK] = "bulk",
};

int policy_action_from_name(const char *word)
{
        for (int i = 0; i < _POLICY_ACTION_MAX; i++)
                if (strcmp(word, policy_action_names[i]) == 0)
                        return i;
        return -1;
}

void policy_rules_free(struct policy_rules *pr)
{
        for (size_t i = 0; i < pr->n; i++) {
                free(pr->rules[i].unit);
                free(pr->rules[i].peer_unit);
                free(pr->rules[i].object);
        }
        free(pr->rules);
        pr->rules = NULL;
        pr->n = 0;
}

static int dup_or_null(char **dst, const char *src)
{
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

int policy_rules_copy(struct policy_rules *dst, const struct policy_rules *src)
{
        *dst = (struct policy_rules){ 0 };
        if (!src->n)
                return 0;
        dst->rules = calloc(src->n, sizeof(*dst->rules));
        if (!dst->rules)
                return -ENOMEM;
        for (size_t i = 0; i < src->n; i++) {
                const struct policy_rule *a = &src->rules[i];
                struct policy_rule *b = &dst->rules[i];

                *b = *a;
                dst->n = i + 1;
                if (dup_or_null(&b->unit, a->unit) < 0 ||
                    dup_or_null(&b->peer_unit, a->peer_unit) < 0 ||
                    dup_or_null(&b->object, a->object) < 0) {
                        policy_rules_free(dst);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* Is "x/" "*" (or "*"): the prefix x, or "" for "*". */
static bool pattern_prefix(const char *p, size_t *len)
{
        size_t n = strlen(p);

        if (n == 1 && p[0] == '*') {
                *len = 0;
                return true;
        }
        if (n >= 2 && p[n - 1] == '*' && p[n - 2] == '/') {
                *len = n - 2;
                return true;
        }
        return false;
}

/* Does every name that pattern p matches match the rule's pattern r?
 * (A name is a pattern of itself.)  So a rule decides a wildcard
 * subscription only when it covers all of it; one that covers a part
 * decides per topic, when a message is delivered (policy_may_hear). */
static bool pattern_covers(const char *r, const char *p)
{
        size_t lr, lp;
        bool wr = pattern_prefix(r, &lr), wp = pattern_prefix(p, &lp);

        if (wr && lr == 0)
                return true;
        if (!wp)
                return topic_pattern_match(r, p);
        if (!wr || lp == 0)
                return false;
        /* "x/" "*" within "y/" "*": x is y or lies under it. */
        return strncmp(r, p, lr) == 0 && (lp == lr || (lp > lr && p[lr] == '/'));
}

static bool in_groups(const struct policy_subject *s, gid_t g)
{
        if (s->gid == g)
                return true;
        for (size_t i = 0; i < s->ngroups; i++)
                if (s->groups[i] == g)
                        return true;
        return false;
}

static bool unit_matches(const char *glob, const char *unit)
{
        return unit && unit[0] && fnmatch(glob, unit, 0) == 0;
}

static bool rule_matches(const struct policy_rule *ru, const struct policy_subject *s,
                         const char *object, const struct policy_peer *peer)
{
        if (ru->has_uid && ru->uid != s->uid)
                return false;
        if (ru->has_gid && !in_groups(s, ru->gid))
                return false;
        if (ru->unit && !unit_matches(ru->unit, s->unit))
                return false;
        if (ru->object) {
                const char *o = peer ? peer->name : object;

                if (!o || !o[0] || !pattern_covers(ru->object, o))
                        return false;
        }
        if (peer && ru->has_peer_uid && ru->peer_uid != peer->uid)
                return false;
        if (peer && ru->peer_unit && !unit_matches(ru->peer_unit, peer->unit))
                return false;
        return true;
}

const struct policy_rule *policy_rules_decide(const struct policy_rules *pr, int action,
                                              const struct policy_subject *s,
                                              const char *object,
                                              const struct policy_peer *peer)
{
        for (size_t i = 0; i < pr->n; i++) {
                const struct policy_rule *ru = &pr->rules[i];

                if (ru->action == action && rule_matches(ru, s, object, peer))
                        return ru;
        }
        return NULL;
}


static void copy_field(char *dst, size_t size, const char *src)
{
        memset(dst, 0, size);
        if (src)
                snprintf(dst, size, "%s", src);
}

void policy_rule_to_wire(const struct policy_rule *ru, struct wire_policy_rule *w)
{
        memset(w, 0, sizeof(*w));
        w->line = ru->line;
        w->action = ru->action;
        w->flags = (uint16_t)((ru->allow ? WIRE_POLICY_ALLOW : 0) |
                              (ru->has_uid ? WIRE_POLICY_UID : 0) |
                              (ru->has_gid ? WIRE_POLICY_GID : 0) |
                              (ru->has_peer_uid ? WIRE_POLICY_PEER_UID : 0) |
                              (ru->topic ? WIRE_POLICY_TOPIC : 0));
        w->uid = ru->has_uid ? (uint32_t)ru->uid : 0;
        w->gid = ru->has_gid ? (uint32_t)ru->gid : 0;
        w->peer_uid = ru->has_peer_uid ? (uint32_t)ru->peer_uid : 0;
        w->hits = ru->hits;
        copy_field(w->object, sizeof(w->object), ru->object);
        copy_field(w->unit, sizeof(w->unit), ru->unit);
        copy_field(w->peer_unit, sizeof(w->peer_unit), ru->peer_unit);
}

/* A terminated, non-empty field into *dst, or NULL when empty. */
static int field_dup(char **dst, const char *f, size_t size)
{
        size_t n = strnlen(f, size);

        *dst = NULL;
        if (n == size)
                return -EBADMSG;
        if (!n)
                return 0;
        *dst = strndup(f, n);
        return *dst ? 0 : -ENOMEM;
}

int policy_rule_from_wire(struct policy_rule *ru, const struct wire_policy_rule *w)
{
        int r;

        memset(ru, 0, sizeof(*ru));
        if (w->action >= _POLICY_ACTION_MAX)
                return -EBADMSG;
        ru->line = w->line;
        ru->action = (uint8_t)w->action;
        ru->allow = w->flags & WIRE_POLICY_ALLOW;
        ru->has_uid = w->flags & WIRE_POLICY_UID;
        ru->has_gid = w->flags & WIRE_POLICY_GID;
        ru->has_peer_uid = w->flags & WIRE_POLICY_PEER_UID;
        ru->topic = w->flags & WIRE_POLICY_TOPIC;
        ru->uid = (uid_t)w->uid;
        ru->gid = (gid_t)w->gid;
        ru->peer_uid = (uid_t)w->peer_uid;
        ru->hits = w->hits;
        r = field_dup(&ru->object, w->object, sizeof(w->object));
        if (r == 0)
                r = field_dup(&ru->unit, w->unit, sizeof(w->unit));
        if (r == 0)
                r = field_dup(&ru->peer_unit, w->peer_unit, sizeof(w->peer_unit));
        if (r == 0 && ru->object && !topic_pattern_is_valid(ru->object))
                r = -EBADMSG;
        if (r < 0) {
                /* Free the strings only (ru is not an array we own). */
                free(ru->object);
                free(ru->unit);
                free(ru->peer_unit);
                memset(ru, 0, sizeof(*ru));
        }
        return r;
}
