/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rules.h - the access rules of ipcd.conf's "policy" list as data, and
 * their evaluation: the first rule that matches an action, a subject and
 * an object decides.  Shared by ipcd (core/policy.c, which adds the
 * built-in checks, counts and logs) and ipcdctl (`policy check`, which
 * evaluates the rules ipcd reports in force).  Pure: no locks, no I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum policy_action {
        POLICY_OWN,       /* register a name (object: name) */
        POLICY_SEND,      /* send to a name (object: name) */
        POLICY_RECEIVE,   /* receive from a sender (object: its name; peer_uid, peer_unit) */
        POLICY_PUBLISH,   /* object: topic */
        POLICY_SUBSCRIBE, /* object: topic (a pattern: checked again per topic delivered) */
        POLICY_CALL,      /* call a name (object: name) */
        POLICY_MONITOR,   /* object: the name or topic a copy is of */
        POLICY_BULK,      /* use a ring (object: the ring's name) */
        _POLICY_ACTION_MAX,
};

/* The words of the configuration, by enum policy_action; NULL-free. */
extern const char *const policy_action_names[_POLICY_ACTION_MAX];
/* The action named word, or -1. */
int policy_action_from_name(const char *word);

#define POLICY_UNIT_MAX 256 /* bytes with the NUL: systemd's UNIT_NAME_MAX */

struct policy_rule {
        uint8_t action;           /* enum policy_action */
        bool allow;               /* decision */
        bool has_uid, has_gid, has_peer_uid;
        uid_t uid;                /* subject: the client's uid */
        gid_t gid;                /* subject: one of its groups (real or supplementary) */
        uid_t peer_uid;           /* receive: the sender's uid */
        char *unit;               /* subject: its unit, an fnmatch(3) glob; NULL: any */
        char *peer_unit;          /* receive: the sender's unit glob; NULL: any */
        char *object;             /* a name or topic pattern ("*", "x/" "*"); NULL: any */
        bool topic;               /* object came from "topic" (not "name"): for printing */
        unsigned line;            /* in the configuration, for the log */
        uint64_t hits;            /* times it decided (router->lock) */
};

struct policy_rules {
        struct policy_rule *rules;
        size_t n;
};

void policy_rules_free(struct policy_rules *pr);
/* A deep copy of src into dst (hits kept); 0 or -ENOMEM. */
int policy_rules_copy(struct policy_rules *dst, const struct policy_rules *src);

/* Who asks: a client (policy_subject_of) or a hypothetical one. */
struct policy_subject {
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t ngroups;
        const char *unit;         /* "" when unknown */
};
struct policy_peer {
        const char *name;         /* "" anonymous */
        uid_t uid;
        const char *unit;
};

/* The rule that decides, or NULL (allowed); its hits are not counted.
 * object may be a pattern (subscribe, monitor): a rule decides when its
 * pattern covers every name the object matches.  peer: for POLICY_RECEIVE, NULL otherwise. */
const struct policy_rule *policy_rules_decide(const struct policy_rules *pr, int action,
                                              const struct policy_subject *s,
                                              const char *object,
                                              const struct policy_peer *peer);


/* A rule as the POLICY answer carries it (wire.h) and back: from_wire
 * validates (action, terminated strings, patterns) and allocates;
 * 0, -EBADMSG or -ENOMEM (ru then holds nothing to free). */
struct wire_policy_rule;
void policy_rule_to_wire(const struct policy_rule *ru, struct wire_policy_rule *w);
int policy_rule_from_wire(struct policy_rule *ru, const struct wire_policy_rule *w);
