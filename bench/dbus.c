/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus.c - D-Bus peers: a private bus run by dbus-broker and one run by
 * dbus-daemon, both started by the bench on sockets in its scratch
 * directory, with an sd-bus client (A) calling method Echo(ay) on an
 * sd-bus server (B).  Latency = one method call and its return; one-way
 * throughput = calls flagged NO_REPLY_EXPECTED.
 *
 * dbus-broker is started the way systemd does it: dbus-broker-launch
 * gets its listening socket through socket activation (LISTEN_FDS), and
 * connects back to its own bus (DBUS_SESSION_BUS_ADDRESS) as the
 * launcher does under a user manager.  The launcher insists on logging
 * to journald's socket; where /run/systemd/journal/socket is missing (a
 * container without systemd) it is given one of the bench's own in a
 * private mount namespace, which needs root.  Otherwise the peer is
 * skipped with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_IFACE "org.ipcd.Bench"
#define BENCH_PATH "/org/ipcd/Bench"

static const char bus_config[] =
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <type>session</type>\n"
    "  <listen>unix:path=%s</listen>\n"
    "  <auth>EXTERNAL</auth>\n"
    "  <policy context=\"default\">\n"
    "    <allow send_destination=\"*\"/>\n"
    "    <allow receive_sender=\"*\"/>\n"
    "    <allow own=\"*\"/>\n"
    "    <allow user=\"*\"/>\n"
    "  </policy>\n"
    "</busconfig>\n";

static bool find_exe(const char *name, char *buf, size_t size)
{
        const char *dirs[] = {"/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"};

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                bprintf(buf, size, "%s/%s", dirs[i], name);
                if (access(buf, X_OK) == 0)
                        return true;
        }
        return false;
}

static int write_config(const char *conf, const char *sock)
{
        FILE *f = fopen(conf, "we");

        if (!f)
                return negative_errno();
        fprintf(f, bus_config, sock);
        if (fclose(f) != 0)
                return negative_errno();
        return 0;
}

/* Connect to addr and say Hello, retrying until timeout_s. */
static int bus_wait(const char *addr, double timeout_s)
{
        double end = now_s() + timeout_s;
        int r = -ETIMEDOUT;

        while (now_s() < end) {
                sd_bus *bus = NULL;
                const char *unique;

                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                (void)sd_bus_set_address(bus, addr);
                (void)sd_bus_set_bus_client(bus, 1);
                r = sd_bus_start(bus);
                if (r >= 0)
                        r = sd_bus_get_unique_name(bus, &unique);
                sd_bus_flush_close_unref(bus);
                if (r >= 0)
                        return 0;
                usleep(20000);
        }
        return r;
}

/* Make fd available as target in an exec'd program (no O_CLOEXEC). */
static int move_fd(int fd, int target)
{
        if (fd == target)
                return fcntl(fd, F_SETFD, 0) < 0 ? negative_errno() : 0;
        return dup2(fd, target) < 0 ? negative_errno() : 0; /* dup2 clears O_CLOEXEC */
}

static void redirect_stderr(const char *log)
{
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                close(fd);
        }
}

