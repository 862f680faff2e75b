/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipcdctl - look at and talk to a running ipcd.
 *
 *   ipcdctl [--runtime-dir DIR] [--json] COMMAND [ARG...]
 *
 * A table maps command words to handlers, as OpenBSD's *ctl tools do.
 * Global options may come before or after the command word; "--" ends
 * them (for a TEXT that starts with '-').
 *
 * Exit status: 0 success, 1 failure (ipcd not running, request refused,
 * message not delivered, ...), 2 usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <ipcd.h>

#include "ipcdctl/ipcdctl.h"
#include "ipcdctl/json.h"
#include "shared/ipcstate.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/util.h"
#include "shared/wire.h"

/* A reply FIFO in RUNDIR/clients/ older than this, with no ipcd running,
 * belongs to a registration that can no longer complete. */
#define STALE_FIFO_AGE_S 30
/* ipcd_recv() timeout of `listen`: how quickly Ctrl-C is noticed even if
 * the library retries interrupted waits. */
#define LISTEN_POLL_MS 250

/* ------------------------------------------------------------------ */
/* Errors.                                                              */

const char *ctl_errno_name(int e)
{
        static const struct {
                int e;
                const char *name;
        } names[] = {
                { EPERM, "EPERM" },         { ENOENT, "ENOENT" },       { EINTR, "EINTR" },
                { EIO, "EIO" },             { EAGAIN, "EAGAIN" },       { ENOMEM, "ENOMEM" },
                { EACCES, "EACCES" },       { EEXIST, "EEXIST" },       { EXDEV, "EXDEV" },
                { EINVAL, "EINVAL" },       { ENOSPC, "ENOSPC" },       { EPIPE, "EPIPE" },
                { ERANGE, "ERANGE" },       { ENAMETOOLONG, "ENAMETOOLONG" },
                { EIDRM, "EIDRM" },         { EPROTO, "EPROTO" },       { EBADMSG, "EBADMSG" },
                { EMSGSIZE, "EMSGSIZE" },   { EADDRINUSE, "EADDRINUSE" },
                { ECONNRESET, "ECONNRESET" }, { ETIMEDOUT, "ETIMEDOUT" },
                { ECONNREFUSED, "ECONNREFUSED" }, { EDQUOT, "EDQUOT" },
                { ENXIO, "ENXIO" },         { ENOTSUP, "ENOTSUP" },     { ENOSYS, "ENOSYS" },
        };
        static char buf[32];

        if (e < 0)
                e = -e;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (names[i].e == e)
                        return names[i].name;
        snprintf(buf, sizeof(buf), "errno %d", e);
        return buf;
}

static bool control_fifo_exists(const char *rundir)
{
        char path[PATH_MAX];
        struct stat st;

        if (snprintf(path, sizeof(path), "%s/control", rundir) >= (int)sizeof(path))
                return false;
        return stat(path, &st) == 0;
}

int ctl_report_error(const struct ctl *ctl, const char *what, int r)
{
        switch (-r) {
        case ECONNREFUSED:
        case ENOENT:
                if (control_fifo_exists(ctl->rundir))
                        log_error("ipcd is not running at %s (nobody reads %s/control)",
                                  ctl->rundir, ctl->rundir);
                else
                        log_error("ipcd is not running at %s (no control FIFO)", ctl->rundir);
                break;
        case ETIMEDOUT:
                log_error("%s: ipcd at %s did not answer in time (ETIMEDOUT)", what, ctl->rundir);
                break;
        case ECONNRESET:
                log_error("%s: ipcd at %s closed the connection before answering (ECONNRESET)",
                          what, ctl->rundir);
                break;
        case EACCES:
        case EPERM:
                log_error("%s: permission denied by ipcd at %s; with clients_group set, only "
                          "root and its members may connect (%s)",
                          what, ctl->rundir, ctl_errno_name(r));
                break;
        case EXDEV:
                log_error("%s: ipcd at %s serves another IPC namespace (EXDEV)", what,
                          ctl->rundir);
                break;
        case EDQUOT:
                log_error("%s: ipcd at %s has reached a client limit (EDQUOT)", what,
                          ctl->rundir);
                break;
        case EAGAIN:
                log_error("%s: too many registrations at %s, try again later (EAGAIN)", what,
                          ctl->rundir);
                break;
        case EBADMSG:
        case EPROTO:
                log_error("%s: malformed answer from ipcd at %s (%s)", what, ctl->rundir,
                          ctl_errno_name(r));
                break;
        default:
                log_error("%s: %s (%s)", what, strerror(-r), ctl_errno_name(r));
        }
        return CTL_EXIT_FAILURE;
}

