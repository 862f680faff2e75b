/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c - read ipcd.conf (libconfig syntax) into a struct ipcd_config.
 *
 * The only file of ipcd that includes <libconfig.h>.  The file is a flat
 * list of "key = value;" settings; every key is described in ipcd.conf(5)
 * and in the shipped conf/ipcd.conf.  Unknown keys, values of the wrong
 * type and values out of range are errors reported as "file:line: message".
 *
 * config_load() is all or nothing: it works on a copy and touches *cfg only
 * when the whole file is valid, so a SIGHUP reload with a broken file
 * leaves the running configuration as it was.
 *
 * libconfig 1.5 reads an integer literal without the L suffix as a 32-bit
 * int and silently wraps larger values: "backlog_total_bytes = 4294967296;"
 * would become 0.  So config_int_value() reads the literal back from the
 * file and takes its full value when libconfig's is its 32-bit truncation.
 *
 * "@include" works as in libconfig, relative to the including file's
 * directory; errors in an included file name that file and line.
 */
#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include <libconfig.h>

#include "ipcd/config.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/wire.h"

#define CONFIG_DEFAULT_RUNTIME_DIR "/run/ipcd"

/* A reply FIFO path is RUNDIR/clients/<32 hex digits>: leave room for it. */
#define CONFIG_RUNTIME_DIR_MAX (PATH_MAX - 64)

/* Rules are tried in order for every action: keep the table small. */
#define CONFIG_POLICY_MAX 1024

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/*
 * Not "config_init": that is libconfig's own constructor (config_init(config_t *)),
 * and one program cannot define both.
 */
int config_set_defaults(struct ipcd_config *cfg)
{
        *cfg = (struct ipcd_config){
                .log_level = LOG_INFO,
                .clients_group = NULL,
                .max_message_size = 0,
                /* the library's reconnection: each call retries for its
                 * timeout or 2 s, with a backoff up to 500 ms; systemd's
                 * restart takes about a second: 10 s covers several rounds */
                .name_grace_ms = 10000,
                .parked_bytes = 4 * MIB,
                .parked_bytes_per_uid = 1 * MIB,
                .lim = {
                        .max_clients = 4096,
                        .max_clients_per_uid = 64,
                        .queue_bytes = 262144,
                        .inbound_queue_bytes = 1048576,
                        .backlog_bytes = 1 * MIB,
                        .backlog_total_bytes = 64 * MIB,
                        .registration_rate = 50,
                        .registration_burst = 100,
                        .garbage_kick = 1000,
                        .max_subscriptions = 256,
                        .history_per_topic = 64,
                        .history_total = 65536,
                        /* a quarter: four uids can hold their whole share at once */
                        .history_per_uid = 16384,
                        .history_total_bytes = 64 * MIB,
                        .overflow_policy = WIRE_OVERFLOW_DROP_NEW,
                        .max_calls = 4096,
                        .lanes_per_uid = 0, /* a quarter of each ring's lanes */
                        .max_held_chunks = 4096,
                        .held_bytes = 0,
                        .channels_per_uid = 8,
                        .channels_total = 256,
                        .channel_bytes = 64 * 1024,
                },
        };
        cfg->runtime_dir = strdup(CONFIG_DEFAULT_RUNTIME_DIR);
        if (!cfg->runtime_dir)
                return -ENOMEM;
        return 0;
}

static void rings_free(struct ipcd_ring_config *rings, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(rings[i].name);
                free(rings[i].group);
        }
        free(rings);
}

void config_done(struct ipcd_config *cfg)
{
        if (!cfg)
                return;
        free(cfg->runtime_dir);
        free(cfg->clients_group);
        rings_free(cfg->rings, cfg->nrings);
        policy_rules_free(&cfg->policy);
        unit_limits_free(&cfg->unit_limits);
        cfg->runtime_dir = NULL;
        cfg->clients_group = NULL;
        cfg->rings = NULL;
        cfg->nrings = 0;
}

static int rings_copy(struct ipcd_config *dst, const struct ipcd_config *src)
{
        dst->rings = NULL;
        dst->nrings = 0;
        if (!src->nrings)
                return 0;
        dst->rings = calloc(src->nrings, sizeof(*dst->rings));
        if (!dst->rings)
                return -ENOMEM;
        for (size_t i = 0; i < src->nrings; i++) {
                dst->rings[i] = src->rings[i];
                dst->rings[i].name = strdup(src->rings[i].name);
                dst->rings[i].group = src->rings[i].group ? strdup(src->rings[i].group) : NULL;
                dst->nrings = i + 1;
                if (!dst->rings[i].name || (src->rings[i].group && !dst->rings[i].group))
                        return -ENOMEM;
        }
        return 0;
}