static void start_dbus_daemon(struct bench *b)
{
        char exe[256], conf[300], sock[300], log[300], fdarg[32], addr[512];
        int pfd[2];
        pid_t pid;
        ssize_t n;
        size_t got = 0;
        int r;

        if (!find_exe("dbus-daemon", exe, sizeof(exe))) {
                bprintf(b->dbus_daemon_why, sizeof(b->dbus_daemon_why),
                        "skipped: not installed (Debian package dbus-daemon)");
                return;
        }
        bprintf(conf, sizeof(conf), "%s/dbus-daemon.conf", b->tmpdir);
        bprintf(sock, sizeof(sock), "%s/dbus-daemon.sock", b->tmpdir);
        bprintf(log, sizeof(log), "%s/dbus-daemon.log", b->tmpdir);
        r = write_config(conf, sock);
        if (r < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
                bprintf(b->dbus_daemon_why, sizeof(b->dbus_daemon_why), "skipped: %s",
                        strerror(r < 0 ? -r : errno));
                return;
        }
        pid = fork();
        if (pid == 0) {
                char cfarg[320];

                prctl(PR_SET_PDEATHSIG, SIGTERM);
                redirect_stderr(log);
                if (move_fd(pfd[1], 3) < 0)
                        _exit(126);
                bprintf(fdarg, sizeof(fdarg), "--print-address=3");
                bprintf(cfarg, sizeof(cfarg), "--config-file=%s", conf);
                execl(exe, exe, cfarg, "--nofork", "--nopidfile", fdarg, (char *)NULL);
                _exit(127);
        }
        close(pfd[1]);
        if (pid < 0) {
                close(pfd[0]);
                bprintf(b->dbus_daemon_why, sizeof(b->dbus_daemon_why), "skipped: fork: %m");
                return;
        }
        for (;;) {
                struct pollfd p = {.fd = pfd[0], .events = POLLIN};

                if (poll(&p, 1, 5000) <= 0)
                        break;
                n = read(pfd[0], addr + got, sizeof(addr) - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
                if (memchr(addr, '\n', got))
                        break;
        }
        close(pfd[0]);
        addr[got] = 0;
        addr[strcspn(addr, "\n")] = 0;
        if (!addr[0] || bus_wait(addr, 5) < 0) {
                kill_wait(pid);
                bprintf(b->dbus_daemon_why, sizeof(b->dbus_daemon_why),
                        "skipped: dbus-daemon did not start (see %s)", log);
                return;
        }
        bprintf(b->dbus_daemon_addr, sizeof(b->dbus_daemon_addr), "%s", addr);
        b->dbus_daemon_pid = pid;
}

/* In the launcher's child: give it a journal socket if the host has none. */
static int fake_journal(void)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket"};
        const char *top = access("/run/systemd", F_OK) == 0 ? "/run/systemd" : "/run";
        int fd;

        if (access("/run/systemd/journal/socket", F_OK) == 0)
                return 0;
        if (unshare(CLONE_NEWNS) < 0)
                return negative_errno();
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return negative_errno();
        if (mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return negative_errno();
        (void)mkdir("/run/systemd", 0755);
        if (mkdir("/run/systemd/journal", 0755) < 0 && errno != EEXIST)
                return negative_errno();
        /* Not O_CLOEXEC: the launcher keeps it, so the socket stays bound.
         * Nobody reads it; the launcher's logging is lossy by design. */
        fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return negative_errno();
        return 0;
}

static void start_dbus_broker(struct bench *b)
{
        char exe[256], conf[300], sock[300], log[300], env[400];
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int lfd, st, r;
        pid_t pid;

        if (!find_exe("dbus-broker-launch", exe, sizeof(exe))) {
                bprintf(b->dbus_broker_why, sizeof(b->dbus_broker_why),
                        "skipped: not installed (Debian package dbus-broker)");
                return;
        }
        if (access("/run/systemd/journal/socket", F_OK) != 0 && geteuid() != 0) {
                bprintf(b->dbus_broker_why, sizeof(b->dbus_broker_why),
                        "skipped: dbus-broker-launch needs journald's socket, or root to fake it");
                return;
        }
        bprintf(conf, sizeof(conf), "%s/dbus-broker.conf", b->tmpdir);
        bprintf(sock, sizeof(sock), "%s/dbus-broker.sock", b->tmpdir);
        bprintf(log, sizeof(log), "%s/dbus-broker.log", b->tmpdir);
        r = write_config(conf, sock);
        if (r < 0) {
                bprintf(b->dbus_broker_why, sizeof(b->dbus_broker_why), "skipped: %s",
                        strerror(-r));
                return;
        }
        bprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
                bprintf(b->dbus_broker_why, sizeof(b->dbus_broker_why),
                        "skipped: listening socket: %m");
                safe_close(lfd);
                return;
        }
        pid = fork();
        if (pid == 0) {
                char pidenv[32];

                prctl(PR_SET_PDEATHSIG, SIGTERM);
                redirect_stderr(log);
                if (move_fd(lfd, 3) < 0)
                        _exit(126);
                r = fake_journal();
                if (r < 0) {
                        fprintf(stderr, "ipcd-bench: journal socket: %s\n", strerror(-r));
                        _exit(125);
                }
                bprintf(pidenv, sizeof(pidenv), "%d", (int)getpid());
                setenv("LISTEN_PID", pidenv, 1);
                setenv("LISTEN_FDS", "1", 1);
                unsetenv("LISTEN_FDNAMES");
                bprintf(env, sizeof(env), "unix:path=%s", sock);
                setenv("DBUS_SESSION_BUS_ADDRESS", env, 1);
                execl(exe, exe, "--scope", "user", "--config-file", conf, (char *)NULL);
                _exit(127);
        }
        close(lfd);
        if (pid < 0) {
                bprintf(b->dbus_broker_why, sizeof(b->dbus_broker_why), "skipped: fork: %m");
                return;
        }
        bprintf(env, sizeof(env), "unix:path=%s", sock);
        if (bus_wait(env, 5) < 0 || waitpid(pid, &st, WNOHANG) == pid) {
                kill_wait(pid);
                bprintf(b->dbus_broker_why, sizeof(b->dbus_broker_why),
                        "skipped: dbus-broker-launch did not start (see %s)", log);
                return;
        }
        bprintf(b->dbus_broker_addr, sizeof(b->dbus_broker_addr), "%s", env);
        b->dbus_broker_pid = pid;
}