/* ------------------------------------------------------------------ */
/* send NAME TYPE TEXT                                                  */

static int parse_type(const char *s, long *ret)
{
        uint64_t v;

        if (util_parse_u64(s, &v) < 0 || v < 1 || v > (uint64_t)IPCD_TYPE_MAX) {
                log_error("invalid message type '%s': expected 1 ... %ld", s, IPCD_TYPE_MAX);
                return -EINVAL;
        }
        *ret = (long)v;
        return 0;
}

static void ipcd_closep(ipcd_client **c)
{
        if (*c)
                ipcd_close(*c);
}

static const char *send_error_text(int r)
{
        switch (-r) {
        case ENOENT:
                return "no such client";
        case EAGAIN:
                return "the destination is full, message dropped";
        case EMSGSIZE:
                return "message too large";
        case EACCES:
        case EPERM:
                return "not allowed";
        case EDQUOT:
                return "limit reached";
        case ETIMEDOUT:
                return "no answer from ipcd";
        case ECONNRESET:
                return "ipcd went away";
        case ECONNREFUSED:
                return "ipcd is not running";
        case EINVAL:
                return "invalid argument";
        default:
                return strerror(-r);
        }
}

static int cmd_send(struct ctl *ctl, int argc, char **argv)
{
        _cleanup_(ipcd_closep) ipcd_client *c = NULL;
        const char *dst = argv[1], *text = argv[3];
        size_t len = strlen(text);
        long type;
        int r;

        if (!ipcd_name_is_valid(dst)) {
                log_error("invalid client name '%s': 1-63 bytes of [A-Za-z0-9._/-]", dst);
                return CTL_EXIT_USAGE;
        }
        if (parse_type(argv[2], &type) < 0)
                return CTL_EXIT_USAGE;

        r = ipcd_connect_at(ctl->rundir, NULL, &c);
        if (r < 0)
                return ctl_report_error(ctl, "connect", r);

        r = ipcd_send(c, dst, type, text, len, IPCD_ACK);
        if (r < 0) {
                if (r == -EMSGSIZE)
                        log_error("send to '%s': message too large: %zu bytes, at most %zu "
                                  "(EMSGSIZE)",
                                  dst, len, ipcd_max_inline(c));
                else
                        log_error("send to '%s': %s (%s)", dst, send_error_text(r),
                                  ctl_errno_name(r));
                return CTL_EXIT_FAILURE;
        }
        printf("delivered to '%s' (type %ld, %zu bytes)\n", dst, type, len);
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}

/* ------------------------------------------------------------------ */
/* listen [NAME]                                                        */

volatile sig_atomic_t ctl_stop_signal;

static void on_stop_signal(int sig)
{
        ctl_stop_signal = sig;
}

