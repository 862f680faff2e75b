/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c - ipcd-bridge: arguments, the ipcd side, --status.
 *
 * The main thread receives what the export patterns match (reliable
 * subscriptions: a bridge that cannot keep up holds the local publishers
 * back rather than losing their messages) and hands each to NATS; the
 * libnats threads publish the imports.  libipcd-client reconnects to a
 * restarted ipcd on its own and re-subscribes; the loop only counts it.
 * `ipcd-bridge --status` asks the running bridge, by its ipcd name, with
 * ipcd_call(): the answer is text.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "shared/log.h"

#define EX_CONFIG 78
#define STATUS_TYPE 1

const char *const bridge_counter_names[BC_COUNTERS] = {
        [BC_EXPORTED] = "exported",
        [BC_IMPORTED] = "imported",
        [BC_SKIPPED_REMOTE] = "skipped_remote",
        [BC_SKIPPED_OWN] = "skipped_own",
        [BC_OVERFLOW] = "dropped_bridge_overflow",
        [BC_TOO_LARGE] = "refused_too_large",
        [BC_BAD_HEADER] = "dropped_bad_header",
        [BC_BAD_SUBJECT] = "dropped_bad_subject",
        [BC_LOCAL_FAILED] = "import_failed",
        [BC_LOCAL_REFUSED] = "import_refused",
        [BC_NATS_FAILED] = "export_failed",
        [BC_LOCAL_DROPPED] = "dropped_by_ipcd",
        [BC_NATS_RECONNECTS] = "nats_reconnects",
        [BC_NATS_DISCONNECTS] = "nats_disconnects",
        [BC_IPCD_RECONNECTS] = "ipcd_reconnects",
        [BC_CALLS_SERVED] = "calls_served",
        [BC_CALLS_FORWARDED] = "calls_forwarded",
        [BC_CALLS_FAILED] = "calls_failed",
        [BC_SENDS_FORWARDED] = "sends_forwarded",
        [BC_SENDS_DELIVERED] = "sends_delivered",
};

static struct bridge bridge;

static void on_signal(int sig)
{
        (void)sig;
        bridge.stop = 1;
}

static size_t status_text(struct bridge *b, char *out, size_t size)
{
        size_t n = 0;
        char conn[400], js[300];

#define ADD(...)                                                                                   \
        do {                                                                                       \
                int k_ = snprintf(out + n, size - n, __VA_ARGS__);                                 \
                if (k_ > 0)                                                                        \
                        n = MIN(size - 1, n + (size_t)k_);                                         \
        } while (0)
        bridge_nats_describe(b, conn, sizeof(conn));
        ADD("bridge %s id %016" PRIx64 " host %s\n", b->cfg.name, b->id, b->cfg.host);
        ADD("nats %s\n", conn);
        if (b->cfg.jetstream) {
                bridge_js_describe_conn(b, conn, sizeof(conn));
                ADD("jetstream %s\n", conn);
        }
        ADD("subject_prefix \"%s\"\n", b->cfg.subject_prefix);
        for (size_t i = 0; i < b->cfg.nexports; i++) {
                bridge_js_describe(b, true, i, js, sizeof(js));
                ADD("export %s exported %" PRIu64 "%s\n", b->cfg.exports[i],
                    i < 64 ? (uint64_t)b->exported_by[i] : 0, js);
        }
        for (size_t i = 0; i < b->cfg.nimports; i++) {
                bridge_js_describe(b, false, i, js, sizeof(js));
                ADD("import %s imported %" PRIu64 "%s\n", b->cfg.imports[i].subject,
                    i < 64 ? (uint64_t)b->imported_by[i] : 0, js);
        }
        for (size_t i = 0; i < b->cfg.nserves; i++)
                ADD("serve %s subject %s\n", b->cfg.serves[i].name, b->cfg.serves[i].subject);
        for (size_t i = 0; i < b->cfg.nremotes; i++)
                ADD("remote %s subject %s\n", b->cfg.remotes[i].name, b->cfg.remotes[i].subject);
        for (int i = 0; i < BC_COUNTERS; i++)
                ADD("%s %" PRIu64 "\n", bridge_counter_names[i], (uint64_t)b->cnt[i]);
#undef ADD
        return n;
}

static void handle(struct bridge *b, ipcd_msg *m)
{
        char text[16384];
        int pattern;

        if (m->flags & IPCD_MSG_NOTICE) {
                if (m->type == IPCD_NOTICE_DROPPED)
                        atomic_fetch_add(&b->cnt[BC_LOCAL_DROPPED], m->id);
                return;
        }
        if (m->flags & IPCD_MSG_REQUEST) {
                size_t n = status_text(b, text, sizeof(text));
                (void)ipcd_reply(b->ipcd, m, STATUS_TYPE, text, n);
                return;
        }
        if (m->flags & IPCD_MSG_REMOTE) {
                bridge_count(b, BC_SKIPPED_REMOTE); /* imported: never exported again */
                return;
        }
        if (!m->topic[0])
                return; /* a stray unicast message */
        pattern = mapping_export_match(&b->cfg, m->topic);
        if (pattern >= 0)
                bridge_nats_export(b, m, pattern);
}