void dbus_buses_start(struct bench *b)
{
        bool want_broker =
            only_wants(b, "latency", "dbus-broker") || only_wants(b, "throughput", "dbus-broker");
        bool want_daemon = only_wants(b, "latency", "dbus-daemon");

        if (want_broker)
                start_dbus_broker(b);
        if (want_daemon)
                start_dbus_daemon(b);
}

void dbus_buses_stop(struct bench *b)
{
        kill_wait(b->dbus_broker_pid);
        kill_wait(b->dbus_daemon_pid);
        b->dbus_broker_pid = b->dbus_daemon_pid = 0;
}

/* ---- the sd-bus transport ---- */

struct dbus_ep {
        sd_bus *bus;
        sd_bus_slot *filter;
        sd_bus_message *got;  /* next message for recv() */
        sd_bus_message *call; /* B: the last call that wants an answer */
        char peer[64];
        int side;
        unsigned unflushed;
};

static int dbus_setup(struct pair *p)
{
        bool broker = p->t->arg != NULL;
        struct bench *b = p->b;

        if (broker ? !b->dbus_broker_addr[0] : !b->dbus_daemon_addr[0]) {
                bprintf(p->why, sizeof(p->why), "%s",
                        broker ? b->dbus_broker_why : b->dbus_daemon_why);
                return 1;
        }
        p->helpers[p->n_helpers++] = broker ? b->dbus_broker_pid : b->dbus_daemon_pid;
        return 0;
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        struct dbus_ep *e = userdata;
        uint8_t type = 0;

        (void)sd_bus_message_get_type(m, &type);
        if (e->side == SIDE_B && sd_bus_message_is_method_call(m, BENCH_IFACE, "Echo") > 0) {
                e->got = sd_bus_message_ref(m);
                return 1;
        }
        if (e->side == SIDE_A &&
            (type == SD_BUS_MESSAGE_METHOD_RETURN || type == SD_BUS_MESSAGE_METHOD_ERROR)) {
                e->got = sd_bus_message_ref(m);
                return 1;
        }
        return 0;
}

static void dbus_close(void *ep)
{
        struct dbus_ep *e = ep;

        sd_bus_message_unref(e->got);
        sd_bus_message_unref(e->call);
        sd_bus_slot_unref(e->filter);
        sd_bus_flush_close_unref(e->bus);
        free(e);
}

static int dbus_open(struct pair *p, int side, void **ret)
{
        bool broker = p->t->arg != NULL;
        const char *addr = broker ? p->b->dbus_broker_addr : p->b->dbus_daemon_addr;
        struct dbus_ep *e = calloc(1, sizeof(*e));
        char me[64];
        int r;

        if (!e)
                return -ENOMEM;
        e->side = side;
        bprintf(e->peer, sizeof(e->peer), "org.ipcd.Bench.B%u", p->seq);
        r = sd_bus_new(&e->bus);
        if (r >= 0)
                r = sd_bus_set_address(e->bus, addr);
        if (r >= 0)
                r = sd_bus_set_bus_client(e->bus, 1);
        if (r >= 0)
                r = sd_bus_start(e->bus);
        if (r >= 0)
                r = sd_bus_add_filter(e->bus, &e->filter, on_message, e);
        if (r >= 0 && side == SIDE_B) {
                bprintf(me, sizeof(me), "%s", e->peer);
                r = sd_bus_request_name(e->bus, me, 0);
        }
        if (r < 0) {
                dbus_close(e);
                return r;
        }
        *ret = e;
        return 0;
}