void ctl_catch_stop_signals(void)
{
        struct sigaction sa = { .sa_handler = on_stop_signal };

        /* No SA_RESTART: a blocked wait returns EINTR; the loops also wake
         * up every so often in case the library retries it. */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

void ctl_print_escaped(FILE *f, const unsigned char *p, size_t n, bool quote)
{
        for (size_t i = 0; i < n; i++) {
                unsigned char c = p[i];

                if (c == '\\')
                        fputs("\\\\", f);
                else if (quote && c == '"')
                        fputs("\\\"", f);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c == '\r')
                        fputs("\\r", f);
                else if (c < 0x20 || c >= 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        putc(c, f);
        }
}

void ctl_print_sender(const ipcd_msg *m)
{
        const char *unit = ipcd_msg_sender_unit(m);

        printf("%.*s (id %" PRIu64 ", uid %lu, pid %ld%s%s)", IPCD_NAME_MAX,
               m->sender[0] ? m->sender : "-", m->sender_id, (unsigned long)m->sender_uid,
               (long)m->sender_pid, !unit || unit[0] ? ", unit " : "", !unit ? "?" : unit);
}

void ctl_json_sender_unit(struct json *j, const ipcd_msg *m)
{
        const char *unit = (m->flags & IPCD_MSG_NOTICE) ? NULL : ipcd_msg_sender_unit(m);

        if (unit)
                json_str(j, "sender_unit", unit); /* "" none; left out: unknown */
}

static void print_message_text(const ipcd_msg *m)
{
        if (m->flags & IPCD_MSG_NOTICE) {
                /* type: the notice code (1 messages dropped, 2 name lost), id:
                 * its argument (how many were dropped). */
                printf("[notice %ld] from ipcd (%" PRIu64 "): ", m->type, m->id);
        } else {
                printf("[type %ld] ", m->type);
                if (m->topic[0])
                        printf("on topic %.*s ", IPCD_NAME_MAX, m->topic);
                printf("from ");
                ctl_print_sender(m);
                if (m->flags & IPCD_MSG_REQUEST)
                        printf(" [request]");
                if (m->flags & IPCD_MSG_BULK)
                        printf(" [bulk, %zu bytes]", m->len);
                printf(": ");
        }
        ctl_print_escaped(stdout, m->data, m->data ? m->len : 0, false);
        putchar('\n');
}

static void print_message_json(const ipcd_msg *m)
{
        struct json j;

        json_init(&j, stdout);
        json_begin_object(&j, NULL);
        json_str(&j, "event", (m->flags & IPCD_MSG_NOTICE) ? "notice" : "message");
        json_i64(&j, "type", m->type);
        json_strn(&j, "sender", m->sender, strnlen(m->sender, sizeof(m->sender)));
        json_u64(&j, "sender_id", m->sender_id);
        json_u64(&j, "sender_uid", m->sender_uid);
        json_i64(&j, "sender_pid", m->sender_pid);
        ctl_json_sender_unit(&j, m);
        json_strn(&j, "topic", m->topic, strnlen(m->topic, sizeof(m->topic)));
        json_bool(&j, "request", m->flags & IPCD_MSG_REQUEST);
        json_bool(&j, "bulk", m->flags & IPCD_MSG_BULK);
        json_u64(&j, "len", m->len);
        if (m->flags & IPCD_MSG_NOTICE)
                json_u64(&j, "arg", m->id);
        json_strn(&j, "data", m->data ? m->data : "", m->data ? m->len : 0);
        json_end_object(&j);
}

/*
 * One receive of listen and monitor: 1 with a message, 0 when there was
 * none yet (poll again: a signal may be pending), -1 after saying why it
 * must stop.  ECONNRESET stops too: the library would reconnect on the
 * next call, but a listener or monitor that silently survives a restart
 * hides what it missed (and a monitor would lose its request).
 */
int ctl_recv(ipcd_client *c, ipcd_msg *m, int poll_ms)
{
        int r = ipcd_recv(c, m, 0, poll_ms);

        if (r == -ETIMEDOUT || r == -EAGAIN || r == -EINTR)
                return 0;
        if (r == -ECONNRESET) {
                fflush(stdout);
                log_error("ipcd went away (ECONNRESET)");
                return -1;
        }
        if (r < 0) {
                fflush(stdout);
                log_error("receive: %s (%s)", strerror(-r), ctl_errno_name(r));
                return -1;
        }
        return 1;
}

static int cmd_listen(struct ctl *ctl, int argc, char **argv)
{
        _cleanup_(ipcd_closep) ipcd_client *c = NULL;
        const char *name = argc > 1 ? argv[1] : NULL;
        int r;

        if (name && !ipcd_name_is_valid(name)) {
                log_error("invalid client name '%s': 1-63 bytes of [A-Za-z0-9._/-]", name);
                return CTL_EXIT_USAGE;
        }

        ctl_catch_stop_signals();
        setvbuf(stdout, NULL, _IOLBF, 0);

        r = ipcd_connect_at(ctl->rundir, name, &c);
        if (r == -EADDRINUSE) {
                log_error("cannot listen as '%s': the name is taken by another client "
                          "(EADDRINUSE)",
                          name);
                return CTL_EXIT_FAILURE;
        }
        if (r < 0)
                return ctl_report_error(ctl, "connect", r);

        if (ctl->json) {
                struct json j;

                json_init(&j, stdout);
                json_begin_object(&j, NULL);
                json_str(&j, "event", "listening");
                json_str(&j, "name", name ? name : "");
                json_u64(&j, "id", ipcd_id(c));
                json_end_object(&j);
        } else if (name) {
                printf("listening as %s (id %" PRIu64 ")\n", name, ipcd_id(c));
        } else {
                printf("listening anonymously (id %" PRIu64 ")\n", ipcd_id(c));
        }
        fflush(stdout);

        while (!ctl_stop_signal) {
                ipcd_msg m;

                r = ctl_recv(c, &m, LISTEN_POLL_MS);
                if (r == 0)
                        continue;
                if (r < 0)
                        return CTL_EXIT_FAILURE;
                if (ctl->json)
                        print_message_json(&m);
                else
                        print_message_text(&m);
                ipcd_msg_release(c, &m);
                if (fflush(stdout) != 0) {
                        log_error_errno(negative_errno(), "cannot write the output");
                        return CTL_EXIT_FAILURE;
                }
        }
        return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* cleanup                                                              */

/* The pid holding a flock() on the file (dev, ino), from /proc/locks;
 * 0 if not found. */
static pid_t flock_holder(dev_t dev, ino_t ino)
{
        FILE *f = fopen("/proc/locks", "re");
        char line[256];
        pid_t pid = 0;

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                char type[16];
                int p;
                unsigned maj, min;
                unsigned long long i;

                /* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; waiters
                 * have "->" after the number and are skipped. */
                if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%llu", type, &p, &maj, &min, &i) !=
                    5)
                        continue;
                if (strcmp(type, "FLOCK") != 0)
                        continue;
                if (makedev(maj, min) == dev && i == (unsigned long long)ino) {
                        pid = p;
                        break;
                }
        }
        fclose(f);
        return pid;
}

