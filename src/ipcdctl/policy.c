/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.c - `ipcdctl policy`: the access rules ipcd has in force (a
 * POLICY request: the rules as ipcd parsed them, with their line numbers
 * and hit counts), and `ipcdctl policy check`: which of those rules
 * decides an action of a hypothetical client, evaluated here with the
 * same code ipcd runs (shared/rules.c), on the rules ipcd reported, so
 * the answer is that of the rules in force, not of a file on disk.  For
 * receive, as in ipcd (core/policy.c, core/pubsub.c), the subject is the
 * receiver and the object the sender: its name (OBJECT, "" for an
 * anonymous sender), its uid (--sender-uid) and its unit (--sender-unit;
 * none: a sender in no unit).
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcdctl/ipcdctl.h"
#include "ipcdctl/json.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/rules.h"
#include "shared/util.h"

#define CTL_GROUPS_MAX 256

static const char *user_name(uid_t uid, char *buf, size_t size)
{
        struct passwd pw, *res = NULL;
        char tmp[4096];

        if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
                snprintf(buf, size, "%s", res->pw_name);
        else
                buf[0] = '\0';
        return buf;
}

static const char *group_name(gid_t gid, char *buf, size_t size)
{
        struct group gr, *res = NULL;
        char tmp[4096];

        if (getgrgid_r(gid, &gr, tmp, sizeof(tmp), &res) == 0 && res)
                snprintf(buf, size, "%s", res->gr_name);
        else
                buf[0] = '\0';
        return buf;
}

/* "name(number)" or "number". */
static void id_text(char *buf, size_t size, const char *name, unsigned id)
{
        if (name[0])
                snprintf(buf, size, "%s(%u)", name, id);
        else
                snprintf(buf, size, "%u", id);
}

/* The subject of a rule as "uid=camera(2001),group=video(44),unit=x", or "*". */
static void subject_text(const struct policy_rule *ru, char *buf, size_t size)
{
        char name[256], id[300];
        size_t off = 0;

        buf[0] = '\0';
#define ADD(...)                                                                            \
        do {                                                                                \
                int n_ = snprintf(buf + off, size - off, "%s", off ? "," : "");             \
                if (n_ > 0 && (size_t)n_ < size - off)                                      \
                        off += (size_t)n_;                                                  \
                n_ = snprintf(buf + off, size - off, __VA_ARGS__);                          \
                if (n_ > 0)                                                                 \
                        off = MIN(off + (size_t)n_, size - 1);                              \
        } while (0)
        if (ru->has_uid) {
                id_text(id, sizeof(id), user_name(ru->uid, name, sizeof(name)), ru->uid);
                ADD("uid=%s", id);
        }
        if (ru->has_gid) {
                id_text(id, sizeof(id), group_name(ru->gid, name, sizeof(name)), ru->gid);
                ADD("group=%s", id);
        }
        if (ru->unit)
                ADD("unit=%s", ru->unit);
        if (ru->has_peer_uid) {
                id_text(id, sizeof(id), user_name(ru->peer_uid, name, sizeof(name)),
                        ru->peer_uid);
                ADD("sender_uid=%s", id);
        }
        if (ru->peer_unit)
                ADD("sender_unit=%s", ru->peer_unit);
#undef ADD
        if (!off)
                snprintf(buf, size, "*");
}

static void object_text(const struct policy_rule *ru, char *buf, size_t size)
{
        if (ru->object)
                snprintf(buf, size, "%s=%s", ru->topic ? "topic" : "name", ru->object);
        else
                snprintf(buf, size, "*");
}

static int fetch_rules(const struct ctl *ctl, struct wire_status_daemon *d,
                       struct policy_rules *pr)
{
        char error[128];
        int r = ctl_policy_query(ctl->rundir, d, pr, error, sizeof(error));

        if (r >= 0)
                return 0;
        if (error[0]) {
                log_error("policy refused by ipcd at %s: %s (%s)", ctl->rundir, error,
                          ctl_errno_name(r));
                return CTL_EXIT_FAILURE;
        }
        if (r == -ETIMEDOUT) {
                log_error("policy: ipcd at %s did not answer the POLICY request (an ipcd "
                          "older than this ipcdctl ignores it) (ETIMEDOUT)",
                          ctl->rundir);
                return CTL_EXIT_FAILURE;
        }
        return ctl_report_error(ctl, "policy", r);
}

