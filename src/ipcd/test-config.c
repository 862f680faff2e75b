/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-config - config.c against real files: defaults, every key, unknown
 * keys with their line, wrong types, ranges, missing files, libconfig
 * syntax errors, and that a failed load leaves the configuration alone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ipcd/config.h"
#include "shared/macro.h"
#include "shared/wire.h"
#include "shared/test-util.h"

static char tmpdir[] = "/tmp/test-config.XXXXXX";
static char path[4096];

/* Write text to the test file (path) and return path. */
static const char *write_file(const char *text)
{
        FILE *f = fopen(path, "we");

        if (!f) {
                perror(path);
                exit(1);
        }
        fputs(text, f);
        if (fclose(f) != 0) {
                perror(path);
                exit(1);
        }
        return path;
}

/* "PATH:LINE: msg" for the test file. */
static const char *at(unsigned line, const char *fmt, ...) _printf_(2, 3);
static const char *at(unsigned line, const char *fmt, ...)
{
        static char buf[8192];
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(buf, sizeof(buf), "%s:%u: %s", path, line, msg);
        return buf;
}

/* Load text onto fresh defaults; returns config_load's result, err filled. */
static int load_text(struct ipcd_config *cfg, const char *text, char *err, size_t errlen)
{
        int r = config_set_defaults(cfg);

        if (r < 0) {
                fprintf(stderr, "config_set_defaults: %s\n", strerror(-r));
                exit(1);
        }
        return config_load(cfg, write_file(text), true, err, errlen);
}

/* Expect text to fail with exactly the message expected. */
static void expect_error(const char *text, const char *expected, int line)
{
        struct ipcd_config cfg;
        char err[1024];
        int r;

        r = load_text(&cfg, text, err, sizeof(err));
        if (r != -EINVAL || strcmp(err, expected) != 0) {
                fprintf(stderr, "%s:%d: for\n%s\nexpected -EINVAL \"%s\", got %d \"%s\"\n",
                        __FILE__, line, text, expected, r, err);
                failures++;
        }
        config_done(&cfg);
}
#define EXPECT_ERROR(text, expected) expect_error(text, expected, __LINE__)

static void check_defaults(const struct ipcd_config *cfg)
{
        CHECK_STR(cfg->runtime_dir, "/run/ipcd");
        CHECK(cfg->log_level == LOG_INFO);
        CHECK(cfg->clients_group == NULL);
        CHECK(cfg->lim.max_clients == 4096);
        CHECK(cfg->lim.max_clients_per_uid == 64);
        CHECK(cfg->max_message_size == 0);
        CHECK(cfg->lim.queue_bytes == 262144);
        CHECK(cfg->lim.inbound_queue_bytes == 1048576);
        CHECK(cfg->lim.backlog_bytes == 1024 * 1024);
        CHECK(cfg->lim.flow_window == 0); /* backlog_bytes */
        CHECK(cfg->lim.flow_client == 0); /* four windows */
        CHECK(cfg->lim.backlog_total_bytes == 64 * 1024 * 1024);
        CHECK(cfg->lim.registration_rate == 50);
        CHECK(cfg->lim.registration_burst == 100);
        CHECK(cfg->lim.max_subscriptions == 256);
        CHECK(cfg->lim.history_per_topic == 64);
        CHECK(cfg->lim.history_total == 65536);
        CHECK(cfg->lim.history_per_uid == 16384);
        CHECK(cfg->lim.history_total_bytes == 64 * 1024 * 1024);
        CHECK(cfg->lim.overflow_policy == WIRE_OVERFLOW_DROP_NEW);
        CHECK(cfg->lim.lanes_per_uid == 0);
        CHECK(cfg->lim.held_bytes == 0);
        CHECK(cfg->lim.garbage_kick == 1000);
        CHECK(cfg->lim.max_calls == 4096);
        CHECK(cfg->lim.max_held_chunks == 4096);
        CHECK(cfg->name_grace_ms == 10000);
        CHECK(cfg->parked_bytes == 4 * 1024 * 1024);
        CHECK(cfg->parked_bytes_per_uid == 1024 * 1024);
}

static void test_defaults(void)
{
        struct ipcd_config cfg;
        char err[1024] = "x";

        CHECK(config_set_defaults(&cfg) == 0);
        check_defaults(&cfg);
        config_done(&cfg);
        config_done(&cfg); /* idempotent */

        /* An empty file and one with only comments change nothing. */
        CHECK(load_text(&cfg, "", err, sizeof(err)) == 0);
        CHECK_STR(err, "");
        check_defaults(&cfg);
        config_done(&cfg);
        CHECK(load_text(&cfg, "# comment\n// another\n/* and a\n block */\n", err,
                        sizeof(err)) == 0);
        check_defaults(&cfg);
        config_done(&cfg);
}