static int config_copy(struct ipcd_config *dst, const struct ipcd_config *src)
{
        *dst = *src;
        dst->runtime_dir = NULL;
        dst->clients_group = NULL;
        dst->policy = (struct policy_rules){ 0 };
        dst->unit_limits = (struct unit_limits){ 0 };
        if (policy_rules_copy(&dst->policy, &src->policy) < 0 || rings_copy(dst, src) < 0 ||
            unit_limits_copy(&dst->unit_limits, &src->unit_limits) < 0) {
                config_done(dst);
                return -ENOMEM;
        }
        if (src->runtime_dir) {
                dst->runtime_dir = strdup(src->runtime_dir);
                if (!dst->runtime_dir)
                        return -ENOMEM;
        }
        if (src->clients_group) {
                dst->clients_group = strdup(src->clients_group);
                if (!dst->clients_group) {
                        config_done(dst);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* What config_load() is working on, for the error reporter. */
struct config_ctx {
        const char *path;
        const char *include_dir; /* libconfig names included files relative to it */
        char *err;
        size_t errlen;
};

/* The file a setting comes from: the main file, or an @include'd one. */
static const char *setting_file(const struct config_ctx *ctx, const config_setting_t *s,
                                char *buf, size_t size)
{
        const char *f = config_setting_source_file(s);

        if (!f)
                return ctx->path;
        if (f[0] == '/' || !ctx->include_dir)
                return f;
        snprintf(buf, size, "%s/%s", ctx->include_dir, f);
        return buf;
}

_printf_(3, 4) static int config_fail(const struct config_ctx *ctx, const config_setting_t *s,
                                      const char *fmt, ...)
{
        char msg[512], file[PATH_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (ctx->err && ctx->errlen > 0) {
                if (s)
                        snprintf(ctx->err, ctx->errlen, "%s:%u: %s",
                                 setting_file(ctx, s, file, sizeof(file)),
                                 (unsigned)config_setting_source_line(s), msg);
                else
                        snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, msg);
        }
        return -EINVAL;
}

static bool is_name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '*';
}

static const char *skip_space(const char *p)
{
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f')
                p++;
        return p;
}

/*
 * Find the integer literal of setting `name` in text, starting at line
 * `line` (1-based): "name", then '=' or ':', then the literal.  Parse it
 * (decimal or 0x hex, optional L/LL suffix) into *ret.  0 if found.
 */
static int literal_find(const char *text, unsigned line, const char *name, long long *ret)
{
        size_t nlen = strlen(name);
        const char *p = text, *q;

        for (unsigned l = 1; l < line; l++) {
                p = strchr(p, '\n');
                if (!p)
                        return -ENOENT;
                p++;
        }
        for (q = strstr(p, name); q; q = strstr(q + 1, name)) {
                const char *v;
                char *end;
                bool neg = false;
                unsigned long long u;

                if ((q > text && is_name_char(q[-1])) || is_name_char(q[nlen]))
                        continue;
                v = skip_space(q + nlen);
                if (*v != '=' && *v != ':')
                        continue;
                v = skip_space(v + 1);
                if (*v == '-' || *v == '+') {
                        neg = *v == '-';
                        v++;
                }
                if (*v < '0' || *v > '9')
                        return -ENOENT;
                errno = 0;
                if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
                        u = strtoull(v + 2, &end, 16);
                else
                        u = strtoull(v, &end, 10);
                if (errno == ERANGE || u > (unsigned long long)LLONG_MAX)
                        return -ERANGE;
                *ret = neg ? -(long long)u : (long long)u;
                return 0;
        }
        return -ENOENT;
}

/* Read all of f (a config file is small), NUL-terminated, its length in
 * *ret_len (when not NULL); NULL on failure. */
static char *read_text(FILE *f, size_t *ret_len)
{
        size_t len = 0, cap = 4096;
        char *buf = malloc(cap);

        if (!buf)
                return NULL;
        for (;;) {
                size_t n;

                if (cap - len < 2) {
                        char *nb;

                        if (cap > 16 * MIB) {
                                free(buf);
                                return NULL;
                        }
                        nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                return NULL;
                        }
                        buf = nb;
                        cap *= 2;
                }
                n = fread(buf + len, 1, cap - len - 1, f);
                len += n;
                if (n == 0)
                        break;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return buf;
}

static void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

/*
 * The value of an int or int64 setting.  For a plain int, check the literal
 * in the file: when libconfig truncated it to 32 bits, take the real value,
 * or fail if it does not fit in 64.
 */
static int config_int_value(const struct config_ctx *ctx, const char *text,
                            const config_setting_t *s, long long *ret)
{
        _cleanup_free_ char *inc_text = NULL;
        long long v, lit = 0;
        int r;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT64:
                *ret = config_setting_get_int64(s);
                return 0;
        case CONFIG_TYPE_INT:
                v = config_setting_get_int(s);
                break;
        default:
                return config_fail(ctx, s, "%s: expected an integer", config_setting_name(s));
        }
        /* The main file's text is at hand; an @include'd one is read again. */
        if (config_setting_source_file(s)) {
                char file[PATH_MAX];
                _cleanup_(fclosep) FILE *inc = fopen(setting_file(ctx, s, file, sizeof(file)),
                                                     "re");

                inc_text = inc ? read_text(inc, NULL) : NULL;
                text = inc_text;
        }
        if (text) {
                r = literal_find(text, config_setting_source_line(s), config_setting_name(s),
                                 &lit);
                if (r == -ERANGE)
                        return config_fail(ctx, s, "%s: integer too large",
                                           config_setting_name(s));
                if (r == 0 && lit != v && (int32_t)(uint32_t)lit == (int32_t)v)
                        v = lit;
        }
        *ret = v;
        return 0;
}

static int config_uint(const struct config_ctx *ctx, const char *text, const config_setting_t *s,
                       uint64_t min, uint64_t max, bool zero_ok, uint64_t *ret)
{
        long long v = 0;
        int r;

        r = config_int_value(ctx, text, s, &v);
        if (r < 0)
                return r;
        if (v == 0 && zero_ok) {
                *ret = 0;
                return 0;
        }
        if (v < 0 || (uint64_t)v < min || (uint64_t)v > max) {
                if (zero_ok)
                        return config_fail(ctx, s,
                                           "%s = %lld: out of range (0 or %" PRIu64
                                           "..%" PRIu64 ")",
                                           config_setting_name(s), v, min, max);
                return config_fail(ctx, s, "%s = %lld: out of range (%" PRIu64 "..%" PRIu64 ")",
                                   config_setting_name(s), v, min, max);
        }
        *ret = (uint64_t)v;
        return 0;
}

static int config_string(const struct config_ctx *ctx, const config_setting_t *s,
                         const char **ret)
{
        const char *v;

        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return config_fail(ctx, s, "%s: expected a string in double quotes",
                                   config_setting_name(s));
        v = config_setting_get_string(s);
        *ret = v ? v : "";
        return 0;
}

static int set_string(char **field, const char *value)
{
        char *n = NULL;

        if (value) {
                n = strdup(value);
                if (!n)
                        return -ENOMEM;
        }
        free(*field);
        *field = n;
        return 0;
}

static int group_exists(const char *name)
{
        struct group grp, *res = NULL;
        char buf[16384];
        int r;

        r = getgrnam_r(name, &grp, buf, sizeof(buf), &res);
        if (r != 0)
                return -r;
        return res ? 1 : 0;
}

static bool ring_name_ok(const char *n)
{
        size_t len = strlen(n);

        if (len == 0 || len > 63)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
                      (n[i] >= '0' && n[i] <= '9') || n[i] == '.' || n[i] == '_' || n[i] == '-'))
                        return false;
        return true;
}

