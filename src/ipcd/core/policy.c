/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy.c - who may do what (see policy.h). */
#include <unistd.h>

#include "ipcd/core/errors.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/router.h"
#include "shared/names.h"

int policy_check_name(uid_t uid, const char *name)
{
        (void)uid;
        (void)name;
        return 0;
}

int policy_check_send(const struct client *c, const struct client *dst)
{
        (void)c;
        (void)dst;
        return 0;
}

int policy_check_publish(const struct client *c, const char *topic)
{
        (void)c;
        (void)topic;
        return 0;
}

int policy_check_subscribe(const struct client *c, const char *pattern)
{
        /* Everything, or everything under a first-level name: it sees
         * what every other user publishes. */
        if (topic_pattern_is_broad(pattern) && !c->privileged)
                return ROUTER_E_DENIED;
        return 0;
}

int policy_check_monitor(const struct client *c)
{
        return c->privileged ? 0 : ROUTER_E_DENIED;
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