static void test_missing(void)
{
        struct ipcd_config cfg;
        char missing[4200], err[4400], expected[4400];

        snprintf(missing, sizeof(missing), "%s/no-such.conf", tmpdir);

        CHECK(config_set_defaults(&cfg) == 0);
        CHECK(config_load(&cfg, missing, false, err, sizeof(err)) == 0);
        CHECK_STR(err, "");
        check_defaults(&cfg);

        CHECK(config_load(&cfg, missing, true, err, sizeof(err)) == -ENOENT);
        snprintf(expected, sizeof(expected), "%s: %s", missing, strerror(ENOENT));
        CHECK_STR(err, expected);
        check_defaults(&cfg);

        /* A directory is not a config file, even when it need not exist. */
        CHECK(config_load(&cfg, tmpdir, false, err, sizeof(err)) < 0);
        CHECK(strncmp(err, tmpdir, strlen(tmpdir)) == 0);
        check_defaults(&cfg);

        /* err may be NULL. */
        CHECK(config_load(&cfg, missing, true, NULL, 0) == -ENOENT);
        config_done(&cfg);
}

static void test_every_key(void)
{
        struct ipcd_config cfg;
        char err[1024];

        CHECK(load_text(&cfg,
                        "# every key\n"
                        "runtime_dir = \"/run/ipcd-test\";\n"
                        "log_level = \"debug\";\n"
                        "clients_group = \"root\";\n"
                        "max_clients = 100;\n"
                        "max_clients_per_uid = 10;\n"
                        "max_message_size = 4096;\n"
                        "queue_bytes = 65536;\n"
                        "inbound_queue_bytes = 131072;\n"
                        "backlog_bytes = 2097152;\n"
                        "backlog_total_bytes = 134217728L;\n"
                        "flow_window_bytes = 262144;\n"
                        "flow_client_bytes = 8388608;\n"
                        "registration_rate = 5;\n"
                        "max_subscriptions = 9;\n"
                        "history_per_topic = 0;\n"
                        "history_total = 1000;\n"
                        "history_total_bytes = 4294967296;\n"
                        "overflow_policy = \"drop-old\";\n"
                        "garbage_kick = 0;\n"
                        "max_calls = 11;\n"
                        "max_held_chunks = 12;\n"
                        "lanes_per_uid = 3;\n"
                        "bulk_held_bytes = 8192;\n"
                        "registration_burst : 7\n",
                        err, sizeof(err)) == 0);
        CHECK_STR(err, "");
        CHECK_STR(cfg.runtime_dir, "/run/ipcd-test");
        CHECK(cfg.log_level == LOG_DEBUG);
        CHECK_STR(cfg.clients_group, "root");
        CHECK(cfg.lim.max_clients == 100);
        CHECK(cfg.lim.max_clients_per_uid == 10);
        CHECK(cfg.max_message_size == 4096);
        CHECK(cfg.lim.queue_bytes == 65536);
        CHECK(cfg.lim.inbound_queue_bytes == 131072);
        CHECK(cfg.lim.backlog_bytes == 2097152);
        CHECK(cfg.lim.backlog_total_bytes == 134217728);
        CHECK(cfg.lim.flow_window == 262144);
        CHECK(cfg.lim.flow_client == 8388608);
        CHECK(cfg.lim.registration_rate == 5);
        CHECK(cfg.lim.registration_burst == 7);
        CHECK(cfg.lim.max_subscriptions == 9);
        CHECK(cfg.lim.history_per_topic == 0);
        CHECK(cfg.lim.history_total == 1000);
        CHECK(cfg.lim.history_total_bytes == UINT64_C(4294967296));
        CHECK(cfg.lim.overflow_policy == WIRE_OVERFLOW_DROP_OLD);
        CHECK(cfg.lim.garbage_kick == 0);
        CHECK(cfg.lim.max_calls == 11);
        CHECK(cfg.lim.max_held_chunks == 12);
        CHECK(cfg.lim.lanes_per_uid == 3);
        CHECK(cfg.lim.held_bytes == 8192);
        config_done(&cfg);
        CHECK(load_text(&cfg, "overflow_policy = \"drop-new\";\n", err, sizeof(err)) == 0);
        CHECK(cfg.lim.overflow_policy == WIRE_OVERFLOW_DROP_NEW);
        config_done(&cfg);

        /* Every log level by name; clients_group "" means unset. */
        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "error", LOG_ERR },   { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
                { "info", LOG_INFO },   { "debug", LOG_DEBUG },     { "DEBUG", LOG_DEBUG },
        };
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                char text[256];

                snprintf(text, sizeof(text), "log_level = \"%s\";\nclients_group = \"\";\n",
                         levels[i].name);
                CHECK(load_text(&cfg, text, err, sizeof(err)) == 0);
                CHECK(cfg.log_level == levels[i].level);
                CHECK(cfg.clients_group == NULL);
                config_done(&cfg);
        }
}

