/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-policy.c - who may register, who is privileged, which rings a
 * client may map, and the checks of routed operations, without a daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcd/core/errors.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/router.h"

/* Later checks build on earlier ones: the first failure ends the test. */
#define TEST_CHECK_EXITS
#include "shared/test-util.h"

static struct policy_rule R(int action, const char *object, bool allow)
{
        return (struct policy_rule){ .action = (uint8_t)action, .object = (char *)object,
                                     .allow = allow };
}

/* The rules: first match wins, subjects, objects, patterns. */
static void test_rules(void)
{
        static const gid_t video[] = { 44 };
        struct policy_rule rules[12];
        struct policy_rules pr = { rules, 0 };
        struct policy_subject camera = { .uid = 500, .gid = 500, .unit = "camera.service" };
        struct policy_subject viewer = { .uid = 1000, .gid = 100, .groups = video, .ngroups = 1,
                                         .unit = "" };
        struct policy_subject other = { .uid = 1001, .gid = 100, .unit = "x.service" };
        struct policy_subject root = { .uid = 0, .gid = 0, .unit = "" };
        struct policy_peer from_camera = { "camera/front", 500, "camera.service" };
        const struct policy_rule *d;

        /* The example. */
        rules[pr.n] = R(POLICY_OWN, "camera/*", true);
        rules[pr.n].has_uid = true, rules[pr.n++].uid = 500;
        rules[pr.n++] = R(POLICY_OWN, "camera/*", false);
        rules[pr.n] = R(POLICY_SUBSCRIBE, "camera/*", true);
        rules[pr.n].has_gid = true, rules[pr.n++].gid = 44;
        rules[pr.n++] = R(POLICY_SUBSCRIBE, "camera/*", false);
        rules[pr.n] = R(POLICY_SEND, "watchdog", true);
        rules[pr.n].has_uid = true, rules[pr.n++].uid = 0;
        rules[pr.n++] = R(POLICY_SEND, "watchdog", false);
        /* By unit glob; receive by the sender's unit. */
        rules[pr.n] = R(POLICY_PUBLISH, "alerts/*", false);
        rules[pr.n++].unit = (char *)"x.*";
        rules[pr.n] = R(POLICY_RECEIVE, NULL, false);
        rules[pr.n].has_uid = true, rules[pr.n].uid = 1001;
        rules[pr.n++].peer_unit = (char *)"camera.*";

        d = policy_rules_decide(&pr, POLICY_OWN, &camera, "camera/front", NULL);
        CHECK(d == &rules[0] && d->allow);
        d = policy_rules_decide(&pr, POLICY_OWN, &viewer, "camera/front", NULL);
        CHECK(d == &rules[1] && !d->allow);
        /* "camera/" then "*" is below camera, not camera itself. */
        CHECK(policy_rules_decide(&pr, POLICY_OWN, &viewer, "camera", NULL) == NULL);
        CHECK(policy_rules_decide(&pr, POLICY_OWN, &viewer, "dog", NULL) == NULL);

        /* Subscribe: a supplementary group counts; a pattern is decided by
         * a rule that covers it, a wider one is left to per-topic checks. */
        CHECK(policy_rules_decide(&pr, POLICY_SUBSCRIBE, &viewer, "camera/front", NULL) ==
              &rules[2]);
        CHECK(policy_rules_decide(&pr, POLICY_SUBSCRIBE, &other, "camera/front", NULL) ==
              &rules[3]);
        CHECK(policy_rules_decide(&pr, POLICY_SUBSCRIBE, &other, "camera/*", NULL) == &rules[3]);
        CHECK(policy_rules_decide(&pr, POLICY_SUBSCRIBE, &other, "camera/a/*", NULL) ==
              &rules[3]);
        CHECK(policy_rules_decide(&pr, POLICY_SUBSCRIBE, &other, "*", NULL) == NULL);
        CHECK(policy_rules_decide(&pr, POLICY_SUBSCRIBE, &other, "cameras/x", NULL) == NULL);

        /* Send: root only. */
        CHECK(policy_rules_decide(&pr, POLICY_SEND, &root, "watchdog", NULL)->allow);
        CHECK(!policy_rules_decide(&pr, POLICY_SEND, &camera, "watchdog", NULL)->allow);
        /* Another action is not decided by send rules. */
        CHECK(policy_rules_decide(&pr, POLICY_CALL, &camera, "watchdog", NULL) == NULL);

        /* Units: a glob; a client without a unit never matches one. */
        CHECK(policy_rules_decide(&pr, POLICY_PUBLISH, &other, "alerts/a", NULL) == &rules[6]);
        CHECK(policy_rules_decide(&pr, POLICY_PUBLISH, &viewer, "alerts/a", NULL) == NULL);
        CHECK(policy_rules_decide(&pr, POLICY_RECEIVE, &other, NULL, &from_camera) == &rules[7]);
        from_camera.unit = "";
        CHECK(policy_rules_decide(&pr, POLICY_RECEIVE, &other, NULL, &from_camera) == NULL);

        /* A rule without a subject or object matches everyone. */
        rules[0] = R(POLICY_OWN, NULL, false);
        CHECK(policy_rules_decide(&pr, POLICY_OWN, &root, "anything", NULL) == &rules[0]);

        /* Copies are deep. */
        struct policy_rules cp;
        CHECK(policy_rules_copy(&cp, &pr) == 0 && cp.n == pr.n);
        CHECK(cp.rules[6].unit != rules[6].unit && strcmp(cp.rules[6].unit, "x.*") == 0);
        policy_rules_free(&cp);
        CHECK(cp.n == 0 && cp.rules == NULL);
        CHECK(policy_action_from_name("bulk") == POLICY_BULK);
        CHECK(policy_action_from_name("owns") == -1);
}

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
        struct router rt = { 0 };
        CHECK(policy_check_subscribe(&rt, &plain, "sensors/temp") == 0);
        CHECK(policy_check_subscribe(&rt, &plain, "*") == ROUTER_E_DENIED);
        CHECK(policy_check_subscribe(&rt, &admin, "*") == 0);
        CHECK(policy_check_monitor(&rt, &plain, "") == ROUTER_E_DENIED);
        CHECK(policy_check_monitor(&rt, &admin, "") == 0);

        test_rules();
        printf("test-policy: ok\n");
        return 0;
}
