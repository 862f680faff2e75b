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
