/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c - the "bridge" group of ipcd.conf (or of a file of its own),
 * the only libconfig user of ipcd-bridge.  The grammar is in
 * ipcd-bridge(8) and conf/ipcd.conf.  As in ipcd's config.c, unknown keys
 * and values of the wrong type are errors, reported as "file:line:
 * message"; the top-level keys other than "bridge" are ipcd's (only
 * runtime_dir is read, as the ipcd to attach to).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "bridge/bridge.h"
#include "shared/macro.h"

#define MIB (UINT64_C(1) << 20)

struct bctx {
        const char *path;
        char *err;
        size_t errlen;
};

_printf_(3, 4) static int bfail(const struct bctx *x, const config_setting_t *s,
                                const char *fmt, ...)
{
        char msg[400];
        const char *f = s ? config_setting_source_file(s) : NULL;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (s)
                snprintf(x->err, x->errlen, "%s:%u: %s", f ? f : x->path,
                         (unsigned)config_setting_source_line(s), msg);
        else
                snprintf(x->err, x->errlen, "%s: %s", x->path, msg);
        return -EINVAL;
}

static int bstring(const struct bctx *x, const config_setting_t *s, char **field)
{
        const char *v;

        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return bfail(x, s, "%s: expected a string in double quotes",
                             config_setting_name(s) ? config_setting_name(s) : "value");
        v = config_setting_get_string(s);
        free(*field);
        *field = strdup(v ? v : "");
        return *field ? 0 : -ENOMEM;
}

static int bsize(const struct bctx *x, const config_setting_t *s, uint64_t min, uint64_t max,
                 uint64_t *ret)
{
        long long v;

        if (config_setting_type(s) == CONFIG_TYPE_INT64)
                v = config_setting_get_int64(s);
        else if (config_setting_type(s) == CONFIG_TYPE_INT)
                v = config_setting_get_int(s);
        else
                return bfail(x, s, "%s: expected an integer", config_setting_name(s));
        if (v != 0 && (v < 0 || (uint64_t)v < min || (uint64_t)v > max))
                return bfail(x, s, "%s = %lld: out of range (0 or %llu..%llu)",
                             config_setting_name(s), v, (unsigned long long)min,
                             (unsigned long long)max);
        *ret = (uint64_t)v;
        return 0;
}

/* A NATS subject: tokens of printable non-space ASCII separated by '.',
 * none empty; '*' a whole token, '>' the whole last one (wild = allowed). */
static bool subject_ok(const char *s, bool wild)
{
        size_t tok = 0;

        if (!*s || strlen(s) > 255)
                return false;
        for (const char *p = s;; p++) {
                if (*p == '.' || !*p) {
                        if (tok == 0)
                                return false;
                        if (!*p)
                                return true;
                        tok = 0;
                        continue;
                }
                if (*p <= ' ' || *p > '~')
                        return false;
                if ((*p == '*' || *p == '>') &&
                    (!wild || tok != 0 || (p[1] && p[1] != '.') || (*p == '>' && p[1])))
                        return false;
                tok++;
        }
}

static int bservers(const struct bctx *x, const config_setting_t *s, struct bridge_config *c)
{
        int n = config_setting_length(s);

        if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
                return bfail(x, s, "servers: expected [ \"nats://host:port\", ... ]");
        if (n < 1 || n > 64)
                return bfail(x, s, "servers: 1 to 64 URLs");
        c->servers = calloc((size_t)n, sizeof(char *));
        if (!c->servers)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                int r = bstring(x, e, &c->servers[i]);

                c->nservers = (size_t)i + (r == 0);
                if (r < 0)
                        return r;
                if (!strstr(c->servers[i], "://") || strpbrk(c->servers[i], " ,\t"))
                        return bfail(x, e, "servers: \"%s\" is no URL (nats://host:port)",
                                     c->servers[i]);
        }
        return 0;
}

