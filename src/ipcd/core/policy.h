/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h - who may do what: the one place every permission check of the
 * routing state goes through (DESIGN: "the checks must have one place to
 * live from the start").  Called with router->lock held.
 *
 * Today's policy has no rules from the configuration: anyone who may
 * register (clients_group: policy_check_register) may own a name, send
 * and publish;
 * subscribing to everything ("*") or to everything under a first-level
 * name ("x/" then "*"), and monitoring, are for root and members of
 * ipcd's group (client->privileged).  Per-uid and per-group rules, when
 * they come, are added here and nowhere else.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct client;
struct ring;

/* 0, or ROUTER_E_DENIED. */
int policy_check_name(uid_t uid, const char *name);
int policy_check_send(const struct client *c, const struct client *dst);
int policy_check_publish(const struct client *c, const char *topic);
int policy_check_subscribe(const struct client *c, const char *pattern);
int policy_check_monitor(const struct client *c);
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