/*
 * rings = ( { name = "video"; size = 268435456L; lane_size = 16777216;
 *             group = "video"; hugepages = false; }, ... );
 */
/* A ring's name (unique among rings[0..i-1]) or group into rc. */
static int config_ring_string(const struct config_ctx *ctx, const config_setting_t *e,
                              const struct ipcd_ring_config *rings, int i,
                              struct ipcd_ring_config *rc)
{
        const char *str = "";
        int r;

        r = config_string(ctx, e, &str);
        if (r < 0)
                return r;
        if (config_setting_name(e)[0] == 'g') {
                if (str[0] && group_exists(str) != 1)
                        return config_fail(ctx, e, "ring group \"%s\": no such group", str);
                return set_string(&rc->group, str[0] ? str : NULL);
        }
        if (!ring_name_ok(str))
                return config_fail(ctx, e, "ring name \"%s\": 1-63 bytes of [A-Za-z0-9._-]", str);
        for (int k = 0; k < i; k++)
                if (strcmp(rings[k].name, str) == 0)
                        return config_fail(ctx, e, "ring \"%s\" defined twice", str);
        return set_string(&rc->name, str);
}

/* One key of ring group i into rc (rings: the ones before it). */
static int config_ring_key(const struct config_ctx *ctx, const char *text,
                           const config_setting_t *e, const struct ipcd_ring_config *rings, int i,
                           struct ipcd_ring_config *rc)
{
        const char *key = config_setting_name(e);
        uint64_t u;
        int r;

        if (strcmp(key, "name") == 0 || strcmp(key, "group") == 0)
                return config_ring_string(ctx, e, rings, i, rc);
        if (strcmp(key, "size") == 0) {
                r = config_uint(ctx, text, e, 64 * KIB, 1024 * GIB, false, &u);
                if (r < 0)
                        return r;
                rc->size = u;
                return 0;
        }
        if (strcmp(key, "lane_size") == 0) {
                r = config_uint(ctx, text, e, 64 * KIB, 1024 * GIB, false, &u);
                if (r < 0)
                        return r;
                if (u % 4096)
                        return config_fail(ctx, e, "lane_size: a multiple of 4096");
                rc->lane_size = u;
                return 0;
        }
        if (strcmp(key, "hugepages") == 0) {
                if (config_setting_type(e) != CONFIG_TYPE_BOOL)
                        return config_fail(ctx, e, "hugepages: expected true or false");
                rc->hugepages = config_setting_get_bool(e);
                return 0;
        }
        return config_fail(ctx, e, "unknown ring key '%s'", key);
}

/* Ring group g, the i-th of the list, into rings[i]. */
static int config_ring(const struct config_ctx *ctx, const char *text, const config_setting_t *g,
                       struct ipcd_ring_config *rings, int i)
{
        struct ipcd_ring_config *rc = &rings[i];
        int r;

        rc->size = 64 * MIB;
        rc->lane_size = 8 * MIB;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                return config_fail(ctx, g, "rings: each ring is a group { ... }");
        for (int j = 0; j < config_setting_length(g); j++) {
                r = config_ring_key(ctx, text, config_setting_get_elem(g, (unsigned)j), rings, i,
                                    rc);
                if (r < 0)
                        return r;
        }
        if (!rc->name)
                return config_fail(ctx, g, "ring without a name");
        if (rc->lane_size > rc->size)
                return config_fail(ctx, g, "ring %s: lane_size larger than size", rc->name);
        if (rc->hugepages && rc->lane_size % (2 * MIB))
                return config_fail(ctx, g,
                                   "ring %s: with hugepages, lane_size is a multiple of 2 MiB",
                                   rc->name);
        return 0;
}

static int config_rings(const struct config_ctx *ctx, const char *text,
                        const config_setting_t *list, struct ipcd_config *cfg)
{
        int n = config_setting_length(list);
        struct ipcd_ring_config *rings;
        int r;

        if (config_setting_type(list) != CONFIG_TYPE_LIST &&
            config_setting_type(list) != CONFIG_TYPE_ARRAY)
                return config_fail(ctx, list, "rings: expected a list ( { ... }, ... )");
        if (n > 32)
                return config_fail(ctx, list, "rings: at most 32 rings");
        rings = calloc(n ? (size_t)n : 1, sizeof(*rings));
        if (!rings)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                r = config_ring(ctx, text, config_setting_get_elem(list, (unsigned)i), rings, i);
                if (r < 0) {
                        rings_free(rings, (size_t)n);
                        return r;
                }
        }
        rings_free(cfg->rings, cfg->nrings);
        cfg->rings = rings;
        cfg->nrings = (size_t)n;
        return 0;
}

