/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-policy.c - who may register, who is privileged, which rings a
 * client may map, and the checks of routed operations, without a daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ipcd/core/errors.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/router.h"

/* Later checks build on earlier ones: the first failure ends the test. */
#define TEST_CHECK_EXITS
#include "shared/test-util.h"

int main(void)
{
        static const gid_t groups[] = { 300, 301 };
        struct policy_creds user = { .uid = 1000, .gid = 100, .groups = groups, .ngroups = 2 };
        struct policy_creds root = { .uid = 0, .gid = 0 };
        struct policy_creds self = { .uid = geteuid(), .gid = 12345 };
        struct ring r0 = { .gid = 301 }, r1 = { .gid = 555 }, r2 = { .gid = 100 };
        struct ring *rings[] = { &r0, &r1, &r2 };
        struct client plain = { .privileged = false }, admin = { .privileged = true };

        /* Membership: the real gid or a supplementary group. */
        CHECK(policy_creds_in_group(&user, 100) && policy_creds_in_group(&user, 301));
        CHECK(!policy_creds_in_group(&user, 302));

        /* clients_group: unset lets anyone in; set, members and root only. */
        CHECK(policy_check_register(&user, false, 999) == 0);
        CHECK(policy_check_register(&user, true, 300) == 0);
        CHECK(policy_check_register(&user, true, 999) == ROUTER_E_DENIED);
        CHECK(router_errno(ROUTER_E_DENIED) == -EACCES);
        CHECK(policy_check_register(&root, true, 999) == 0);

        /* Privileged: root and members of ipcd's group. */
        CHECK(policy_is_privileged(&root, 999));
        CHECK(policy_is_privileged(&user, 300));
        CHECK(!policy_is_privileged(&user, 999));

        /* Rings: by the ring's group; root and ipcd's own uid map all. */
        CHECK(policy_ring_access(&user, rings, 3) == (1u << 0 | 1u << 2));
        CHECK(policy_ring_access(&root, rings, 3) == 7);
        CHECK(policy_ring_access(&self, rings, 3) == 7);
        CHECK(policy_ring_access(&user, rings, 0) == 0);

        /* Broad subscriptions and monitoring are privileged. */
        CHECK(policy_check_subscribe(&plain, "sensors/temp") == 0);
        CHECK(policy_check_subscribe(&plain, "*") == ROUTER_E_DENIED);
        CHECK(policy_check_subscribe(&admin, "*") == 0);
        CHECK(policy_check_monitor(&plain) == ROUTER_E_DENIED);
        CHECK(policy_check_monitor(&admin) == 0);
        printf("test-policy: ok\n");
        return 0;
}
