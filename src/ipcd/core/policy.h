/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h - who may do what: the one place every permission check of the
 * routing state goes through (DESIGN: "the checks must have one place to
 * live from the start").  Called with router->lock held.
 *
 * Built in: anyone who may register (clients_group:
 * policy_check_register) may own a name, send and publish; subscribing
 * to everything ("*") or to everything under a first-level name ("x/"
 * then "*"), and monitoring, are for root and members of ipcd's group
 * (client->privileged).
 *
 * On top of that, the rules of the configuration's "policy" list
 * (config.c parses them into a struct policy_rules; ipcd.conf(5)): they
 * are tried in order, the first one that matches the action, the subject
 * (uid, group, unit; none: everyone) and the object (a name or topic
 * pattern) decides; no match allows.  A rule never lifts the built-in
 * privilege checks.  The table is the router's (router->policy), read
 * and counted under router->lock, swapped whole on reload.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/rules.h"

struct client;
struct ring;
struct router;

/* The checks of the routing state: 0, or ROUTER_E_DENIED (counted on the
 * rule and logged, rate-limited, with its line).  Lock held. */
int policy_check_name(struct router *r, const struct policy_subject *s, const char *name);
int policy_check_send(struct router *r, const struct client *c, const struct client *dst,
                      bool call);
int policy_check_publish(struct router *r, const struct client *c, const char *topic);
int policy_check_subscribe(struct router *r, const struct client *c, const char *pattern);
/* May c hear a message published on topic (its subscription or a
 * replayed history entry matched it): the subscribe rules, per topic. */
bool policy_may_hear(struct router *r, const struct client *c, const char *topic);
int policy_check_monitor(struct router *r, const struct client *c, const char *pattern);
/* May monitor m see a copy of what s sent to dst (a topic: topic). */
bool policy_may_watch(struct router *r, const struct client *m, const char *dst, bool topic);
int policy_check_bulk(struct router *r, const struct client *c, const char *ring);
void policy_subject_of(const struct client *c, struct policy_subject *s);
/* Publishing a message from another host (WIRE_IN_REMOTE, ipcd-bridge):
 * root and members of ipcd's group, so that no local client can pass
 * itself off as a remote one. */
int policy_check_remote(const struct client *c);

/* Who a registering process is: its uid and groups, as /proc says
 * (control.c reads them). */
struct policy_creds {
        uid_t uid;
        gid_t gid;               /* real gid */
        const gid_t *groups;     /* supplementary */
        size_t ngroups;
};

bool policy_creds_in_group(const struct policy_creds *pc, gid_t g);
/* May it register at all: root, or any uid when no clients_group is set,
 * or a member of clients_group.  0 or ROUTER_E_DENIED. */
int policy_check_register(const struct policy_creds *pc, bool have_clients_group,
                          gid_t clients_gid);
/* Admin operations (broad subscriptions, monitoring): root and members of
 * ipcd's group. */
bool policy_is_privileged(const struct policy_creds *pc, gid_t daemon_gid);
/* The rings it can map (bit i: ring i): root, ipcd's own uid, and members
 * of a ring's group (the ring's trust domain). */
uint32_t policy_ring_access(const struct policy_creds *pc, struct ring *const *rings,
                            unsigned nrings);