static bool is_hex_name(const char *s)
{
        size_t n = strlen(s);

        if (n != WIRE_HEX_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* Remove reply FIFOs that registrations left in RUNDIR/clients/. */
static int remove_stale_fifos(const char *rundir, unsigned *nremoved)
{
        char path[PATH_MAX];
        DIR *d;
        struct dirent *de;
        time_t now = time(NULL);
        int dfd;

        *nremoved = 0;
        if (snprintf(path, sizeof(path), "%s/clients", rundir) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        dfd = dirfd(d);
        while ((de = readdir(d))) {
                struct stat st;

                if (!is_hex_name(de->d_name))
                        continue;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISFIFO(st.st_mode))
                        continue;
                /* A very young FIFO may belong to a client waiting for ipcd to be
                 * started (socket activation): leave it. */
                if (now - st.st_ctime < STALE_FIFO_AGE_S)
                        continue;
                if (unlinkat(dfd, de->d_name, 0) == 0)
                        (*nremoved)++;
        }
        closedir(d);
        return 0;
}

static int cmd_cleanup(struct ctl *ctl, int argc, char **argv)
{
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX];
        struct stat st;
        unsigned nobj = 0, nfifo = 0;
        uid_t creator = geteuid();
        int r;

        if (stat(ctl->rundir, &st) < 0) {
                if (errno == ENOENT) {
                        printf("nothing to clean up: %s does not exist\n", ctl->rundir);
                        return CTL_EXIT_OK;
                }
                log_error_errno(negative_errno(), "cannot access %s", ctl->rundir);
                return CTL_EXIT_FAILURE;
        }

        /* A running ipcd holds an exclusive flock() on RUNDIR/ipcd.lock; we
         * hold it ourselves while cleaning, so none starts meanwhile. */
        if (snprintf(path, sizeof(path), "%s/ipcd.lock", ctl->rundir) >= (int)sizeof(path))
                return log_error("runtime directory name too long"), CTL_EXIT_USAGE;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno != ENOENT) {
                log_error_errno(negative_errno(), "cannot open %s", path);
                return CTL_EXIT_FAILURE;
        }
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK) {
                        pid_t pid = 0;

                        if (fstat(fd, &st) == 0)
                                pid = flock_holder(st.st_dev, st.st_ino);
                        if (pid <= 0) {
                                /* ipcd writes its pid into the lock file. */
                                char buf[32];
                                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                                uint64_t v;

                                buf[n > 0 ? n : 0] = '\0';
                                buf[strcspn(buf, "\n")] = '\0';
                                if (util_parse_u64(buf, &v) == 0 && v > 0 && v <= INT32_MAX)
                                        pid = (pid_t)v;
                        }
                        if (pid > 0)
                                log_error("ipcd is running (pid %ld) at %s, refusing to clean "
                                          "up",
                                          (long)pid, ctl->rundir);
                        else
                                log_error("ipcd is running at %s, refusing to clean up",
                                          ctl->rundir);
                        return CTL_EXIT_FAILURE;
                }
                log_error_errno(negative_errno(), "cannot lock %s", path);
                return CTL_EXIT_FAILURE;
        }

        /* The objects were created by the ipcd that wrote the state file:
         * match its owner (ipcd's user under systemd), not ours. */
        if (snprintf(path, sizeof(path), "%s/ipcd.state", ctl->rundir) < (int)sizeof(path) &&
            stat(path, &st) == 0)
                creator = st.st_uid;

        r = ipcstate_cleanup(ctl->rundir, creator, &nobj);
        if (r < 0) {
                log_error_errno(r, "cannot clean up the objects listed in %s/ipcd.state",
                                ctl->rundir);
                return CTL_EXIT_FAILURE;
        }
        r = remove_stale_fifos(ctl->rundir, &nfifo);
        if (r < 0)
                log_warning_errno(r, "cannot clean %s/clients", ctl->rundir);

        printf("removed %u System V object%s left by an earlier ipcd and %u stale reply "
               "FIFO%s in %s\n",
               nobj, nobj == 1 ? "" : "s", nfifo, nfifo == 1 ? "" : "s", ctl->rundir);
        return r < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Command table and options.                                           */