static int subscribe_exports(struct bridge *b)
{
        for (size_t i = 0; i < b->cfg.nexports; i++) {
                int r = ipcd_subscribe_flags(b->ipcd, b->cfg.exports[i], IPCD_SUB_RELIABLE);
                if (r < 0)
                        return log_error_errno(r, "subscribe %s", b->cfg.exports[i]);
        }
        return 0;
}

static int run(struct bridge *b)
{
        while (!b->stop) {
                ipcd_msg m;
                int r;

                bridge_js_tick(b); /* JetStream: resend what timed out */
                r = ipcd_recv(b->ipcd, &m, 0, b->js ? 50 : 250);

                if (r == -ETIMEDOUT || r == -EINTR)
                        continue;
                if (r == -ECONNRESET) {
                        bridge_count(b, BC_IPCD_RECONNECTS);
                        log_warning("ipcd went away; reconnecting");
                        continue;
                }
                if (r == -ECONNREFUSED || r == -ENOENT) {
                        usleep(200 * 1000); /* no ipcd yet: the library retries */
                        continue;
                }
                if (r < 0)
                        return log_error_errno(r, "receive");
                handle(b, &m);
                ipcd_msg_release(b->ipcd, &m);
        }
        return 0;
}

static int ask_status(const char *rundir, const char *name)
{
        ipcd_client *c = NULL;
        ipcd_msg m;
        int r = ipcd_connect_at(rundir, NULL, &c);

        if (r < 0) {
                fprintf(stderr, "ipcd-bridge: connect: %s\n", strerror(-r));
                return 1;
        }
        r = ipcd_call(c, name, STATUS_TYPE, "status", 6, &m, 5000);
        if (r < 0) {
                fprintf(stderr, "ipcd-bridge: %s: %s\n", name, strerror(-r));
                ipcd_close(c);
                return 1;
        }
        fwrite(m.data, 1, m.len, stdout);
        ipcd_msg_release(c, &m);
        ipcd_close(c);
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: ipcd-bridge [--config FILE] [--runtime-dir DIR] [--check-config | --status]\n"
                   "Carries ipcd topics to and from a NATS cluster (ipcd-bridge(8)).\n");
}

static int start(struct bridge *b, const char *rundir)
{
        char err[512];
        int r;

        if (getrandom(&b->id, sizeof(b->id), 0) != sizeof(b->id))
                return log_error_errno(-errno, "getrandom");
        r = ipcd_connect_at(rundir, b->cfg.name, &b->ipcd);
        if (r < 0)
                return log_error_errno(r, "connect to ipcd at %s as %s",
                                       rundir ? rundir : "the default runtime dir", b->cfg.name);
        r = subscribe_exports(b);
        if (r < 0)
                return r;
        r = bridge_nats_start(b, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err);
                return r;
        }
        return bridge_calls_start(b, rundir);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "runtime-dir", required_argument, NULL, 'r' },
                { "check-config", no_argument, NULL, 'k' },
                { "status", no_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *config = IPCD_DEFAULT_CONFIG, *rundir = NULL;
        bool check = false, status = false;
        char err[512];
        int o, r;

        log_init("ipcd-bridge");
        while ((o = getopt_long(argc, argv, "c:r:h", opts, NULL)) != -1) {
                switch (o) {
                case 'c': config = optarg; break;
                case 'r': rundir = optarg; break;
                case 'k': check = true; break;
                case 's': status = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }
        if (bridge_config_load(&bridge.cfg, config, err, sizeof(err)) < 0) {
                fprintf(stderr, "%s\n", err);
                return EX_CONFIG;
        }
        if (!rundir)
                rundir = bridge.cfg.runtime_dir;
        if (check || status) {
                r = check ? 0 : ask_status(rundir, bridge.cfg.name);
                bridge_config_done(&bridge.cfg);
                return r;
        }
        signal(SIGPIPE, SIG_IGN);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        r = start(&bridge, rundir);
        if (r == 0) {
                log_info("bridging %zu export and %zu import mappings", bridge.cfg.nexports,
                         bridge.cfg.nimports);
                r = run(&bridge);
        }
        bridge_nats_stop(&bridge);
        ipcd_close(bridge.ipcd);
        bridge_config_done(&bridge.cfg);
        return r < 0 ? 1 : 0;
}