/*
 * policy = ( { action = "own"; name = "camera/" "*"; uid = "camera"; decision = "allow"; },
 *            ... );
 * One rule per group, in order.  uid and group take a name or a number;
 * unit and sender_unit an fnmatch(3) glob; name and topic a pattern as
 * subscriptions have ("*", "x/" then "*").
 */
static int policy_id(const struct config_ctx *ctx, const char *text, const config_setting_t *e,
                     bool group, uint32_t *ret)
{
        const char *str = "";
        long long v;
        char buf[16384];
        bool found;
        int r;

        if (config_setting_type(e) == CONFIG_TYPE_INT || config_setting_type(e) == CONFIG_TYPE_INT64) {
                r = config_int_value(ctx, text, e, &v);
                if (r < 0)
                        return r;
                if (v < 0 || v >= UINT32_MAX)
                        return config_fail(ctx, e, "%s = %lld: out of range",
                                           config_setting_name(e), v);
                *ret = (uint32_t)v;
                return 0;
        }
        r = config_string(ctx, e, &str);
        if (r < 0)
                return r;
        if (group) {
                struct group grp, *res = NULL;

                r = getgrnam_r(str, &grp, buf, sizeof(buf), &res);
                found = r == 0 && res;
                if (found)
                        *ret = res->gr_gid;
        } else {
                struct passwd pw, *res = NULL;

                r = getpwnam_r(str, &pw, buf, sizeof(buf), &res);
                found = r == 0 && res;
                if (found)
                        *ret = res->pw_uid;
        }
        if (r != 0)
                return config_fail(ctx, e, "%s \"%s\": %s", config_setting_name(e), str,
                                   strerror(r));
        if (!found)
                return config_fail(ctx, e, "%s \"%s\": no such %s", config_setting_name(e), str,
                                   group ? "group" : "user");
        return 0;
}

static int policy_glob(const struct config_ctx *ctx, const config_setting_t *e, char **ret)
{
        const char *str = "";
        int r = config_string(ctx, e, &str);

        if (r < 0)
                return r;
        if (!str[0] || strlen(str) >= POLICY_UNIT_MAX)
                return config_fail(ctx, e, "%s: 1-%d bytes", config_setting_name(e),
                                   POLICY_UNIT_MAX - 1);
        for (const char *c = str; *c; c++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.\\@-*?[]!",
                            *c))
                        return config_fail(ctx, e, "%s \"%s\": not a unit name or glob",
                                           config_setting_name(e), str);
        return set_string(ret, str);
}

/* One key of a rule. */
static int policy_key(const struct config_ctx *ctx, const char *text, const config_setting_t *e,
                      struct policy_rule *ru, int *action, int *decision, bool *topic)
{
        const char *key = config_setting_name(e), *str = "";
        uint32_t id = 0;
        int r;

        if (strcmp(key, "uid") == 0 || strcmp(key, "sender_uid") == 0 ||
            strcmp(key, "group") == 0) {
                r = policy_id(ctx, text, e, key[0] == 'g', &id);
                if (r < 0)
                        return r;
                if (key[0] == 'g')
                        ru->has_gid = true, ru->gid = id;
                else if (key[0] == 's')
                        ru->has_peer_uid = true, ru->peer_uid = id;
                else
                        ru->has_uid = true, ru->uid = id;
                return 0;
        }
        if (strcmp(key, "unit") == 0)
                return policy_glob(ctx, e, &ru->unit);
        if (strcmp(key, "sender_unit") == 0)
                return policy_glob(ctx, e, &ru->peer_unit);
        if (strcmp(key, "action") != 0 && strcmp(key, "decision") != 0 &&
            strcmp(key, "name") != 0 && strcmp(key, "topic") != 0)
                return config_fail(ctx, e, "unknown policy key '%s'", key);
        r = config_string(ctx, e, &str);
        if (r < 0)
                return r;
        if (strcmp(key, "action") == 0) {
                *action = policy_action_from_name(str);
                if (*action < 0)
                        return config_fail(ctx, e,
                                           "action \"%s\": expected own, send, receive, "
                                           "publish, subscribe, call, monitor or bulk", str);
                return 0;
        }
        if (strcmp(key, "decision") == 0) {
                *decision = strcmp(str, "allow") == 0 ? 1 : strcmp(str, "deny") == 0 ? 0 : -2;
                if (*decision < 0)
                        return config_fail(ctx, e, "decision \"%s\": expected allow or deny", str);
                return 0;
        }
        if (ru->object)
                return config_fail(ctx, e, "a rule has one name or one topic");
        if (!topic_pattern_is_valid(str))
                return config_fail(ctx, e, "%s \"%s\": bad pattern (1-63 bytes of "
                                           "[A-Za-z0-9._/-], or ending in /*, or *)", key, str);
        *topic = key[0] == 't';
        ru->topic = *topic;
        return set_string(&ru->object, str);
}

/* Which actions take which object, stated once. */
static const char *policy_object_error(int action, bool topic, const struct policy_rule *ru)
{
        if (ru->object && topic && action != POLICY_PUBLISH && action != POLICY_SUBSCRIBE &&
            action != POLICY_MONITOR)
                return "topic: only for publish, subscribe and monitor (this action takes a name)";
        if (ru->object && !topic && (action == POLICY_PUBLISH || action == POLICY_SUBSCRIBE))
                return "name: publish and subscribe take a topic";
        if ((ru->has_peer_uid || ru->peer_unit) && action != POLICY_RECEIVE)
                return "sender_uid and sender_unit are for receive rules";
        return NULL;
}