/* A JetStream stream or consumer name: 1..64 of [A-Za-z0-9_-]. */
static bool js_name_ok(const char *s)
{
        size_t n = strlen(s);

        return n > 0 && n <= 64 &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int bexport(const struct bctx *x, const config_setting_t *e, struct bridge_config *c)
{
        const config_setting_t *t;
        char **p = &c->exports[c->nexports];
        struct bridge_export_js *js = &c->export_js[c->nexports];
        const config_setting_t *create = NULL, *replicas = NULL;

        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
                return bfail(x, e, "export: expected ( { topic = \"...\"; }, ... )");
        c->nexports++;
        for (int i = 0; i < config_setting_length(e); i++) {
                const char *k;
                int r;

                t = config_setting_get_elem(e, (unsigned)i);
                k = config_setting_name(t);
                if (strcmp(k, "topic") == 0)
                        r = bstring(x, t, p);
                else if (strcmp(k, "stream") == 0)
                        r = bstring(x, t, &js->stream);
                else if (strcmp(k, "create") == 0) {
                        if (config_setting_type(t) != CONFIG_TYPE_BOOL)
                                return bfail(x, t, "create: expected true or false");
                        js->create = config_setting_get_bool(t);
                        create = t;
                        r = 0;
                } else if (strcmp(k, "replicas") == 0) {
                        r = bsize(x, t, 1, 5, &js->replicas);
                        if (r == 0 && js->replicas == 0)
                                return bfail(x, t, "replicas = 0: out of range (1..5)");
                        replicas = t;
                } else
                        return bfail(x, t, "export: unknown key '%s'", k);
                if (r < 0)
                        return r;
        }
        if (!*p)
                return bfail(x, e, "export: topic missing");
        if (js->stream && !js_name_ok(js->stream))
                return bfail(x, e, "export: stream \"%s\" is no stream name (1..64 of A-Z a-z 0-9 _ -)",
                             js->stream);
        if ((create || replicas) && !js->stream)
                return bfail(x, create ? create : replicas, "export: %s without stream",
                             create ? "create" : "replicas");
        if (replicas && !js->create)
                return bfail(x, replicas, "export: replicas without create = true");
        if (!js->replicas)
                js->replicas = 1;
        if (js->stream)
                c->jetstream = true;
        if (strcmp(*p, "*") != 0 && !ipcd_name_is_valid(*p) && !(strlen(*p) > 2 &&
            strcmp(*p + strlen(*p) - 2, "/*") == 0))
                return bfail(x, e, "export: \"%s\" is no topic pattern (name, name/*, or *)", *p);
        return 0;
}

static int bimport(const struct bctx *x, const config_setting_t *e, struct bridge_config *c)
{
        struct bridge_import *im = &c->imports[c->nimports];

        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
                return bfail(x, e, "import: expected ( { subject = \"...\"; }, ... )");
        c->nimports++;
        const config_setting_t *st = NULL, *du = NULL;
        for (int i = 0; i < config_setting_length(e); i++) {
                const config_setting_t *t = config_setting_get_elem(e, (unsigned)i);
                const char *k = config_setting_name(t);
                int r;

                if (strcmp(k, "subject") == 0)
                        r = bstring(x, t, &im->subject);
                else if (strcmp(k, "strip") == 0)
                        r = bstring(x, t, &im->strip);
                else if (strcmp(k, "stream") == 0)
                        r = bstring(x, (st = t), &im->stream);
                else if (strcmp(k, "durable") == 0)
                        r = bstring(x, (du = t), &im->durable);
                else if (strcmp(k, "ack") == 0) {
                        if (config_setting_type(t) != CONFIG_TYPE_BOOL)
                                return bfail(x, t, "import: ack: expected true or false");
                        im->ack = config_setting_get_bool(t);
                        r = 0;
                } else
                        return bfail(x, t, "import: unknown key '%s'", k);
                if (r < 0)
                        return r;
        }
        if (!im->subject)
                return bfail(x, e, "import: subject missing");
        if (!subject_ok(im->subject, true))
                return bfail(x, e, "import: \"%s\" is no NATS subject", im->subject);
        if (im->strip && *im->strip && !subject_ok(im->strip, false))
                return bfail(x, e, "import: strip \"%s\" is no subject prefix", im->strip);
        if (st && !du)
                return bfail(x, st, "import: stream without durable (a consumer name)");
        if (du && !st)
                return bfail(x, du, "import: durable without stream");
        if (st && !js_name_ok(im->stream))
                return bfail(x, st, "import: stream \"%s\" is no stream name (1..64 of A-Z a-z 0-9 _ -)",
                             im->stream);
        if (du && !js_name_ok(im->durable))
                return bfail(x, du, "import: durable \"%s\" is no consumer name (1..64 of A-Z a-z 0-9 _ -)",
                             im->durable);
        if (st)
                c->jetstream = true;
        return 0;
}

/* A serve or remote mapping: { name = "..."; subject = "..."; } */
static int bcall(const struct bctx *x, const config_setting_t *e, struct bridge_call *bc,
                 const char *what)
{
        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
                return bfail(x, e, "%s: expected ( { name = \"...\"; }, ... )", what);
        for (int i = 0; i < config_setting_length(e); i++) {
                const config_setting_t *t = config_setting_get_elem(e, (unsigned)i);
                const char *k = config_setting_name(t);
                int r;

                if (strcmp(k, "name") == 0)
                        r = bstring(x, t, &bc->name);
                else if (strcmp(k, "subject") == 0)
                        r = bstring(x, t, &bc->subject);
                else
                        return bfail(x, t, "%s: unknown key '%s'", what, k);
                if (r < 0)
                        return r;
        }
        if (!bc->name)
                return bfail(x, e, "%s: name missing", what);
        if (!ipcd_name_is_valid(bc->name) || strchr(bc->name, '/'))
                return bfail(x, e, "%s: \"%s\" is no client name", what, bc->name);
        if (bc->subject && !subject_ok(bc->subject, false))
                return bfail(x, e, "%s: \"%s\" is no NATS subject (no wildcards)", what,
                             bc->subject);
        bc->line = config_setting_source_line(e);
        return 0;
}

static int bcalls(const struct bctx *x, const config_setting_t *s, struct bridge_call **list,
                  size_t *n, const char *what)
{
        int len = config_setting_length(s);

        if (config_setting_type(s) != CONFIG_TYPE_LIST || len > 256)
                return bfail(x, s, "%s: expected a list ( { ... }, ... ) of at most 256", what);
        if (*list)
                return bfail(x, s, "%s given twice", what);
        *list = calloc((size_t)len + 1, sizeof(**list));
        if (!*list)
                return -ENOMEM;
        for (int i = 0; i < len; i++) {
                int r = bcall(x, config_setting_get_elem(s, (unsigned)i), &(*list)[i], what);

                *n = (size_t)i + 1;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int blist(const struct bctx *x, const config_setting_t *s, struct bridge_config *c,
                 bool exp)
{
        int n = config_setting_length(s);

        if (config_setting_type(s) != CONFIG_TYPE_LIST || n > 1024)
                return bfail(x, s, "%s: expected a list ( { ... }, ... ) of at most 1024",
                             exp ? "export" : "import");
        if (exp ? c->exports != NULL : c->imports != NULL)
                return bfail(x, s, "%s given twice", exp ? "export" : "import");
        if (exp) {
                c->exports = calloc((size_t)n + 1, sizeof(char *));
                c->export_js = calloc((size_t)n + 1, sizeof(*c->export_js));
        } else
                c->imports = calloc((size_t)n + 1, sizeof(*c->imports));
        if (exp ? !c->exports || !c->export_js : !c->imports)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                int r = (exp ? bexport : bimport)(x, config_setting_get_elem(s, (unsigned)i), c);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int bkey(const struct bctx *x, const config_setting_t *s, struct bridge_config *c)
{
        const char *k = config_setting_name(s);
        static const struct { const char *name; size_t off; } strs[] = {
                { "user", offsetof(struct bridge_config, user) },
                { "password", offsetof(struct bridge_config, password) },
                { "token", offsetof(struct bridge_config, token) },
                { "tls_ca", offsetof(struct bridge_config, tls_ca) },
                { "tls_cert", offsetof(struct bridge_config, tls_cert) },
                { "tls_key", offsetof(struct bridge_config, tls_key) },
                { "subject_prefix", offsetof(struct bridge_config, subject_prefix) },
                { "name", offsetof(struct bridge_config, name) },
                { "host", offsetof(struct bridge_config, host) },
        };

        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                if (strcmp(k, strs[i].name) == 0)
                        return bstring(x, s, (char **)((char *)c + strs[i].off));
        if (strcmp(k, "servers") == 0)
                return bservers(x, s, c);
        if (strcmp(k, "export") == 0 || strcmp(k, "import") == 0)
                return blist(x, s, c, k[0] == 'e');
        if (strcmp(k, "serve") == 0)
                return bcalls(x, s, &c->serves, &c->nserves, "serve");
        if (strcmp(k, "remote") == 0)
                return bcalls(x, s, &c->remotes, &c->nremotes, "remote");
        if (strcmp(k, "calls") == 0)
                return bsize(x, s, 1, 64, &c->calls);
        if (strcmp(k, "call_timeout_ms") == 0)
                return bsize(x, s, 10, 3600 * 1000, &c->call_timeout_ms);
        if (strcmp(k, "js_inflight") == 0)
                return bsize(x, s, 1, 65536, &c->js_inflight);
        if (strcmp(k, "js_ack_timeout_ms") == 0)
                return bsize(x, s, 50, 600 * 1000, &c->js_ack_timeout_ms);
        if (strcmp(k, "buffer_bytes") == 0)
                return bsize(x, s, 4096, 1024 * MIB, &c->buffer_bytes);
        if (strcmp(k, "max_payload") == 0)
                return bsize(x, s, 1, 64 * MIB, &c->max_payload);
        if (strcmp(k, "send_asap") == 0) {
                if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                        return bfail(x, s, "send_asap: expected true or false");
                c->send_asap = config_setting_get_bool(s);
                return 0;
        }
        if (strcmp(k, "tls") == 0) {
                if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                        return bfail(x, s, "tls: expected true or false");
                c->tls = config_setting_get_bool(s);
                return 0;
        }
        return bfail(x, s, "bridge: unknown key '%s'", k);
}

/* What the group says as a whole. */
static int bcheck(const struct bctx *x, const config_setting_t *g, struct bridge_config *c)
{
        if (!c->nservers)
                return bfail(x, g, "bridge: servers missing");
        if (c->subject_prefix && *c->subject_prefix && !subject_ok(c->subject_prefix, false))
                return bfail(x, g, "bridge: subject_prefix \"%s\" is no subject",
                             c->subject_prefix);
        if (c->name && !ipcd_name_is_valid(c->name))
                return bfail(x, g, "bridge: name \"%s\" is no valid client name", c->name);
        if (c->token && c->user)
                return bfail(x, g, "bridge: user/password and token exclude each other");
        if (c->host && !mapping_text_ok(c->host, 64))
                return bfail(x, g, "bridge: host must be 1..63 printable characters");
        for (size_t i = 0; i < c->nimports; i++)
                for (size_t j = 0; j < i; j++)
                        if (c->imports[i].durable && c->imports[j].durable &&
                            strcmp(c->imports[i].stream, c->imports[j].stream) == 0 &&
                            strcmp(c->imports[i].durable, c->imports[j].durable) == 0)
                                return bfail(x, g, "import: durable \"%s\" of stream \"%s\" given twice",
                                             c->imports[i].durable, c->imports[i].stream);
        for (size_t i = 0; i < c->nexports; i++) {
                const char *t = c->exports[i];

                if (c->export_js[i].create && strcmp(t, "*") == 0 &&
                    (!c->subject_prefix || !*c->subject_prefix))
                        return bfail(x, g, "export: create of stream \"%s\" for \"*\" needs a subject_prefix",
                                     c->export_js[i].stream);
                for (size_t j = 0; j < i; j++)
                        if (c->export_js[i].create && c->export_js[j].create &&
                            strcmp(c->export_js[i].stream, c->export_js[j].stream) == 0 &&
                            c->export_js[i].replicas != c->export_js[j].replicas)
                                return bfail(x, g, "export: stream \"%s\" created with two replicas counts",
                                             c->export_js[i].stream);
        }
        for (size_t i = 0; i < c->nremotes; i++) {
                if (c->name && strcmp(c->remotes[i].name, c->name) == 0)
                        return bfail(x, g, "remote: \"%s\" is the bridge's own name", c->name);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(c->remotes[i].name, c->remotes[j].name) == 0)
                                return bfail(x, g, "remote: \"%s\" given twice",
                                             c->remotes[i].name);
        }
        return 0;
}

/* The default subject of a serve or remote mapping: <prefix>.call.<name>. */
static int bcall_subjects(struct bridge_config *c, struct bridge_call *list, size_t n, char *err,
                          size_t errlen, const char *path)
{
        for (size_t i = 0; i < n; i++) {
                char s[300];

                if (list[i].subject)
                        continue;
                snprintf(s, sizeof(s), "%s%scall.%s", c->subject_prefix,
                         *c->subject_prefix ? "." : "", list[i].name);
                if (!subject_ok(s, false)) {
                        snprintf(err, errlen, "%s:%d: \"%s\" makes no NATS subject: give one",
                                 path, list[i].line, list[i].name);
                        return -EINVAL;
                }
                if (!(list[i].subject = strdup(s)))
                        return -ENOMEM;
        }
        return 0;
}

static int bdefaults(struct bridge_config *c)
{
        char host[64] = "";

        if (!c->subject_prefix && !(c->subject_prefix = strdup("")))
                return -ENOMEM;
        if (!c->name && !(c->name = strdup("ipcd-bridge")))
                return -ENOMEM;
        if (!c->host) {
                gethostname(host, sizeof(host) - 1);
                if (!mapping_text_ok(host, 64) || !*host)
                        strcpy(host, "localhost");
                if (!(c->host = strdup(host)))
                        return -ENOMEM;
        }
        if (!c->buffer_bytes)
                c->buffer_bytes = 8 * MIB;
        if (!c->calls)
                c->calls = 4;
        if (!c->call_timeout_ms)
                c->call_timeout_ms = 30000;
        if (!c->js_inflight)
                c->js_inflight = 256;
        if (!c->js_ack_timeout_ms)
                c->js_ack_timeout_ms = 2000;
        return 0;
}

static void config_destroyp(config_t **c)
{
        if (*c)
                config_destroy(*c);
}

static int bgroup(const struct bctx *x, config_t *lc, struct bridge_config *c)
{
        const config_setting_t *g = config_lookup(lc, "bridge");
        const config_setting_t *rd = config_lookup(lc, "runtime_dir");
        int r;

        if (rd && (r = bstring(x, rd, &c->runtime_dir)) < 0)
                return r;
        if (!g)
                return bfail(x, NULL, "no bridge = { ... }; group");
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                return bfail(x, g, "bridge: expected a group { ... }");
        for (int i = 0; i < config_setting_length(g); i++) {
                r = bkey(x, config_setting_get_elem(g, (unsigned)i), c);
                if (r < 0)
                        return r;
        }
        r = bcheck(x, g, c);
        if (r == 0)
                r = bdefaults(c);
        if (r == 0)
                r = bcall_subjects(c, c->serves, c->nserves, x->err, x->errlen, x->path);
        if (r == 0)
                r = bcall_subjects(c, c->remotes, c->nremotes, x->err, x->errlen, x->path);
        return r;
}

int bridge_config_load(struct bridge_config *cfg, const char *path, char *err, size_t errlen)
{
        struct bctx x = { .path = path, .err = err, .errlen = errlen };
        _cleanup_(config_destroyp) config_t *lc = NULL;
        config_t lcbuf;
        char *dir, *slash;
        int r;

        err[0] = '\0';
        *cfg = (struct bridge_config){};
        config_init(&lcbuf);
        lc = &lcbuf;
        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash) {
                slash[slash == dir ? 1 : 0] = '\0';
                config_set_include_dir(lc, dir);
        }
        if (config_read_file(lc, path) != CONFIG_TRUE) {
                if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
                        snprintf(err, errlen, "%s: cannot read the file", path);
                else
                        snprintf(err, errlen, "%s:%d: %s",
                                 config_error_file(lc) ? config_error_file(lc) : path,
                                 config_error_line(lc), config_error_text(lc));
                free(dir);
                return -EINVAL;
        }
        r = bgroup(&x, lc, cfg);
        free(dir);
        if (r < 0) {
                if (!err[0])
                        snprintf(err, errlen, "%s: %s", path, strerror(-r));
                bridge_config_done(cfg);
        }
        return r;
}

void bridge_config_done(struct bridge_config *c)
{
        for (size_t i = 0; i < c->nservers; i++)
                free(c->servers[i]);
        for (size_t i = 0; i < c->nexports; i++) {
                free(c->exports[i]);
                free(c->export_js[i].stream);
        }
        for (size_t i = 0; i < c->nimports; i++) {
                free(c->imports[i].subject);
                free(c->imports[i].strip);
                free(c->imports[i].stream);
                free(c->imports[i].durable);
        }
        free(c->export_js);
        for (size_t i = 0; i < c->nserves; i++) {
                free(c->serves[i].name);
                free(c->serves[i].subject);
        }
        for (size_t i = 0; i < c->nremotes; i++) {
                free(c->remotes[i].name);
                free(c->remotes[i].subject);
        }
        free(c->serves);
        free(c->remotes);
        free(c->servers);
        free(c->exports);
        free(c->imports);
        free(c->user);
        free(c->password);
        free(c->token);
        free(c->tls_ca);
        free(c->tls_cert);
        free(c->tls_key);
        free(c->subject_prefix);
        free(c->name);
        free(c->host);
        free(c->runtime_dir);
        *c = (struct bridge_config){};
}
