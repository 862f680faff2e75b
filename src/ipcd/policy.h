/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h - who may do what: the one place every permission check of the
 * routing state goes through (DESIGN: "the checks must have one place to
 * live from the start").  Called with router->lock held.
 *
 * Today's policy has no rules from the configuration: anyone who may
 * register (see clients_group) may own a name, send and publish;
 * subscribing to everything ("*") or to everything under a first-level
 * name ("x/" then "*"), and monitoring, are for root and members of
 * ipcd's group (client->privileged).  Per-uid and per-group rules, when
 * they come, are added here and nowhere else.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct client;

/* 0, or -EACCES. */
int policy_check_name(uid_t uid, const char *name);
int policy_check_send(const struct client *c, const struct client *dst);
int policy_check_publish(const struct client *c, const char *topic);
int policy_check_subscribe(const struct client *c, const char *pattern);
int policy_check_monitor(const struct client *c);