static int config_policy_rule(const struct config_ctx *ctx, const char *text,
                              const config_setting_t *g, struct policy_rule *ru)
{
        int action = -1, decision = -1, r;
        bool topic = false;
        const char *why;

        ru->line = (unsigned)config_setting_source_line(g);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                return config_fail(ctx, g, "policy: each rule is a group { ... }");
        for (int j = 0; j < config_setting_length(g); j++) {
                r = policy_key(ctx, text, config_setting_get_elem(g, (unsigned)j), ru, &action,
                               &decision, &topic);
                if (r < 0)
                        return r;
        }
        if (action < 0)
                return config_fail(ctx, g, "policy rule without an action");
        if (decision < 0)
                return config_fail(ctx, g, "policy rule without a decision");
        why = policy_object_error(action, topic, ru);
        if (why)
                return config_fail(ctx, g, "%s", why);
        ru->action = (uint8_t)action;
        ru->allow = decision == 1;
        return 0;
}

static int config_policy(const struct config_ctx *ctx, const char *text,
                         const config_setting_t *list, struct ipcd_config *cfg)
{
        int n = config_setting_length(list);
        struct policy_rules pr = { 0 };
        int r;

        if (config_setting_type(list) != CONFIG_TYPE_LIST)
                return config_fail(ctx, list, "policy: expected a list ( { ... }, ... )");
        if (n > CONFIG_POLICY_MAX)
                return config_fail(ctx, list, "policy: at most %d rules", CONFIG_POLICY_MAX);
        pr.rules = calloc(n ? (size_t)n : 1, sizeof(*pr.rules));
        if (!pr.rules)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                pr.n = (size_t)i + 1;
                r = config_policy_rule(ctx, text, config_setting_get_elem(list, (unsigned)i),
                                       &pr.rules[i]);
                if (r < 0) {
                        policy_rules_free(&pr);
                        return r;
                }
        }
        policy_rules_free(&cfg->policy);
        cfg->policy = pr;
        return 0;
}

/*
 * unit_limits = ( { unit = "camera.service"; clients = 4; backlog_bytes = 1048576;
 *                   lanes = 1; }, ... );
 * unit: a unit name or glob (as policy's unit); the rest optional, 0 or
 * absent: no limit of that kind (the per-uid and global ones still hold).
 */
#define CONFIG_UNIT_LIMITS_MAX 256

static int config_unit_limit(const struct config_ctx *ctx, const char *text,
                             const config_setting_t *g, struct unit_limit *ul)
{
        int r;

        ul->line = (unsigned)config_setting_source_line(g);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                return config_fail(ctx, g, "unit_limits: each entry is a group { ... }");
        for (int j = 0; j < config_setting_length(g); j++) {
                const config_setting_t *e = config_setting_get_elem(g, (unsigned)j);
                const char *key = config_setting_name(e);
                long long v;

                if (strcmp(key, "unit") == 0) {
                        if (ul->unit)
                                return config_fail(ctx, e, "unit_limits: one unit per entry");
                        r = policy_glob(ctx, e, &ul->unit);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (strcmp(key, "clients") != 0 && strcmp(key, "backlog_bytes") != 0 &&
                    strcmp(key, "lanes") != 0)
                        return config_fail(ctx, e,
                                           "unknown unit_limits key '%s' (unit, clients, "
                                           "backlog_bytes, lanes)",
                                           key);
                r = config_int_value(ctx, text, e, &v);
                if (r < 0)
                        return r;
                if (key[0] == 'b') {
                        if (v < 0 || v > (long long)(1024 * GIB))
                                return config_fail(ctx, e, "backlog_bytes = %lld: 0 .. 1 TiB", v);
                        ul->backlog_bytes = (uint64_t)v;
                } else {
                        if (v < 0 || v > 65536)
                                return config_fail(ctx, e, "%s = %lld: 0 .. 65536", key, v);
                        if (key[0] == 'c')
                                ul->clients = (uint32_t)v;
                        else
                                ul->lanes = (uint32_t)v;
                }
        }
        if (!ul->unit)
                return config_fail(ctx, g, "unit_limits entry without a unit");
        return 0;
}

static int config_unit_limits(const struct config_ctx *ctx, const char *text,
                              const config_setting_t *list, struct ipcd_config *cfg)
{
        int n = config_setting_length(list);
        struct unit_limits ul = { 0 };
        int r;

        if (config_setting_type(list) != CONFIG_TYPE_LIST)
                return config_fail(ctx, list, "unit_limits: expected a list ( { ... }, ... )");
        if (n > CONFIG_UNIT_LIMITS_MAX)
                return config_fail(ctx, list, "unit_limits: at most %d entries",
                                   CONFIG_UNIT_LIMITS_MAX);
        ul.v = calloc(n ? (size_t)n : 1, sizeof(*ul.v));
        if (!ul.v)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                ul.n = (size_t)i + 1;
                r = config_unit_limit(ctx, text, config_setting_get_elem(list, (unsigned)i),
                                      &ul.v[i]);
                if (r < 0) {
                        unit_limits_free(&ul);
                        return r;
                }
        }
        unit_limits_free(&cfg->unit_limits);
        cfg->unit_limits = ul;
        return 0;
}

static int set_runtime_dir(const struct config_ctx *ctx, const char *text,
                           const config_setting_t *s, struct ipcd_config *cfg)
{
        const char *str = "";
        int r = config_string(ctx, s, &str);

        if (r < 0)
                return r;
        if (str[0] != '/')
                return config_fail(ctx, s, "runtime_dir \"%s\": must be an absolute path", str);
        if (strlen(str) > CONFIG_RUNTIME_DIR_MAX)
                return config_fail(ctx, s, "runtime_dir: path too long");
        return set_string(&cfg->runtime_dir, str);
}