static int cmd_help(struct ctl *ctl, int argc, char **argv);

static const struct command {
        const char *name;
        int (*run)(struct ctl *ctl, int argc, char **argv);
        int min_args; /* after the command word */
        int max_args;
        const char *args;
        const char *help;
        bool interval; /* takes --interval */
        bool http;     /* takes --http */
        bool who;      /* takes --uid, --group, --unit, --sender-uid, --sender-unit */
} commands[] = {
        { "status", cmd_status, 0, 0, "",
          "show the daemon, its queues, rings, clients and counters" },
        { "clients", cmd_clients, 0, 0, "", "show the connected clients" },
        { "topics", cmd_topics, 0, 0, "",
          "show the topics: subscribers, history, messages and rates",
          .interval = true },
        { "metrics", cmd_metrics, 0, 0, "",
          "print the counters as OpenMetrics text (Prometheus); with --http,\n"
          "                         answer one HTTP request read on stdin",
          .http = true },
        { "top", cmd_top, 0, 0, "",
          "a live view of the clients or topics and their rates (q quits)",
          .interval = true },
        { "policy", cmd_policy, 0, 3, "[check ACTION OBJECT]",
          "show the access rules in force with their hits; check: which rule decides\n"
          "                         ACTION on OBJECT for --uid USER [--group G] [--unit U];\n"
          "                         receive: OBJECT is the sender's name (\"\" anonymous),\n"
          "                         [--sender-uid USER] [--sender-unit UNIT]",
          .who = true },
        { "send", cmd_send, 3, 3, "NAME TYPE TEXT",
          "send TEXT to client NAME with message type TYPE; wait until delivered" },
        { "listen", cmd_listen, 0, 1, "[NAME]",
          "connect (as NAME, or anonymously) and print every message until interrupted" },
        { "monitor", cmd_monitor, 0, 1, "[PATTERN]",
          "print each message routed to a name or topic matching PATTERN (default *);\n"
          "                         root and ipcd's group only" },
        { "reexec", cmd_reexec, 0, 0, "",
          "make ipcd re-execute its binary (after an upgrade) keeping every client;\n"
          "                         root and ipcd's group only" },
        { "cleanup", cmd_cleanup, 0, 0, "",
          "with no ipcd running, remove what a crashed one left behind" },
        { "help", cmd_help, 0, 0, "", "show this help" },
};

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: ipcdctl [OPTIONS] COMMAND [ARG...]\n"
                "\n"
                "Look at and talk to the ipcd message broker.\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                char left[64];

                snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
                fprintf(f, "  %-22s %s\n", left, commands[i].help);
        }
        fprintf(f,
                "\n"
                "Options (before or after the command word; \"--\" ends them):\n"
                "  --runtime-dir DIR      ipcd's runtime directory (default: $IPCD_RUNTIME_DIR,\n"
                "                         else %s)\n"
                "  --json                 JSON output (status, clients, topics, policy; listen and\n"
                "                         monitor: one object per line)\n"
                "  --interval MS          topics: measure rates over MS milliseconds\n"
                "                         (default %d; 0: no rates); top: refresh every MS\n"
                "  --http                 metrics: read an HTTP request on stdin, answer on\n"
                "                         stdout (ipcd-metrics@.service)\n"
                "  --uid USER, --group GROUP, --unit UNIT\n"
                "                         policy check: the client asking (USER's groups\n"
                "                         from the user database, and GROUP)\n"
                "  --sender-uid USER, --sender-unit UNIT\n"
                "                         policy check receive: the sender's uid and unit\n"
                "                         (default: in no unit)\n"
                "  -h, --help             show this help\n"
                "  -V, --version          show the version\n"
                "\n"
                "Exit status: 0 success, 1 failure, 2 usage error.\n",
                IPCD_DEFAULT_RUNDIR, CTL_INTERVAL_DEFAULT_MS);
}

