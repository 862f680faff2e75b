/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy.c - who may do what (see policy.h). */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcd/core/errors.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/router.h"
#include "shared/log.h"
#include "shared/names.h"

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

void policy_subject_of(const struct client *c, struct policy_subject *s)
{
        *s = (struct policy_subject){ c->uid, c->gid, c->groups, c->ngroups, c->unit };
}

static struct log_ratelimit policy_rl = LOG_RATELIMIT_INIT(5000, 10);

/* Evaluate, count the deciding rule, log a denial: 0 or ROUTER_E_DENIED. */
static int decide(struct router *r, int action, const struct policy_subject *s,
                  const char *object, const struct policy_peer *peer)
{
        struct policy_rule *ru;

        if (!r->policy.n)
                return 0;
        ru = (struct policy_rule *)policy_rules_decide(&r->policy, action, s, object, peer);
        if (!ru)
                return 0;
        ru->hits++;
        if (ru->allow)
                return 0;
        r->cnt.policy_denied++;
        log_ratelimited(&policy_rl, LOG_NOTICE,
                        "policy: %s %s by uid %u%s%s denied by the rule at line %u",
                        policy_action_names[action], object && object[0] ? object : "-",
                        (unsigned)s->uid, s->unit[0] ? " unit " : "", s->unit, ru->line);
        return ROUTER_E_DENIED;
}

static int decide_client(struct router *r, int action, const struct client *c,
                         const char *object, const struct policy_peer *peer)
{
        struct policy_subject s;

        if (!r->policy.n)
                return 0;
        policy_subject_of(c, &s);
        return decide(r, action, &s, object, peer);
}

int policy_check_name(struct router *r, const struct policy_subject *s, const char *name)
{
        return decide(r, POLICY_OWN, s, name, NULL);
}

int policy_check_send(struct router *r, const struct client *c, const struct client *dst,
                      bool call)
{
        struct policy_peer peer = { c->name, c->uid, c->unit };
        int e = decide_client(r, call ? POLICY_CALL : POLICY_SEND, c, dst->name, NULL);

        if (e == 0)
                e = decide_client(r, POLICY_RECEIVE, dst, c->name, &peer);
        return e;
}

int policy_check_publish(struct router *r, const struct client *c, const char *topic)
{
        return decide_client(r, POLICY_PUBLISH, c, topic, NULL);
}

int policy_check_subscribe(struct router *r, const struct client *c, const char *pattern)
{
        /* Everything, or everything under a first-level name: it sees
         * what every other user publishes. */
        if (topic_pattern_is_broad(pattern) && !c->privileged)
                return ROUTER_E_DENIED;
        return decide_client(r, POLICY_SUBSCRIBE, c, pattern, NULL);
}

bool policy_may_hear(struct router *r, const struct client *c, const char *topic)
{
        return decide_client(r, POLICY_SUBSCRIBE, c, topic, NULL) == 0;
}

int policy_check_monitor(struct router *r, const struct client *c, const char *pattern)
{
        if (!c->privileged)
                return ROUTER_E_DENIED;
        return decide_client(r, POLICY_MONITOR, c, pattern[0] ? pattern : "*", NULL);
}

bool policy_may_watch(struct router *r, const struct client *m, const char *dst, bool topic)
{
        if (decide_client(r, POLICY_MONITOR, m, dst, NULL) != 0)
                return false;
        /* A topic it may not subscribe to stays hidden from its monitor too. */
        return !topic || decide_client(r, POLICY_SUBSCRIBE, m, dst, NULL) == 0;
}

int policy_check_bulk(struct router *r, const struct client *c, const char *ring)
{
        return decide_client(r, POLICY_BULK, c, ring, NULL);
}

int policy_check_remote(const struct client *c)
{
        return c->privileged ? 0 : ROUTER_E_DENIED;
}

bool policy_creds_in_group(const struct policy_creds *pc, gid_t g)
{
        if (pc->gid == g)
                return true;
        for (size_t i = 0; i < pc->ngroups; i++)
                if (pc->groups[i] == g)
                        return true;
        return false;
}

int policy_check_register(const struct policy_creds *pc, bool have_clients_group,
                          gid_t clients_gid)
{
        if (have_clients_group && pc->uid != 0 && !policy_creds_in_group(pc, clients_gid))
                return ROUTER_E_DENIED;
        return 0;
}

bool policy_is_privileged(const struct policy_creds *pc, gid_t daemon_gid)
{
        return pc->uid == 0 || policy_creds_in_group(pc, daemon_gid);
}

uint32_t policy_ring_access(const struct policy_creds *pc, struct ring *const *rings,
                            unsigned nrings)
{
        uint32_t access = 0;

        for (unsigned i = 0; i < nrings; i++)
                if (pc->uid == 0 || pc->uid == geteuid() || policy_creds_in_group(pc, rings[i]->gid))
                        access |= 1u << i;
        return access;
}