static int set_log_level(const struct config_ctx *ctx, const char *text,
                         const config_setting_t *s, struct ipcd_config *cfg)
{
        const char *str = "";
        int r = config_string(ctx, s, &str);

        if (r < 0)
                return r;
        r = log_level_from_string(str);
        /* emerg/alert/crit would hide errors: not offered */
        if (r < LOG_ERR)
                return config_fail(ctx, s,
                                   "log_level \"%s\": expected one of error, warning, notice, "
                                   "info, debug",
                                   str);
        cfg->log_level = r;
        return 0;
}

static int set_clients_group(const struct config_ctx *ctx, const char *text,
                             const config_setting_t *s, struct ipcd_config *cfg)
{
        const char *str = "";
        int r = config_string(ctx, s, &str);

        if (r < 0)
                return r;
        if (str[0] == '\0')
                return set_string(&cfg->clients_group, NULL);
        r = group_exists(str);
        if (r < 0)
                return config_fail(ctx, s, "clients_group \"%s\": %s", str, strerror(-r));
        if (r == 0)
                return config_fail(ctx, s, "clients_group \"%s\": no such group", str);
        return set_string(&cfg->clients_group, str);
}

static int set_overflow_policy(const struct config_ctx *ctx, const char *text,
                               const config_setting_t *s, struct ipcd_config *cfg)
{
        const char *str = "";
        int r = config_string(ctx, s, &str);

        if (r < 0)
                return r;
        if (strcmp(str, "drop-new") == 0)
                cfg->lim.overflow_policy = WIRE_OVERFLOW_DROP_NEW;
        else if (strcmp(str, "drop-old") == 0)
                cfg->lim.overflow_policy = WIRE_OVERFLOW_DROP_OLD;
        else
                return config_fail(ctx, s,
                                   "overflow_policy \"%s\": expected \"drop-new\" or \"drop-old\"",
                                   str);
        return 0;
}

/* The value of a key, to tell a reload what changed. */
enum key_value { VALUE_FIELD, VALUE_STRING, VALUE_RINGS, VALUE_POLICY, VALUE_UNIT_LIMITS,
                 VALUE_NONE };

/* The "bridge" group is ipcd-bridge's (src/bridge/config.c validates it,
 * ipcd-bridge --check-config): ipcd only checks that it is a group. */
static int config_bridge(const struct config_ctx *ctx, const char *text,
                         const config_setting_t *s, struct ipcd_config *cfg)
{
        (void)text;
        (void)cfg;
        if (config_setting_type(s) != CONFIG_TYPE_GROUP)
                return config_fail(ctx, s, "bridge: expected a group { ... }");
        return 0;
}

/*
 * Every key once: its name, where its value goes and, for integers, the
 * range (ranges are those of config.h, conf/ipcd.conf and ipcd.conf(5)).
 * An integer key writes its field (offset, width) in struct ipcd_config;
 * any other key has a setter.  live: a SIGHUP applies it; otherwise a
 * change is logged as needing a restart.
 */
struct config_key {
        const char *name;
        int (*set)(const struct config_ctx *ctx, const char *text, const config_setting_t *s,
                   struct ipcd_config *cfg);
        size_t offset, width; /* the field the key writes or a setter fills */
        enum key_value value;
        uint64_t min, max;
        bool zero_ok; /* 0 is allowed besides min..max */
        bool live;
};

#define UINT_KEY(n, f, lo, hi, z, l)                                                               \
        { .name = n, .value = VALUE_FIELD, FIELD_INIT(f), .min = lo, .max = hi, .zero_ok = z,      \
          .live = l }
#define FIELD_INIT(f) .offset = offsetof(struct ipcd_config, f),                                   \
                      .width = sizeof(((struct ipcd_config *)0)->f)

static const struct config_key config_keys[] = {
        { .name = "runtime_dir", .set = set_runtime_dir, .value = VALUE_STRING,
          .offset = offsetof(struct ipcd_config, runtime_dir) },
        { .name = "log_level", .set = set_log_level, FIELD_INIT(log_level), .live = true },
        { .name = "clients_group", .set = set_clients_group, .value = VALUE_STRING,
          .offset = offsetof(struct ipcd_config, clients_group), .live = true },
        UINT_KEY("max_clients", lim.max_clients, 1, 65536, false, true),
        /* the upper bound is max_clients, checked once both are known */
        UINT_KEY("max_clients_per_uid", lim.max_clients_per_uid, 1, 65536, false, true),
        /* clients registered before keep the value they were told */
        UINT_KEY("max_message_size", max_message_size, 1, 16 * MIB, true, true),
        /* read at start-up only, when there are names to reserve */
        UINT_KEY("name_grace_ms", name_grace_ms, 1, 3600000, true, false),
        UINT_KEY("parked_bytes", parked_bytes, 0, 1 * GIB, true, true),
        UINT_KEY("parked_bytes_per_uid", parked_bytes_per_uid, 0, 1 * GIB, true, true),
        UINT_KEY("queue_bytes", lim.queue_bytes, 1024, 1 * GIB, false, true),
        UINT_KEY("inbound_queue_bytes", lim.inbound_queue_bytes, 1024, 1 * GIB, false, true),
        UINT_KEY("backlog_bytes", lim.backlog_bytes, 0, 1 * GIB, false, true),
        UINT_KEY("backlog_total_bytes", lim.backlog_total_bytes, 0, 1024 * GIB, false, true),
        UINT_KEY("flow_window_bytes", lim.flow_window, 4096, 1 * GIB, true, true),
        UINT_KEY("flow_client_bytes", lim.flow_client, 4096, 64 * GIB, true, true),
        UINT_KEY("registration_rate", lim.registration_rate, 1, 1000000, false, true),
        UINT_KEY("registration_burst", lim.registration_burst, 1, 1000000, false, true),
        UINT_KEY("garbage_kick", lim.garbage_kick, 1, 1000000, true, true),
        UINT_KEY("max_subscriptions", lim.max_subscriptions, 1, 65536, false, true),
        UINT_KEY("history_per_topic", lim.history_per_topic, 0, 65536, false, true),
        UINT_KEY("history_total", lim.history_total, 0, 16777216, false, true),
        UINT_KEY("history_per_uid", lim.history_per_uid, 0, 16777216, false, true),
        UINT_KEY("history_total_bytes", lim.history_total_bytes, 0, 4 * GIB, false, true),
        { .name = "overflow_policy", .set = set_overflow_policy, FIELD_INIT(lim.overflow_policy),
          .live = true },
        UINT_KEY("max_calls", lim.max_calls, 1, 1048576, false, true),
        UINT_KEY("lanes_per_uid", lim.lanes_per_uid, 1, 1024, true, true),
        UINT_KEY("max_held_chunks", lim.max_held_chunks, 1, 1048576, false, true),
        UINT_KEY("bulk_held_bytes", lim.held_bytes, 4096, 1024 * GIB, true, true),
        UINT_KEY("channels_per_uid", lim.channels_per_uid, 1, 1024, false, true),
        UINT_KEY("channels_total", lim.channels_total, 1, 65536, false, true),
        UINT_KEY("channel_bytes", lim.channel_bytes, 4096, 64 * MIB, false, true),
        { .name = "rings", .set = config_rings, .value = VALUE_RINGS },
        { .name = "policy", .set = config_policy, .value = VALUE_POLICY, .live = true },
        { .name = "unit_limits", .set = config_unit_limits, .value = VALUE_UNIT_LIMITS,
          .live = true },
        { .name = "bridge", .set = config_bridge, .value = VALUE_NONE, .live = true },
};