static void json_rule(struct json *j, const struct policy_rule *ru)
{
        char name[256];

        json_begin_object(j, NULL);
        json_u64(j, "line", ru->line);
        json_str(j, "action", policy_action_names[ru->action]);
        json_str(j, "decision", ru->allow ? "allow" : "deny");
        if (ru->has_uid) {
                json_u64(j, "uid", ru->uid);
                if (user_name(ru->uid, name, sizeof(name))[0])
                        json_str(j, "user", name);
        }
        if (ru->has_gid) {
                json_u64(j, "gid", ru->gid);
                if (group_name(ru->gid, name, sizeof(name))[0])
                        json_str(j, "group", name);
        }
        if (ru->unit)
                json_str(j, "unit", ru->unit);
        if (ru->has_peer_uid)
                json_u64(j, "sender_uid", ru->peer_uid);
        if (ru->peer_unit)
                json_str(j, "sender_unit", ru->peer_unit);
        if (ru->object)
                json_str(j, ru->topic ? "topic" : "name", ru->object);
        json_u64(j, "hits", ru->hits);
        json_end_object(j);
}

static int policy_list(const struct ctl *ctl)
{
        struct wire_status_daemon d;
        struct policy_rules pr;
        int r = fetch_rules(ctl, &d, &pr);

        if (r)
                return r;
        if (ctl->json) {
                struct json j;

                json_init(&j, stdout);
                json_begin_object(&j, NULL);
                json_u64(&j, "rules_in_force", d.policy_rules);
                json_u64(&j, "rules_shown", pr.n);
                json_u64(&j, "denied", d.policy_denied);
                json_begin_array(&j, "rules");
                for (size_t i = 0; i < pr.n; i++)
                        json_rule(&j, &pr.rules[i]);
                json_end_array(&j);
                json_end_object(&j);
                fputc('\n', stdout);
        } else if (!pr.n && !d.policy_rules) {
                printf("no access rules in force: everything the built-in checks let "
                       "through is allowed\n");
        } else {
                printf("%u rule%s in force (first match wins, no match allows); "
                       "%" PRIu64 " action%s denied\n",
                       d.policy_rules, d.policy_rules == 1 ? "" : "s", (uint64_t)d.policy_denied,
                       d.policy_denied == 1 ? "" : "s");
                printf("%-5s %-9s %-8s %-32s %-24s %s\n", "LINE", "ACTION", "DECISION",
                       "SUBJECT", "OBJECT", "HITS");
                for (size_t i = 0; i < pr.n; i++) {
                        const struct policy_rule *ru = &pr.rules[i];
                        char subj[1024], obj[128];

                        subject_text(ru, subj, sizeof(subj));
                        object_text(ru, obj, sizeof(obj));
                        printf("%-5u %-9s %-8s %-32s %-24s %" PRIu64 "\n", ru->line,
                               policy_action_names[ru->action], ru->allow ? "allow" : "deny",
                               subj, obj, ru->hits);
                }
                if (pr.n < d.policy_rules)
                        printf("(%zu more rules not shown: the answer was capped)\n",
                               (size_t)d.policy_rules - pr.n);
        }
        r = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
        policy_rules_free(&pr);
        return r;
}

/* A user or group by name or number: 0, or -1 after saying why not. */
static int parse_id(const char *what, const char *s, bool group, uint32_t *id, gid_t *primary)
{
        uint64_t v;
        char tmp[16384];
        int r;

        if (util_parse_u64(s, &v) == 0) {
                if (v >= UINT32_MAX) {
                        log_error("--%s %s: out of range", what, s);
                        return -1;
                }
                *id = (uint32_t)v;
                if (!group && primary) {
                        struct passwd pw, *res = NULL;

                        if (getpwuid_r((uid_t)v, &pw, tmp, sizeof(tmp), &res) == 0 && res)
                                *primary = res->pw_gid;
                }
                return 0;
        }
        if (group) {
                struct group gr, *res = NULL;

                r = getgrnam_r(s, &gr, tmp, sizeof(tmp), &res);
                if (r == 0 && res) {
                        *id = res->gr_gid;
                        return 0;
                }
        } else {
                struct passwd pw, *res = NULL;

                r = getpwnam_r(s, &pw, tmp, sizeof(tmp), &res);
                if (r == 0 && res) {
                        *id = res->pw_uid;
                        if (primary)
                                *primary = res->pw_gid;
                        return 0;
                }
        }
        log_error("--%s %s: no such %s", what, s, group ? "group" : "user");
        return -1;
}