static void test_integers(void)
{
        struct ipcd_config cfg;
        char err[1024];

        /* Bounds are inclusive; 0 is allowed where documented. */
        CHECK(load_text(&cfg,
                        "max_clients = 65536; max_clients_per_uid = 65536;\n"
                        "max_message_size = 16777216;\n"
                        "queue_bytes = 1024; inbound_queue_bytes = 1073741824;\n"
                        "backlog_bytes = 0; backlog_total_bytes = 0;\n"
                        "registration_rate = 1000000; registration_burst = 1;\n",
                        err, sizeof(err)) == 0);
        CHECK_STR(err, "");
        CHECK(cfg.lim.max_clients == 65536);
        CHECK(cfg.lim.max_clients_per_uid == 65536);
        CHECK(cfg.max_message_size == 16777216);
        CHECK(cfg.lim.queue_bytes == 1024);
        CHECK(cfg.lim.inbound_queue_bytes == 1073741824);
        CHECK(cfg.lim.backlog_bytes == 0);
        CHECK(cfg.lim.backlog_total_bytes == 0);
        CHECK(cfg.lim.registration_rate == 1000000);
        CHECK(cfg.lim.registration_burst == 1);
        config_done(&cfg);

        /* int64 literals, hex, max_message_size 0 = the kernel's limit. */
        CHECK(load_text(&cfg,
                        "max_clients = 16L;\nmax_message_size = 0;\n"
                        "backlog_bytes = 0x100000;\nqueue_bytes = 0x4000L;\n",
                        err, sizeof(err)) == 0);
        CHECK(cfg.lim.max_clients == 16);
        CHECK(cfg.max_message_size == 0);
        CHECK(cfg.lim.backlog_bytes == 0x100000);
        CHECK(cfg.lim.queue_bytes == 0x4000);
        /* the default per-uid limit (64) follows a smaller max_clients down */
        CHECK(cfg.lim.max_clients_per_uid == 16);
        config_done(&cfg);

        /*
         * Beyond 32 bits without the L suffix: libconfig 1.5 would wrap
         * 4294967296 to 0 (and 8589934592 too); config.c reads the literal.
         */
        CHECK(load_text(&cfg, "backlog_total_bytes = 8589934592;\n", err, sizeof(err)) == 0);
        CHECK(cfg.lim.backlog_total_bytes == UINT64_C(8589934592));
        config_done(&cfg);
        CHECK(load_text(&cfg, "max_clients = 3; backlog_total_bytes =\n    4294967296 ;\n", err,
                        sizeof(err)) == 0);
        CHECK(cfg.lim.backlog_total_bytes == UINT64_C(4294967296));
        config_done(&cfg);
        CHECK(load_text(&cfg, "backlog_total_bytes = 8589934592L;\n", err, sizeof(err)) == 0);
        CHECK(cfg.lim.backlog_total_bytes == UINT64_C(8589934592));
        config_done(&cfg);
        EXPECT_ERROR("\nbacklog_bytes = 4294967296;\n",
                     at(2, "backlog_bytes = 4294967296: out of range (0..1073741824)"));
        EXPECT_ERROR("queue_bytes = 0x100000000;\n",
                     at(1, "queue_bytes = 4294967296: out of range (1024..1073741824)"));
        EXPECT_ERROR("backlog_bytes = 99999999999999999999999;\n",
                     at(1, "backlog_bytes: integer too large"));
}