static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
        usage(stdout);
        return CTL_EXIT_OK;
}

/* Whether argv[*i] is option name, as "NAME VALUE" or "NAME=VALUE": 1 with
 * *value set (and *i past a separate value), 0 when it is another word,
 * -1 when VALUE is missing (after saying what it should be). */
static int option_value(int argc, char **argv, int *i, const char *name, const char *what,
                        const char **value)
{
        const char *a = argv[*i];
        size_t n = strlen(name);

        if (strncmp(a, name, n) != 0)
                return 0;
        if (a[n] == '=') {
                *value = a + n + 1;
                return 1;
        }
        if (a[n] != '\0')
                return 0;
        if (*i + 1 >= argc) {
                log_error("%s needs %s", name, what);
                return -1;
        }
        *value = argv[++*i];
        return 1;
}

/* The words of the command line: options into ctl, rundir and interval,
 * the rest into pos[npos].  -1 to go on, or the exit status. */
static int parse_options(int argc, char **argv, struct ctl *ctl, const char **rundir,
                         const char **interval, char **pos, int *npos)
{
        bool dashdash = false;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                int r;

                if (dashdash || a[0] != '-' || a[1] == '\0') {
                        pos[(*npos)++] = argv[i];
                        continue;
                }
                r = option_value(argc, argv, &i, "--runtime-dir", "a directory", rundir);
                if (r == 0)
                        r = option_value(argc, argv, &i, "--interval", "a number of milliseconds",
                                         interval);
                if (r == 0)
                        r = option_value(argc, argv, &i, "--uid", "a user name or number",
                                         &ctl->uid);
                if (r == 0)
                        r = option_value(argc, argv, &i, "--group", "a group name or number",
                                         &ctl->group);
                if (r == 0)
                        r = option_value(argc, argv, &i, "--unit", "a systemd unit name",
                                         &ctl->unit);
                if (r == 0)
                        r = option_value(argc, argv, &i, "--sender-uid", "a user name or number",
                                         &ctl->sender_uid);
                if (r == 0)
                        r = option_value(argc, argv, &i, "--sender-unit", "a systemd unit name",
                                         &ctl->sender_unit);
                if (r < 0)
                        return CTL_EXIT_USAGE;
                if (r > 0)
                        continue;
                if (strcmp(a, "--") == 0) {
                        dashdash = true;
                } else if (strcmp(a, "--json") == 0) {
                        ctl->json = true;
                } else if (strcmp(a, "--http") == 0) {
                        ctl->http = true;
                } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                        usage(stdout);
                        return CTL_EXIT_OK;
                } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
                        printf("ipcdctl %s\n", PACKAGE_VERSION);
                        return CTL_EXIT_OK;
                } else {
                        log_error("unknown option '%s' (a TEXT starting with '-' goes after "
                                  "\"--\")",
                                  a);
                        usage(stderr);
                        return CTL_EXIT_USAGE;
                }
        }
        if (*rundir && !(*rundir)[0]) {
                log_error("--runtime-dir needs a directory");
                return CTL_EXIT_USAGE;
        }
        return -1;
}