/* A unit name given on the command line: 0, or -1 after saying why not. */
static int check_unit_arg(const char *opt, const char *unit)
{
        if (!unit[0] || strlen(unit) >= WIRE_UNIT_MAX) {
                log_error("%s: 1-%d bytes", opt, WIRE_UNIT_MAX - 1);
                return -1;
        }
        return 0;
}

/* Without --sender-uid: a receive rule up to the deciding one (ru, NULL:
 * all) that names a sender uid and would match but for it, or NULL.  The
 * answer then depends on the sender's uid, which was not given. */
static const struct policy_rule *needs_sender_uid(const struct policy_rules *pr,
                                                  const struct policy_rule *ru,
                                                  const struct policy_subject *s,
                                                  const struct policy_peer *peer)
{
        for (size_t i = 0; i < pr->n; i++) {
                struct policy_rule one = pr->rules[i];
                struct policy_rules just = { &one, 1 };

                if (one.action == POLICY_RECEIVE && one.has_peer_uid) {
                        one.has_peer_uid = false;
                        if (policy_rules_decide(&just, POLICY_RECEIVE, s, peer->name, peer))
                                return &pr->rules[i];
                }
                if (&pr->rules[i] == ru)
                        break;
        }
        return NULL;
}

static int policy_check(const struct ctl *ctl, const char *action_word, const char *object)
{
        gid_t groups[CTL_GROUPS_MAX];
        struct policy_subject s = { .unit = "" };
        const struct policy_rule *ru;
        struct wire_status_daemon d;
        struct policy_rules pr;
        struct policy_peer peer = { object, (uid_t)-1, "" };
        uint32_t uid, gid, sender_uid;
        gid_t primary = (gid_t)-1;
        int action, ngroups = 0, r;
        char name[256];

        if (!ctl->uid) {
                log_error("policy check: --uid USER is needed");
                return CTL_EXIT_USAGE;
        }
        action = policy_action_from_name(action_word);
        if (action < 0) {
                log_error("policy check: action '%s': expected own, send, receive, publish, "
                          "subscribe, call, monitor or bulk",
                          action_word);
                return CTL_EXIT_USAGE;
        }
        if (action != POLICY_RECEIVE && (ctl->sender_uid || ctl->sender_unit)) {
                log_error("policy check: --sender-uid and --sender-unit are for receive");
                return CTL_EXIT_USAGE;
        }
        if (action == POLICY_RECEIVE && !object[0]) {
                /* an anonymous sender */
        } else if (action == POLICY_PUBLISH || action == POLICY_SUBSCRIBE || action == POLICY_MONITOR
                    ? !topic_pattern_is_valid(object)
                    : !name_is_valid(object)) {
                log_error("policy check: '%s' is not a valid %s", object,
                          action == POLICY_PUBLISH || action == POLICY_SUBSCRIBE ||
                                          action == POLICY_MONITOR
                                  ? "topic or pattern"
                                  : "name");
                return CTL_EXIT_USAGE;
        }
        if (parse_id("uid", ctl->uid, false, &uid, &primary) < 0)
                return CTL_EXIT_USAGE;
        s.uid = (uid_t)uid;
        /* Its groups: those the user database gives the user (as a
         * process of it started by login would have), and --group. */
        s.gid = primary;
        if (primary != (gid_t)-1 && user_name(s.uid, name, sizeof(name))[0]) {
                ngroups = CTL_GROUPS_MAX - 1;
                if (getgrouplist(name, primary, groups, &ngroups) < 0)
                        ngroups = CTL_GROUPS_MAX - 1; /* the first ones */
        }
        if (ctl->group) {
                if (parse_id("group", ctl->group, true, &gid, NULL) < 0)
                        return CTL_EXIT_USAGE;
                groups[ngroups++] = (gid_t)gid;
        }
        s.groups = groups;
        s.ngroups = (size_t)ngroups;
        if (ctl->unit) {
                if (check_unit_arg("--unit", ctl->unit) < 0)
                        return CTL_EXIT_USAGE;
                s.unit = ctl->unit;
        }
        if (ctl->sender_uid) {
                if (parse_id("sender-uid", ctl->sender_uid, false, &sender_uid, NULL) < 0)
                        return CTL_EXIT_USAGE;
                peer.uid = (uid_t)sender_uid;
        }
        if (ctl->sender_unit) {
                if (check_unit_arg("--sender-unit", ctl->sender_unit) < 0)
                        return CTL_EXIT_USAGE;
                peer.unit = ctl->sender_unit;
        }

        r = fetch_rules(ctl, &d, &pr);
        if (r)
                return r;
        if (pr.n < d.policy_rules) {
                log_error("policy check: ipcd reported %zu of its %u rules (capped): cannot "
                          "decide",
                          pr.n, d.policy_rules);
                policy_rules_free(&pr);
                return CTL_EXIT_FAILURE;
        }
        /* A receive rule names the sender: as ipcd does, the rules see
         * its name, uid and unit (peer). */
        ru = policy_rules_decide(&pr, action, &s, object, action == POLICY_RECEIVE ? &peer : NULL);
        if (action == POLICY_RECEIVE && !ctl->sender_uid) {
                const struct policy_rule *dep = needs_sender_uid(&pr, ru, &s, &peer);

                if (dep) {
                        log_error("policy check: the rule at line %u names the sender's uid: "
                                  "give --sender-uid",
                                  dep->line);
                        policy_rules_free(&pr);
                        return CTL_EXIT_USAGE;
                }
        }
        if (ctl->json) {
                struct json j;

                json_init(&j, stdout);
                json_begin_object(&j, NULL);
                json_str(&j, "action", policy_action_names[action]);
                json_str(&j, "object", object);
                json_u64(&j, "uid", s.uid);
                if (action == POLICY_RECEIVE) {
                        if (ctl->sender_uid)
                                json_u64(&j, "sender_uid", peer.uid);
                        json_str(&j, "sender_unit", peer.unit);
                }
                json_str(&j, "decision", !ru || ru->allow ? "allow" : "deny");
                json_bool(&j, "default", !ru);
                if (ru)
                        json_u64(&j, "line", ru->line);
                json_end_object(&j);
                fputc('\n', stdout);
        } else if (ru) {
                char subj[1024], obj[128];

                subject_text(ru, subj, sizeof(subj));
                object_text(ru, obj, sizeof(obj));
                printf("%s: the rule at line %u decides (%s %s by %s)\n",
                       ru->allow ? "allow" : "deny", ru->line, policy_action_names[ru->action],
                       obj, subj);
        } else {
                printf("default allow: no rule matches\n");
        }
        if (action == POLICY_MONITOR ||
            (action == POLICY_SUBSCRIBE && topic_pattern_is_broad(object)))
                printf("note: %s also needs root or a member of ipcd's group (built in)\n",
                       action == POLICY_MONITOR ? "monitoring" : "a broad subscription");
        policy_rules_free(&pr);
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}

int cmd_policy(struct ctl *ctl, int argc, char **argv)
{
        if (argc == 1) {
                if (ctl->uid || ctl->group || ctl->unit || ctl->sender_uid || ctl->sender_unit) {
                        log_error("--uid, --group, --unit, --sender-uid and --sender-unit are "
                                  "for `policy check`");
                        return CTL_EXIT_USAGE;
                }
                return policy_list(ctl);
        }
        if (strcmp(argv[1], "check") != 0 || argc != 4) {
                log_error("usage: ipcdctl policy [check --uid USER [--group GROUP] "
                          "[--unit UNIT] [--sender-uid USER] [--sender-unit UNIT] ACTION "
                          "OBJECT]");
                return CTL_EXIT_USAGE;
        }
        return policy_check(ctl, argv[2], argv[3]);
}