static void test_ranges(void)
{
        EXPECT_ERROR("max_clients = 0;\n", at(1, "max_clients = 0: out of range (1..65536)"));
        EXPECT_ERROR("max_clients = 65537;\n",
                     at(1, "max_clients = 65537: out of range (1..65536)"));
        EXPECT_ERROR("max_clients = -1;\n", at(1, "max_clients = -1: out of range (1..65536)"));
        EXPECT_ERROR("max_clients_per_uid = 0;\n",
                     at(1, "max_clients_per_uid = 0: out of range (1..65536)"));
        EXPECT_ERROR("max_clients = 10;\nmax_clients_per_uid = 11;\n",
                     at(2, "max_clients_per_uid = 11: out of range (1..max_clients = 10)"));
        EXPECT_ERROR("max_clients_per_uid = 11;\nmax_clients = 10;\n",
                     at(1, "max_clients_per_uid = 11: out of range (1..max_clients = 10)"));
        EXPECT_ERROR("max_message_size = 16777217;\n",
                     at(1, "max_message_size = 16777217: out of range (0 or 1..16777216)"));
        EXPECT_ERROR("max_message_size = -5;\n",
                     at(1, "max_message_size = -5: out of range (0 or 1..16777216)"));
        EXPECT_ERROR("queue_bytes = 1023;\n",
                     at(1, "queue_bytes = 1023: out of range (1024..1073741824)"));
        EXPECT_ERROR("inbound_queue_bytes = 1073741825;\n",
                     at(1, "inbound_queue_bytes = 1073741825: out of range (1024..1073741824)"));
        EXPECT_ERROR("backlog_bytes = 1073741825;\n",
                     at(1, "backlog_bytes = 1073741825: out of range (0..1073741824)"));
        EXPECT_ERROR("backlog_total_bytes = 1099511627777L;\n",
                     at(1, "backlog_total_bytes = 1099511627777: out of range "
                           "(0..1099511627776)"));
        EXPECT_ERROR("registration_rate = 0;\n",
                     at(1, "registration_rate = 0: out of range (1..1000000)"));
        EXPECT_ERROR("registration_burst = 1000001;\n",
                     at(1, "registration_burst = 1000001: out of range (1..1000000)"));
        EXPECT_ERROR("max_subscriptions = 0;\n",
                     at(1, "max_subscriptions = 0: out of range (1..65536)"));
        EXPECT_ERROR("max_subscriptions = 65537;\n",
                     at(1, "max_subscriptions = 65537: out of range (1..65536)"));
        EXPECT_ERROR("history_per_topic = 65537;\n",
                     at(1, "history_per_topic = 65537: out of range (0..65536)"));
        EXPECT_ERROR("history_total = 16777217;\n",
                     at(1, "history_total = 16777217: out of range (0..16777216)"));
        EXPECT_ERROR("history_total_bytes = 4294967297;\n",
                     at(1, "history_total_bytes = 4294967297: out of range (0..4294967296)"));
        EXPECT_ERROR("garbage_kick = 1000001;\n",
                     at(1, "garbage_kick = 1000001: out of range (0 or 1..1000000)"));
        EXPECT_ERROR("max_calls = 0;\n", at(1, "max_calls = 0: out of range (1..1048576)"));
        EXPECT_ERROR("max_held_chunks = 1048577;\n",
                     at(1, "max_held_chunks = 1048577: out of range (1..1048576)"));
        EXPECT_ERROR("overflow_policy = \"drop\";\n",
                     at(1, "overflow_policy \"drop\": expected \"drop-new\" or \"drop-old\""));
        EXPECT_ERROR("overflow_policy = 1;\n",
                     at(1, "overflow_policy: expected a string in double quotes"));
        EXPECT_ERROR("log_level = \"verbose\";\n",
                     at(1, "log_level \"verbose\": expected one of error, warning, notice, "
                           "info, debug"));
        EXPECT_ERROR("log_level = \"emerg\";\n",
                     at(1, "log_level \"emerg\": expected one of error, warning, notice, "
                           "info, debug"));
        EXPECT_ERROR("runtime_dir = \"run/ipcd\";\n",
                     at(1, "runtime_dir \"run/ipcd\": must be an absolute path"));
        EXPECT_ERROR("runtime_dir = \"\";\n", at(1, "runtime_dir \"\": must be an absolute path"));
        EXPECT_ERROR("clients_group = \"no-such-group-ipcd-test\";\n",
                     at(1, "clients_group \"no-such-group-ipcd-test\": no such group"));
}

static void test_types(void)
{
        EXPECT_ERROR("max_clients = \"10\";\n", at(1, "max_clients: expected an integer"));
        EXPECT_ERROR("\n\nqueue_bytes = 1.5;\n", at(3, "queue_bytes: expected an integer"));
        EXPECT_ERROR("backlog_bytes = true;\n", at(1, "backlog_bytes: expected an integer"));
        EXPECT_ERROR("registration_rate = [1, 2];\n",
                     at(1, "registration_rate: expected an integer"));
        EXPECT_ERROR("runtime_dir = 5;\n", at(1, "runtime_dir: expected a string in double quotes"));
        EXPECT_ERROR("log_level = 7;\n", at(1, "log_level: expected a string in double quotes"));
        EXPECT_ERROR("clients_group = { name = \"x\"; };\n",
                     at(1, "clients_group: expected a string in double quotes"));
}

