/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c - ipcd's command line and start-up: read the configuration into a
 * plain struct (which holds the router's limits), set up the runtime
 * directory, run the event loop, clean up; and the SIGHUP reload.  ipcd
 * always runs in the foreground.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcd/config.h"
#include "ipcd/daemon.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/util.h"

#define EX_CONFIG 78

#ifndef IPCD_DEFAULT_CONFIG
#define IPCD_DEFAULT_CONFIG "/etc/ipcd/ipcd.conf"
#endif

/* Room for the record headers, the destination and the sender's name and
 * topic around an inline payload in one queue message. */
#define WIRE_OVERHEAD (sizeof(struct wire_out) + 2 * WIRE_NAME_MAX + 8)

static void help(void)
{
        printf("Usage: ipcd [OPTIONS]\n"
               "\n"
               "Local message broker over System V message queues.\n"
               "\n"
               "  -c, --config FILE        read FILE instead of %s\n"
               "  -r, --runtime-dir DIR    serve in DIR (default: the config's runtime_dir,\n"
               "                           or /run/ipcd)\n"
               "  -l, --log-level LEVEL    error, warning, notice, info or debug\n"
               "      --check-config       validate the configuration and exit (0, or 78)\n"
               "  -V, --version            print the version and exit\n"
               "  -h, --help               print this help and exit\n"
               "\n"
               "See ipcd(8) and ipcd.conf(5).\n",
               IPCD_DEFAULT_CONFIG);
}

struct options {
        const char *config;
        const char *runtime_dir;
        const char *log_level;
        bool check;
        int reexec_fd;            /* --reexec-state=FD (reexec.c), -1: none */
};

static int parse_argv(int argc, char **argv, struct options *o)
{
        enum { ARG_CHECK = 0x100, ARG_REEXEC };
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "runtime-dir", required_argument, NULL, 'r' },
                { "log-level", required_argument, NULL, 'l' },
                { "check-config", no_argument, NULL, ARG_CHECK },
                { "reexec-state", required_argument, NULL, ARG_REEXEC },
                { "version", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:r:l:Vh", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        o->config = optarg;
                        break;
                case 'r':
                        o->runtime_dir = optarg;
                        break;
                case 'l':
                        o->log_level = optarg;
                        break;
                case ARG_CHECK:
                        o->check = true;
                        break;
                case ARG_REEXEC: {
                        /* Given by an earlier image of ipcd only (reexec.c). */
                        char *end;
                        long fd = strtol(optarg, &end, 10);

                        if (end == optarg || *end || fd < 3 || fd > 1 << 20) {
                                fprintf(stderr, "ipcd: invalid --reexec-state '%s'\n", optarg);
                                return -EINVAL;
                        }
                        o->reexec_fd = (int)fd;
                        break;
                }
                case 'V':
                        printf("ipcd %s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "ipcd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* The largest inline payload: what kernel.msgmax leaves, at most max_message_size. */
static uint32_t max_payload(const struct ipcd_config *cfg, size_t msgmax)
{
        size_t n = msgmax > WIRE_OVERHEAD ? (msgmax - WIRE_OVERHEAD) & ~(size_t)7 : 0;

        if (cfg->max_message_size && cfg->max_message_size < n)
                n = cfg->max_message_size;
        return (uint32_t)n;
}

static int load_config(struct ipcd_config *cfg, const struct options *o, char *err, size_t errlen)
{
        int r;

        r = config_set_defaults(cfg);
        if (r < 0) {
                snprintf(err, errlen, "%s", strerror(-r));
                return r;
        }
        return config_load(cfg, o->config ? o->config : IPCD_DEFAULT_CONFIG, o->config != NULL,
                           err, errlen);
}

static struct options opts = { .reexec_fd = -1 };

/* The configuration in effect (the reload compares against it). */
static struct ipcd_config running;

/* clients_group: the gid, or have = false when unset; false if no such group. */
static bool clients_group_lookup(const char *name, gid_t *gid, bool *have)
{
        struct group *g;

        *have = false;
        if (!name || !name[0])
                return true;
        g = getgrnam(name);
        if (!g)
                return false;
        *gid = g->gr_gid;
        *have = true;
        return true;
}

static void reload_key(const char *key, bool live, void *userdata)
{
        if (strcmp(key, "runtime_dir") == 0 && opts.runtime_dir)
                return; /* --runtime-dir wins */
        if (strcmp(key, "log_level") == 0 && opts.log_level)
                return; /* --log-level wins */
        if (!live)
                log_warning("%s: needs a restart", key);
        else if (strcmp(key, "queue_bytes") == 0 || strcmp(key, "inbound_queue_bytes") == 0)
                log_notice("%s: applies to queues created from now on", key);
        else
                log_info("%s: changed", key);
}

/*
 * SIGHUP: re-read the file.  Every key that changed is applied now or
 * logged by name as needing a restart (config_foreach_changed knows
 * which); the running configuration keeps those until then.
 */
static int reload(struct daemon *d)
{
        struct ipcd_config cfg;
        struct router_limits lim;
        struct policy_rules rules;
        struct unit_limits ulimits = { 0 };
        unsigned revoked;
        char err[512];
        gid_t gid = 0;
        bool have_group;
        int r;

        r = load_config(&cfg, &opts, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err);
                config_done(&cfg);
                return r;
        }
        if (!clients_group_lookup(cfg.clients_group, &gid, &have_group)) {
                log_error("clients_group '%s': no such group", cfg.clients_group);
                config_done(&cfg);
                return -ENOENT;
        }
        r = policy_rules_copy(&rules, &cfg.policy);
        if (r >= 0) {
                r = unit_limits_copy(&ulimits, &cfg.unit_limits);
                if (r < 0)
                        policy_rules_free(&rules);
        }
        if (r < 0) {
                log_error_errno(r, "policy rules");
                config_done(&cfg);
                return r;
        }
        config_foreach_changed(&running, &cfg, reload_key, NULL);

        if (!opts.log_level)
                log_set_max_level(cfg.log_level);
        d->parked_bytes = cfg.parked_bytes;
        d->parked_bytes_per_uid = cfg.parked_bytes_per_uid;
        if (have_group != d->have_clients_group || (have_group && gid != d->clients_gid)) {
                d->have_clients_group = have_group;
                d->clients_gid = gid;
                rundir_control_access(d);
        }
        router_lock(&d->router);
        lim = cfg.lim;
        lim.max_payload = max_payload(&cfg, d->router.mq.msgmax);
        router_set_limits(&d->router, &lim);
        /* The rules are swapped whole (their hit counts start again) and
         * hold for every client from now on. */
        revoked = router_set_policy(&d->router, &rules);
        router_set_unit_limits(&d->router, &ulimits);
        router_unlock(&d->router);
        log_info("policy: %zu rules in force%s", cfg.policy.n,
                 revoked ? "; names or subscriptions revoked, see above" : "");
        log_info("limits: %u clients (%u per uid), backlog %llu bytes per destination",
                 lim.max_clients, lim.max_clients_per_uid, (unsigned long long)lim.backlog_bytes);

        /* What needs a restart stays as it runs, so that it is named again
         * at the next reload until the restart happens. */
        {
                /* What goes: the new restart-only values, the old group
                 * and rules (the router has its own copy). */
                struct ipcd_config dead = { .runtime_dir = cfg.runtime_dir, .rings = cfg.rings,
                                            .nrings = cfg.nrings,
                                            .clients_group = running.clients_group,
                                            .policy = running.policy,
                                            .unit_limits = running.unit_limits };

                cfg.runtime_dir = running.runtime_dir;
                cfg.rings = running.rings;
                cfg.nrings = running.nrings;
                running = cfg;
                config_done(&dead);
        }
        return 0;
}

/* The bulk rings of the configuration, or the one ring "default". */
static int create_rings(struct daemon *d, const struct ipcd_config *cfg)
{
        static const struct ipcd_ring_config def = {
                .name = (char *)"default",
                .size = 64ULL << 20,
                .lane_size = 8ULL << 20,
        };
        const struct ipcd_ring_config *rc = cfg->nrings ? cfg->rings : &def;
        size_t n = cfg->nrings ? cfg->nrings : 1;

        if (n > ROUTER_MAX_RINGS) {
                log_error("at most %d rings", ROUTER_MAX_RINGS);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                gid_t gid = d->gid;
                struct ring *rg;
                int r;

                if (rc[i].group && rc[i].group[0]) {
                        struct group *g = getgrnam(rc[i].group);

                        if (!g) {
                                log_error("ring %s: no such group '%s'", rc[i].name, rc[i].group);
                                return -ENOENT;
                        }
                        gid = g->gr_gid;
                }
                r = ring_create(&d->router.mq, (unsigned)i, rc[i].name, rc[i].size, rc[i].lane_size,
                                gid, rc[i].hugepages, &rg);
                if (r < 0)
                        return log_error_errno(r, "creating ring %s (%llu bytes)", rc[i].name,
                                               (unsigned long long)rc[i].size);
                d->router.rings[d->router.nrings++] = rg;
                log_debug("ring %s: shmid %d, %u lanes of %llu bytes, group %u", rg->name,
                          rg->shmid, rg->nlanes, (unsigned long long)rg->lane_size, (unsigned)gid);
        }
        return 0;
}

/* The log level of the config, or of --log-level: 0, or 2 (usage). */
static int setup_logging(const struct ipcd_config *cfg)
{
        int r;

        log_set_max_level(cfg->log_level);
        if (!opts.log_level)
                return 0;
        r = log_level_from_string(opts.log_level);
        if (r < 0) {
                fprintf(stderr, "ipcd: invalid log level '%s'\n", opts.log_level);
                return 2;
        }
        log_set_max_level(r);
        return 0;
}

/* What the daemon needs before it touches the runtime directory. */
static int daemon_identity(struct daemon *d, const struct ipcd_config *cfg)
{
        int r;

        d->rundir = strdup(opts.runtime_dir ? opts.runtime_dir : cfg->runtime_dir);
        if (!d->rundir)
                return log_error_errno(-ENOMEM, "out of memory");
        d->gid = getegid();
        d->reload = reload;
        {
                /* Re-exec runs the binary at this path: after a package
                 * upgrade, the new one. */
                ssize_t n = readlink("/proc/self/exe", d->exe_path, sizeof(d->exe_path) - 1);

                if (n <= 0 || (size_t)n >= sizeof(d->exe_path) - 1)
                        snprintf(d->exe_path, sizeof(d->exe_path), "/proc/self/exe");
                else
                        d->exe_path[n] = '\0';
        }
        if (!clients_group_lookup(cfg->clients_group, &d->clients_gid, &d->have_clients_group)) {
                log_error("clients_group '%s': no such group", cfg->clients_group);
                return -EINVAL;
        }
        r = util_ipc_ns(0, &d->ipc_ns);
        if (r < 0)
                return log_error_errno(r, "reading /proc/self/ns/ipc");
        return 0;
}

/* Signals are handled by the event loop; threads inherit the mask.  A
 * reply FIFO whose reader vanished must give EPIPE, not kill us. */
static void block_signals(void)
{
        sigset_t ss;

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &ss, NULL);
        signal(SIGPIPE, SIG_IGN);
        umask(0022);
}

/* The router with the config's limits, the crashed instance's names
 * reserved, and the rings. */
static int router_start(struct daemon *d, struct ipcd_config *cfg)
{
        int r;

        r = router_init(&d->router, &(struct router_limits){ 0 }, d->state_fd, d->gid);
        if (r < 0)
                return log_error_errno(r, "initialising");
        cfg->lim.max_payload = max_payload(cfg, d->router.mq.msgmax);
        router_set_limits(&d->router, &cfg->lim);
        r = policy_rules_copy(&d->router.policy, &cfg->policy);
        if (r >= 0)
                r = unit_limits_copy(&d->router.unit_limits, &cfg->unit_limits);
        if (r < 0) {
                router_done(&d->router);
                return log_error_errno(r, "policy rules");
        }
        if (d->router.policy.n)
                log_info("policy: %zu rules", d->router.policy.n);
        d->router.ipc_ns = d->ipc_ns;
        if (d->ndead_names && cfg->name_grace_ms) {
                d->router.reserved = d->dead_names;
                d->router.nreserved = d->ndead_names;
                d->router.reserved_until_ms = clock_now_ms() + cfg->name_grace_ms;
                log_info("%zu names of the crashed instance are reserved for their owners "
                         "for %u ms", d->ndead_names, cfg->name_grace_ms);
        }
        d->parked_bytes = cfg->parked_bytes;
        d->parked_bytes_per_uid = cfg->parked_bytes_per_uid;
        r = create_rings(d, cfg);
        if (r < 0)
                router_done(&d->router);
        return r;
}

/* --reexec-state: the router with the config's limits and the earlier
 * image's state.  0, or < 0: start afresh (reexec_adopt logged why). */
static int router_adopt(struct daemon *d, struct ipcd_config *cfg)
{
        int r;

        r = router_init(&d->router, &(struct router_limits){ 0 }, -1, d->gid);
        if (r < 0)
                return log_error_errno(r, "initialising");
        cfg->lim.max_payload = max_payload(cfg, d->router.mq.msgmax);
        router_set_limits(&d->router, &cfg->lim);
        /* The rules and unit limits before the clients: their units'
         * books take the limits as they join. */
        r = policy_rules_copy(&d->router.policy, &cfg->policy);
        if (r >= 0)
                r = unit_limits_copy(&d->router.unit_limits, &cfg->unit_limits);
        if (r < 0) {
                router_done(&d->router);
                return log_error_errno(r, "policy rules");
        }
        d->router.ipc_ns = d->ipc_ns;
        d->parked_bytes = cfg->parked_bytes;
        d->parked_bytes_per_uid = cfg->parked_bytes_per_uid;
        r = reexec_adopt(d, opts.reexec_fd);
        if (r < 0)
                return r;
        d->adopted = true;
        if (cfg->nrings != d->router.nrings && cfg->nrings)
                log_warning("rings: the configuration's take effect at the next restart");
        return 0;
}

int main(int argc, char **argv)
{
        struct ipcd_config cfg;
        struct daemon d = { .rundir_fd = -1, .clients_fd = -1, .control_fd = -1, .lock_fd = -1,
                            .state_fd = -1, .sentinel_fd = -1, .kept_control_fd = -1 };
        char err[512];
        int r, ret = EXIT_FAILURE, inherited;

        log_init("ipcd");
        r = parse_argv(argc, argv, &opts);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : 2;

        r = load_config(&cfg, &opts, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "%s\n", err);
                config_done(&cfg);
                return EX_CONFIG;
        }
        if (opts.check || setup_logging(&cfg) != 0) {
                config_done(&cfg);
                return opts.check ? EXIT_SUCCESS : 2;
        }
        if (daemon_identity(&d, &cfg) < 0)
                goto out;
        d.argc = argc;
        d.argv = argv;
        block_signals();

        if (opts.reexec_fd >= 0 && router_adopt(&d, &cfg) == 0)
                goto run;
        inherited = d.kept_control_fd >= 0 ? d.kept_control_fd : event_inherited_fifo(d.rundir);
        if (inherited >= 0 && d.kept_control_fd < 0) {
                /* For a later re-exec that cannot take over (reexec.c). */
                char fd[16];

                snprintf(fd, sizeof(fd), "%d", inherited);
                setenv("IPCD_CONTROL_FD", fd, 1);
        }
        r = rundir_setup(&d, inherited);
        if (r < 0)
                goto out_rundir;
        /* Before any thread exists (the data threads come with clients). */
        r = sentinel_start(&d);
        if (r < 0)
                goto out_rundir;
        r = router_start(&d, &cfg);
        if (r < 0)
                goto out_rundir;
run:
        running = cfg;
        cfg = (struct ipcd_config){ 0 };
        r = event_run(&d);
        router_done(&d.router);
        sentinel_stop(&d, true); /* everything we made is gone */
        if (r >= 0)
                ret = EXIT_SUCCESS;
out_rundir:
        sentinel_stop(&d, false); /* none left: the sentinel cleans up */
        rundir_teardown(&d);
        free(d.dead_names);
        free(d.rest);
out:
        free(d.rundir);
        config_done(&cfg);
        config_done(&running);
        return ret;
}