static const struct command *find_command(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(name, commands[i].name) == 0)
                        return &commands[i];
        return NULL;
}

/* --interval into ctl->interval_ms: 0, or -1 after saying why not. */
static int parse_interval(const struct command *cmd, const char *interval, struct ctl *ctl)
{
        uint64_t v;

        ctl->interval_ms = CTL_INTERVAL_DEFAULT_MS;
        if (!interval)
                return 0;
        if (!cmd->interval) {
                log_error("--interval applies to topics and top only");
                return -1;
        }
        if (util_parse_u64(interval, &v) < 0 || v > CTL_INTERVAL_MAX_MS) {
                log_error("invalid --interval '%s': expected 0 ... %d milliseconds", interval,
                          CTL_INTERVAL_MAX_MS);
                return -1;
        }
        ctl->interval_ms = (int)v;
        return 0;
}

int main(int argc, char **argv)
{
        struct ctl ctl = { 0 };
        const char *rundir = NULL;
        const struct command *cmd;
        const char *interval = NULL;
        _cleanup_free_ char **pos = NULL;
        int npos = 0, r;

        log_init("ipcdctl");
        /* Writing to a closed pipe (ipcdctl listen | head) ends us quietly. */
        signal(SIGPIPE, SIG_DFL);

        pos = calloc((size_t)argc + 1, sizeof(*pos));
        if (!pos)
                return log_error("out of memory"), CTL_EXIT_FAILURE;
        r = parse_options(argc, argv, &ctl, &rundir, &interval, pos, &npos);
        if (r >= 0)
                return r;
        ctl.rundir = util_runtime_dir(rundir);

        if (npos == 0) {
                usage(stderr);
                return CTL_EXIT_USAGE;
        }
        cmd = find_command(pos[0]);
        if (!cmd) {
                log_error("unknown command '%s'", pos[0]);
                usage(stderr);
                return CTL_EXIT_USAGE;
        }
        if (parse_interval(cmd, interval, &ctl) < 0)
                return CTL_EXIT_USAGE;
        if ((ctl.uid || ctl.group || ctl.unit || ctl.sender_uid || ctl.sender_unit) &&
            !cmd->who) {
                log_error("--uid, --group, --unit, --sender-uid and --sender-unit apply to "
                          "policy check only");
                return CTL_EXIT_USAGE;
        }
        if (ctl.http && !cmd->http) {
                log_error("--http applies to metrics only");
                return CTL_EXIT_USAGE;
        }
        if (npos - 1 < cmd->min_args || npos - 1 > cmd->max_args) {
                log_error("usage: ipcdctl %s %s", cmd->name, cmd->args);
                return CTL_EXIT_USAGE;
        }
        return cmd->run(&ctl, npos, pos);
}