static void test_unknown(void)
{
        EXPECT_ERROR("max_clients = 10;\n# comment\nbogus = 1;\n", at(3, "unknown key 'bogus'"));
        EXPECT_ERROR("/* a\n   block */\n\n\nMax_Clients = 10;\n",
                     at(5, "unknown key 'Max_Clients'"));
        EXPECT_ERROR("log_level = \"info\"; limits = { max_clients = 5; };\n",
                     at(1, "unknown key 'limits'"));
}

/* A NUL byte ends nothing: the file is refused with its line. */
static void nul_byte(void)
{
        static const char text[] = "max_clients = 10;\n\nmax_clients = 11;\0\n";
        struct ipcd_config cfg;
        char err[4400];
        FILE *f = fopen(path, "we");

        CHECK(f && fwrite(text, 1, sizeof(text) - 1, f) == sizeof(text) - 1 && fclose(f) == 0);
        CHECK(config_set_defaults(&cfg) == 0);
        CHECK(config_load(&cfg, path, true, err, sizeof(err)) == -EINVAL);
        CHECK_STR(err, at(3, "a NUL byte"));
        CHECK(cfg.lim.max_clients == 4096);
        config_done(&cfg);
}

static void test_syntax(void)
{
        EXPECT_ERROR("max_clients = 10;\nqueue_bytes = ;\n", at(2, "syntax error"));
        EXPECT_ERROR("max_clients = 10;\nmax_clients = 11;\n", at(2, "duplicate setting name"));
        EXPECT_ERROR("\n\nmax_clients == 5;\n", at(3, "syntax error"));
        nul_byte();
}

/* @include "x" is read relative to the including file's directory; errors
 * and 64-bit literals in it are handled as in the main file. */
static void test_include(void)
{
        struct ipcd_config cfg;
        char inc[4200], err[4400], expected[4400];
        FILE *f;

        snprintf(inc, sizeof(inc), "%s/inc.conf", tmpdir);
        f = fopen(inc, "we");
        CHECK(f != NULL);
        if (!f)
                return;
        fputs("max_clients = 12;\nbacklog_total_bytes = 8589934592;\n", f);
        CHECK(fclose(f) == 0);
        CHECK(load_text(&cfg, "log_level = \"debug\";\n@include \"inc.conf\"\n", err,
                        sizeof(err)) == 0);
        CHECK_STR(err, "");
        CHECK(cfg.log_level == LOG_DEBUG);
        CHECK(cfg.lim.max_clients == 12);
        CHECK(cfg.lim.backlog_total_bytes == UINT64_C(8589934592));
        config_done(&cfg);

        f = fopen(inc, "we");
        CHECK(f != NULL);
        if (!f)
                return;
        fputs("# included\n\nmax_clientz = 12;\n", f);
        CHECK(fclose(f) == 0);
        CHECK(load_text(&cfg, "@include \"inc.conf\"\n", err, sizeof(err)) == -EINVAL);
        snprintf(expected, sizeof(expected), "%s:3: unknown key 'max_clientz'", inc);
        CHECK_STR(err, expected);
        config_done(&cfg);

        /* A syntax error in it, and a missing include. */
        f = fopen(inc, "we");
        CHECK(f != NULL);
        if (!f)
                return;
        fputs("\nmax_clients = = 1;\n", f);
        CHECK(fclose(f) == 0);
        CHECK(load_text(&cfg, "@include \"inc.conf\"\n", err, sizeof(err)) == -EINVAL);
        snprintf(expected, sizeof(expected), "%s:2: syntax error", inc);
        CHECK_STR(err, expected);
        config_done(&cfg);
        unlink(inc);
        /* reported at the directive */
        CHECK(load_text(&cfg, "\n@include \"inc.conf\"\n", err, sizeof(err)) < 0);
        CHECK(strncmp(err, at(2, "%s", ""), strlen(at(2, "%s", ""))) == 0);
        config_done(&cfg);
}