static void field_store(struct ipcd_config *cfg, const struct config_key *k, uint64_t v)
{
        uint8_t *p = (uint8_t *)cfg + k->offset;

        if (k->width == sizeof(uint64_t)) {
                uint64_t u = v;
                memcpy(p, &u, sizeof(u));
        } else if (k->width == sizeof(uint32_t)) {
                uint32_t u = (uint32_t)v; /* the range fits: max <= UINT32_MAX */
                memcpy(p, &u, sizeof(u));
        } else
                assert(!"config key of an unexpected width");
}

static const struct config_key *key_find(const char *name)
{
        for (size_t i = 0; name && i < ELEMENTSOF(config_keys); i++)
                if (strcmp(name, config_keys[i].name) == 0)
                        return &config_keys[i];
        return NULL;
}

static int config_apply(const struct config_ctx *ctx, const char *text, config_setting_t *root,
                        struct ipcd_config *cfg)
{
        const config_setting_t *per_uid = NULL;
        int n = config_setting_length(root);
        int r;

        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
                const char *name = config_setting_name(s);
                const struct config_key *k = key_find(name);
                uint64_t u = 0;

                if (!k)
                        return config_fail(ctx, s, "unknown key '%s'", name ? name : "");
                if (k->offset == offsetof(struct ipcd_config, lim.max_clients_per_uid))
                        per_uid = s;
                if (k->set)
                        r = k->set(ctx, text, s, cfg);
                else {
                        r = config_uint(ctx, text, s, k->min, k->max, k->zero_ok, &u);
                        if (r >= 0)
                                field_store(cfg, k, u);
                }
                if (r < 0)
                        return r;
        }

        /*
         * max_clients_per_uid is 1..max_clients.  Set explicitly above that
         * it is an error; inherited (the default 64 with max_clients = 10)
         * it follows max_clients down.
         */
        if (cfg->lim.max_clients_per_uid > cfg->lim.max_clients) {
                if (per_uid)
                        return config_fail(ctx, per_uid,
                                           "max_clients_per_uid = %" PRIu32
                                           ": out of range (1..max_clients = %" PRIu32 ")",
                                           cfg->lim.max_clients_per_uid, cfg->lim.max_clients);
                cfg->lim.max_clients_per_uid = cfg->lim.max_clients;
        }
        return 0;
}

static bool str_equal(const char *a, const char *b)
{
        return (!a || !*a) ? (!b || !*b) : (b && strcmp(a, b) == 0);
}

static bool rings_equal(const struct ipcd_config *a, const struct ipcd_config *b)
{
        if (a->nrings != b->nrings)
                return false;
        for (size_t i = 0; i < a->nrings; i++) {
                const struct ipcd_ring_config *x = &a->rings[i], *y = &b->rings[i];

                if (!str_equal(x->name, y->name) || !str_equal(x->group, y->group) ||
                    x->size != y->size || x->lane_size != y->lane_size ||
                    x->hugepages != y->hugepages)
                        return false;
        }
        return true;
}

static bool policy_equal(const struct policy_rules *a, const struct policy_rules *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                const struct policy_rule *x = &a->rules[i], *y = &b->rules[i];

                if (x->action != y->action || x->allow != y->allow || x->has_uid != y->has_uid ||
                    x->has_gid != y->has_gid || x->has_peer_uid != y->has_peer_uid ||
                    (x->has_uid && x->uid != y->uid) || (x->has_gid && x->gid != y->gid) ||
                    (x->has_peer_uid && x->peer_uid != y->peer_uid) ||
                    !str_equal(x->unit, y->unit) || !str_equal(x->peer_unit, y->peer_unit) ||
                    !str_equal(x->object, y->object) || x->topic != y->topic || x->line != y->line)
                        return false;
        }
        return true;
}