static int dbus_wait_message(struct dbus_ep *e)
{
        while (!e->got) {
                int r = sd_bus_process(e->bus, NULL);

                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = sd_bus_wait(e->bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return 0;
}

static int dbus_send(void *ep, const void *buf, size_t len, int flags)
{
        struct dbus_ep *e = ep;
        sd_bus_message *m = NULL;
        uint64_t cookie = 0;
        int r;

        if (e->side == SIDE_B) {
                if (!e->call)
                        return -EPROTO;
                r = sd_bus_message_new_method_return(e->call, &m);
                e->call = sd_bus_message_unref(e->call);
        } else {
                r = sd_bus_message_new_method_call(e->bus, &m, e->peer, BENCH_PATH, BENCH_IFACE,
                                                   "Echo");
        }
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', buf, len);
        if (r < 0)
                goto out;
        if (e->side == SIDE_A && (flags & BSEND_RELIABLE)) {
                /* The end marker: a call answered by end_ack(), so the
                 * sender knows everything before it has been routed. */
                sd_bus_error err = SD_BUS_ERROR_NULL;

                r = sd_bus_call(e->bus, m, 60 * 1000000ULL, &err, NULL);
                sd_bus_error_free(&err);
                goto out;
        }
        /* sd_bus_send() without a cookie pointer flags the call
         * NO_REPLY_EXPECTED: exactly what one-way messages want. */
        r = sd_bus_send(e->bus, m, (flags & BSEND_ONEWAY) ? NULL : &cookie);
        if (r < 0)
                goto out;
        /* Bound sd-bus' write queue: wait for the socket every 64 messages. */
        if (++e->unflushed >= 64 || !(flags & BSEND_ONEWAY)) {
                e->unflushed = 0;
                r = sd_bus_flush(e->bus);
        }
out:
        sd_bus_message_unref(m);
        return r < 0 ? r : 0;
}

static ssize_t dbus_recv(void *ep, void *buf, size_t len)
{
        struct dbus_ep *e = ep;
        const void *data = NULL;
        size_t n = 0;
        int r;

        r = dbus_wait_message(e);
        if (r < 0)
                return r;
        if (sd_bus_message_is_method_error(e->got, NULL)) {
                e->got = sd_bus_message_unref(e->got);
                return -EREMOTEIO;
        }
        r = sd_bus_message_read_array(e->got, 'y', &data, &n);
        if (r < 0) {
                e->got = sd_bus_message_unref(e->got);
                return r;
        }
        n = MIN(n, len);
        memcpy(buf, data, n);
        if (e->side == SIDE_B && sd_bus_message_get_expect_reply(e->got) > 0) {
                sd_bus_message_unref(e->call);
                e->call = e->got;
        } else {
                sd_bus_message_unref(e->got);
        }
        e->got = NULL;
        return (ssize_t)n;
}

static void dbus_end_ack(void *ep)
{
        struct dbus_ep *e = ep;

        if (e->call)
                (void)dbus_send(e, "", 0, 0);
}

const struct transport transport_dbus_broker = {
    .name = "dbus-broker",
    .label = "D-Bus, dbus-broker (sd-bus)",
    .setup = dbus_setup,
    .open = dbus_open,
    .send = dbus_send,
    .recv = dbus_recv,
    .end_ack = dbus_end_ack,
    .close = dbus_close,
    .arg = "broker",
};

const struct transport transport_dbus_daemon = {
    .name = "dbus-daemon",
    .label = "D-Bus, dbus-daemon (sd-bus)",
    .setup = dbus_setup,
    .open = dbus_open,
    .send = dbus_send,
    .recv = dbus_recv,
    .end_ack = dbus_end_ack,
    .close = dbus_close,
    .arg = NULL,
};