/* A failed load leaves what was there; a successful one keeps absent keys. */
static void test_all_or_nothing(void)
{
        struct ipcd_config cfg;
        char err[1024];

        CHECK(load_text(&cfg,
                        "runtime_dir = \"/run/a\";\nclients_group = \"root\";\nmax_clients = 7;\n",
                        err, sizeof(err)) == 0);
        CHECK(config_load(&cfg,
                          write_file("runtime_dir = \"/run/b\";\nclients_group = \"\";\n"
                                     "max_clients = 8;\nqueue_bytes = 1;\n"),
                          true, err, sizeof(err)) == -EINVAL);
        CHECK_STR(err, at(4, "queue_bytes = 1: out of range (1024..1073741824)"));
        CHECK_STR(cfg.runtime_dir, "/run/a");
        CHECK_STR(cfg.clients_group, "root");
        CHECK(cfg.lim.max_clients == 7);
        CHECK(cfg.lim.queue_bytes == 262144);

        CHECK(config_load(&cfg, write_file("max_clients = 9;\n"), true, err, sizeof(err)) == 0);
        CHECK_STR(cfg.runtime_dir, "/run/a");
        CHECK_STR(cfg.clients_group, "root");
        CHECK(cfg.lim.max_clients == 9);
        config_done(&cfg);
}

/*
 * The shipped example must load as is (every key commented out: the
 * defaults apply) and with every "#key = value;" line uncommented: the
 * values it documents must be the built-in defaults.
 */
static void test_shipped(void)
{
        const char *srcdir = getenv("top_srcdir");
        struct ipcd_config cfg;
        char p[4096], err[4400], line[1024];
        unsigned nkeys = 0;
        FILE *in, *out;

        if (!srcdir) {
                printf("note: top_srcdir not set, conf/ipcd.conf not checked\n");
                return;
        }
        snprintf(p, sizeof(p), "%s/conf/ipcd.conf", srcdir);
        CHECK(config_set_defaults(&cfg) == 0);
        CHECK(config_load(&cfg, p, true, err, sizeof(err)) == 0);
        if (err[0])
                fprintf(stderr, "%s\n", err);
        check_defaults(&cfg);
        config_done(&cfg);

        in = fopen(p, "re");
        out = fopen(path, "we");
        CHECK(in && out);
        if (!in || !out) {
                if (in)
                        fclose(in);
                if (out)
                        fclose(out);
                return;
        }
        while (fgets(line, sizeof(line), in)) {
                size_t k = 1;

                while (line[0] == '#' && ((line[k] >= 'a' && line[k] <= 'z') || line[k] == '_'))
                        k++;
                if (line[0] == '#' && k > 1 && strncmp(line + k, " = ", 3) == 0) {
                        fputs(line + 1, out);
                        nkeys++;
                } else
                        fputs(line, out);
        }
        fclose(in);
        CHECK(fclose(out) == 0);
        CHECK(nkeys == 32); /* every key of struct ipcd_config */
        CHECK(config_set_defaults(&cfg) == 0);
        CHECK(config_load(&cfg, path, true, err, sizeof(err)) == 0);
        if (err[0])
                fprintf(stderr, "%s\n", err);
        check_defaults(&cfg);
        config_done(&cfg);
}

static void test_rings(void)
{
        struct ipcd_config cfg;
        char err[1024];

        CHECK(config_set_defaults(&cfg) == 0);
        CHECK(cfg.nrings == 0 && cfg.lim.lanes_per_uid == 0);
        config_done(&cfg);
        CHECK(load_text(&cfg,
                        "lanes_per_uid = 2;\n"
                        "rings = ( { name = \"video\"; size = 268435456L; lane_size = 16777216; },\n"
                        "          { name = \"small\"; size = 1048576; lane_size = 65536;\n"
                        "            group = \"root\"; hugepages = false; } );\n",
                        err, sizeof(err)) == 0);
        CHECK(cfg.lim.lanes_per_uid == 2);
        CHECK(cfg.nrings == 2);
        CHECK_STR(cfg.rings[0].name, "video");
        CHECK(cfg.rings[0].size == 268435456ULL && cfg.rings[0].lane_size == 16777216);
        CHECK(cfg.rings[0].group == NULL && !cfg.rings[0].hugepages);
        CHECK_STR(cfg.rings[1].group, "root");
        CHECK(cfg.rings[1].lane_size == 65536);
        config_done(&cfg);

        /* Errors name their line; a failed load leaves no rings. */
        CHECK(load_text(&cfg, "rings = ( { name = \"a\"; },\n { name = \"a\"; } );\n", err,
                        sizeof(err)) < 0);
        CHECK(strstr(err, ":2: ring \"a\" defined twice") != NULL);
        CHECK(cfg.nrings == 0);
        config_done(&cfg);
        CHECK(load_text(&cfg, "rings = ( { name = \"a\";\n  lane_size = 65537; } );\n", err,
                        sizeof(err)) < 0);
        CHECK(strstr(err, ":2: lane_size: a multiple of 4096") != NULL);
        config_done(&cfg);
        CHECK(load_text(&cfg, "rings = ( { name = \"a\";\n colour = 1; } );\n", err,
                        sizeof(err)) < 0);
        CHECK(strstr(err, ":2: unknown ring key 'colour'") != NULL);
        config_done(&cfg);
        CHECK(load_text(&cfg, "rings = ( { size = 1048576; lane_size = 65536; } );\n", err, sizeof(err)) < 0);
        CHECK(strstr(err, "ring without a name") != NULL);
        config_done(&cfg);
        CHECK(load_text(&cfg, "rings = ( { name = \"a\"; size = 65536; lane_size = 131072; } );\n",
                        err, sizeof(err)) < 0);
        config_done(&cfg);
        CHECK(load_text(&cfg, "rings = ( { name = \"a\"; group = \"no-such-group-x\"; } );\n",
                        err, sizeof(err)) < 0);
        config_done(&cfg);
}