void config_foreach_changed(const struct ipcd_config *old, const struct ipcd_config *new,
                            void (*fn)(const char *key, bool live, void *userdata),
                            void *userdata)
{
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++) {
                const struct config_key *k = &config_keys[i];
                const uint8_t *a = (const uint8_t *)old + k->offset;
                const uint8_t *b = (const uint8_t *)new + k->offset;
                bool same;

                switch (k->value) {
                case VALUE_STRING: {
                        const char *x, *y;

                        memcpy(&x, a, sizeof(x));
                        memcpy(&y, b, sizeof(y));
                        same = str_equal(x, y);
                        break;
                }
                case VALUE_RINGS:
                        same = rings_equal(old, new);
                        break;
                case VALUE_POLICY:
                        same = policy_equal(&old->policy, &new->policy);
                        break;
                case VALUE_UNIT_LIMITS:
                        same = unit_limits_equal(&old->unit_limits, &new->unit_limits);
                        break;
                case VALUE_NONE:
                        same = true; /* not ipcd's */
                        break;
                default:
                        same = memcmp(a, b, k->width) == 0;
                        break;
                }
                if (!same)
                        fn(k->name, k->live, userdata);
        }
}

static void config_destroyp(config_t **c)
{
        if (*c)
                config_destroy(*c);
}

/* Report "file: what" (r a negative errno) and return r. */
static int config_fail_errno(const struct config_ctx *ctx, const char *file, int r)
{
        if (ctx->err && ctx->errlen > 0)
                snprintf(ctx->err, ctx->errlen, "%s: %s", file, strerror(-r));
        return r;
}

/* Read ctx->path's text (libconfig parses it, and integer literals are
 * read back from it, see the top of the file): 1, or 0 when it is
 * absent and need not exist. */
static int config_open(const struct config_ctx *ctx, bool must_exist, char **ret_text)
{
        _cleanup_(fclosep) FILE *f = NULL;
        struct stat st = {};
        size_t len = 0, nul;
        int r;

        f = fopen(ctx->path, "re");
        if (!f) {
                r = negative_errno();
                if (r == -ENOENT && !must_exist)
                        return 0;
                return config_fail_errno(ctx, ctx->path, r);
        }
        if (fstat(fileno(f), &st) < 0 || S_ISDIR(st.st_mode))
                return config_fail_errno(ctx, ctx->path,
                                         S_ISDIR(st.st_mode) ? -EISDIR : negative_errno());
        *ret_text = read_text(f, &len);
        if (!*ret_text || ferror(f)) {
                r = ferror(f) ? -EIO : -ENOMEM;
                free(*ret_text);
                *ret_text = NULL;
                return config_fail_errno(ctx, ctx->path, r);
        }
        /* libconfig reads a string: a NUL byte would end the file there. */
        nul = strlen(*ret_text);
        if (nul != len) {
                unsigned line = 1;

                for (size_t i = 0; i < nul; i++)
                        line += (*ret_text)[i] == '\n';
                if (ctx->err && ctx->errlen > 0)
                        snprintf(ctx->err, ctx->errlen, "%s:%u: a NUL byte", ctx->path, line);
                free(*ret_text);
                *ret_text = NULL;
                return -EINVAL;
        }
        return 1;
}

/* Why libconfig could not read the file: -EIO or -EINVAL, reported. */
static int config_read_failed(const struct config_ctx *ctx, const config_t *lc)
{
        const char *ef = config_error_file(lc);
        const char *what = config_error_text(lc);
        char efbuf[PATH_MAX];

        /* libconfig names an @include'd file as written in the directive */
        if (!ef)
                ef = ctx->path;
        else if (ef[0] != '/' && ctx->include_dir) {
                snprintf(efbuf, sizeof(efbuf), "%s/%s", ctx->include_dir, ef);
                ef = efbuf;
        }
        if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
                if (ctx->err && ctx->errlen > 0)
                        snprintf(ctx->err, ctx->errlen, "%s: %s", ef, what ? what : "I/O error");
                return -EIO;
        }
        if (ctx->err && ctx->errlen > 0)
                snprintf(ctx->err, ctx->errlen, "%s:%d: %s", ef, config_error_line(lc),
                         what ? what : "parse error");
        return -EINVAL;
}

int config_load(struct ipcd_config *cfg, const char *path, bool must_exist, char *err,
                size_t errlen)
{
        struct config_ctx ctx = { .path = path, .err = err, .errlen = errlen };
        _cleanup_free_ char *text = NULL;
        int r;

        if (err && errlen > 0)
                err[0] = '\0';
        if (!cfg || !path)
                return -EINVAL;
        r = config_open(&ctx, must_exist, &text);
        if (r <= 0)
                return r;
        return config_load_text(cfg, path, text, err, errlen);
}

int config_load_text(struct ipcd_config *cfg, const char *path, const char *text, char *err,
                     size_t errlen)
{
        struct config_ctx ctx = { .path = path, .err = err, .errlen = errlen };
        _cleanup_free_ char *dir = NULL;
        _cleanup_(config_destroyp) config_t *lc = NULL;
        config_t lcbuf;
        struct ipcd_config tmp;
        char *slash;
        int r;

        if (err && errlen > 0)
                err[0] = '\0';
        if (!cfg || !path || !text)
                return -EINVAL;

        config_init(&lcbuf);
        lc = &lcbuf;
        /* @include "x" is relative to the file's own directory. */
        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash) {
                slash[slash == dir ? 1 : 0] = '\0';
                config_set_include_dir(lc, dir);
                ctx.include_dir = dir;
        }
        if (config_read_string(lc, text) != CONFIG_TRUE)
                return config_read_failed(&ctx, lc);

        r = config_copy(&tmp, cfg);
        if (r < 0)
                return r;
        r = config_apply(&ctx, text, config_root_setting(lc), &tmp);
        if (r < 0) {
                config_done(&tmp);
                if (err && errlen > 0 && err[0] == '\0')
                        config_fail_errno(&ctx, path, r);
                return r;
        }
        config_done(cfg);
        *cfg = tmp;
        return 0;
}