struct changed {
        char keys[1024];
};

static void note_changed(const char *key, bool live, void *userdata)
{
        struct changed *c = userdata;
        size_t n = strlen(c->keys);

        snprintf(c->keys + n, sizeof(c->keys) - n, "%s%s%s", n ? " " : "", key, live ? "" : "!");
}

/* What a reload is told: every changed key, and which need a restart. */
/* policy: the grammar; names and numbers; every error with its line. */
static void test_policy(void)
{
        struct ipcd_config cfg, copy;
        char err[1024];
        const struct policy_rule *ru;

        CHECK(load_text(&cfg,
                        "policy = (\n"
                        "  { action = \"own\"; name = \"camera/*\"; uid = \"root\"; decision = \"allow\"; },\n"
                        "  { action = \"own\"; name = \"camera/*\"; decision = \"deny\"; },\n"
                        "  { action = \"subscribe\"; topic = \"camera/*\"; group = \"root\";\n"
                        "    decision = \"allow\"; },\n"
                        "  { action = \"send\"; name = \"watchdog\"; uid = 0; decision = \"allow\"; },\n"
                        "  { action = \"receive\"; sender_uid = 1000; sender_unit = \"*.service\";\n"
                        "    unit = \"db@*.service\"; group = 0; decision = \"deny\"; },\n"
                        "  { action = \"bulk\"; decision = \"deny\"; }\n"
                        ");\n",
                        err, sizeof(err)) == 0);
        if (err[0])
                fprintf(stderr, "%s\n", err);
        CHECK(cfg.policy.n == 6);
        ru = cfg.policy.rules;
        CHECK(ru[0].action == POLICY_OWN && ru[0].allow && ru[0].has_uid && ru[0].uid == 0 &&
              strcmp(ru[0].object, "camera/*") == 0 && ru[0].line == 2);
        CHECK(ru[1].action == POLICY_OWN && !ru[1].allow && !ru[1].has_uid && ru[1].line == 3);
        CHECK(ru[2].action == POLICY_SUBSCRIBE && ru[2].has_gid && ru[2].gid == 0 && ru[2].line == 4);
        CHECK(ru[3].action == POLICY_SEND && ru[3].uid == 0);
        CHECK(ru[4].action == POLICY_RECEIVE && ru[4].has_peer_uid && ru[4].peer_uid == 1000 &&
              strcmp(ru[4].peer_unit, "*.service") == 0 && strcmp(ru[4].unit, "db@*.service") == 0);
        CHECK(ru[5].action == POLICY_BULK && !ru[5].object && !ru[5].has_uid);
        /* A copy (reload) is deep and equal. */
        CHECK(config_set_defaults(&copy) == 0);
        CHECK(config_load(&copy, path, true, err, sizeof(err)) == 0);
        CHECK(copy.policy.n == 6 && copy.policy.rules[0].object != ru[0].object);
        config_done(&copy);
        config_done(&cfg);

        EXPECT_ERROR("policy = (\n { action = \"owns\"; decision = \"deny\"; }\n);\n",
                     at(2, "action \"owns\": expected own, send, receive, publish, subscribe, "
                           "call, monitor or bulk"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; }\n);\n",
                     at(2, "policy rule without a decision"));
        EXPECT_ERROR("policy = (\n { decision = \"deny\"; }\n);\n",
                     at(2, "policy rule without an action"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; decision = \"maybe\"; }\n);\n",
                     at(2, "decision \"maybe\": expected allow or deny"));
        EXPECT_ERROR("policy = (\n { action = \"own\";\n   name = \"a*b\"; decision = \"deny\"; }\n);\n",
                     at(3, "name \"a*b\": bad pattern (1-63 bytes of [A-Za-z0-9._/-], or ending "
                           "in /*, or *)"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; uid = \"no-such-user-here\"; decision = \"deny\"; }\n);\n",
                     at(2, "uid \"no-such-user-here\": no such user"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; group = \"no-such-group-here\"; decision = \"deny\"; }\n);\n",
                     at(2, "group \"no-such-group-here\": no such group"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; uid = -1; decision = \"deny\"; }\n);\n",
                     at(2, "uid = -1: out of range"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; colour = \"red\"; decision = \"deny\"; }\n);\n",
                     at(2, "unknown policy key 'colour'"));
        EXPECT_ERROR("policy = (\n { action = \"publish\"; name = \"x\"; decision = \"deny\"; }\n);\n",
                     at(2, "name: publish and subscribe take a topic"));
        EXPECT_ERROR("policy = (\n { action = \"send\"; topic = \"x\"; decision = \"deny\"; }\n);\n",
                     at(2, "topic: only for publish, subscribe and monitor (this action takes a "
                           "name)"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; name = \"x\"; topic = \"y\"; decision = \"deny\"; }\n);\n",
                     at(2, "a rule has one name or one topic"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; sender_uid = 0; decision = \"deny\"; }\n);\n",
                     at(2, "sender_uid and sender_unit are for receive rules"));
        EXPECT_ERROR("policy = (\n { action = \"own\"; unit = \"a b\"; decision = \"deny\"; }\n);\n",
                     at(2, "unit \"a b\": not a unit name or glob"));
        EXPECT_ERROR("policy = { action = \"own\"; };\n",
                     at(1, "policy: expected a list ( { ... }, ... )"));
        EXPECT_ERROR("policy = ( \"own\" );\n",
                     at(1, "policy: each rule is a group { ... }"));
}

static void test_changed(void)
{
        struct ipcd_config a, b;
        struct changed c = { "" };
        char err[1024];

        CHECK(load_text(&a, "max_clients = 9;\n", err, sizeof(err)) == 0);
        CHECK(load_text(&b, "max_clients = 9;\n", err, sizeof(err)) == 0);
        config_foreach_changed(&a, &b, note_changed, &c);
        CHECK_STR(c.keys, "");
        config_done(&b);

        CHECK(load_text(&b,
                        "clients_group = \"root\";\nmax_calls = 5;\nmax_message_size = 100;\n"
                        "runtime_dir = \"/run/other\";\noverflow_policy = \"drop-old\";\n"
                        "rings = ( { name = \"r\"; } );\n",
                        err, sizeof(err)) == 0);
        config_foreach_changed(&a, &b, note_changed, &c);
        /* max_clients 9 -> 4096 too; in the key table's order */
        CHECK_STR(c.keys, "runtime_dir! clients_group max_clients max_clients_per_uid max_message_size "
                          "overflow_policy max_calls rings!");
        config_done(&b);

        /* rings compared by value; a group set to "" is unset */
        CHECK(load_text(&b, "max_clients = 9;\nclients_group = \"\";\n", err, sizeof(err)) == 0);
        c.keys[0] = '\0';
        config_foreach_changed(&a, &b, note_changed, &c);
        CHECK_STR(c.keys, "");
        config_done(&a);
        config_done(&b);
        CHECK(load_text(&a, "rings = ( { name = \"r\"; size = 1048576; lane_size = 65536; } );\n", err, sizeof(err)) == 0);
        CHECK(load_text(&b, "rings = ( { name = \"r\"; size = 1048576; lane_size = 65536; } );\n", err, sizeof(err)) == 0);
        config_foreach_changed(&a, &b, note_changed, &c);
        CHECK_STR(c.keys, "");
        config_done(&b);
        CHECK(load_text(&b, "rings = ( { name = \"r\"; size = 2097152; lane_size = 65536; } );\n", err, sizeof(err)) == 0);
        config_foreach_changed(&a, &b, note_changed, &c);
        CHECK_STR(c.keys, "rings!");
        config_done(&a);
        config_done(&b);
}

int main(void)
{
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return 1;
        }
        snprintf(path, sizeof(path), "%s/ipcd.conf", tmpdir);

        test_defaults();
        test_missing();
        test_every_key();
        test_integers();
        test_ranges();
        test_types();
        test_unknown();
        test_syntax();
        test_include();
        test_all_or_nothing();
        test_shipped();
        test_rings();
        test_changed();
        test_policy();

        unlink(path);
        rmdir(tmpdir);
        return test_result("test-config");
}
