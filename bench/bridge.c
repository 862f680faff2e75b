/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bridge.c - section 9 of ipcd-bench (--bridge, issue 14): topics across
 * two "hosts" through ipcd-bridge and NATS, against a direct NATS pair in
 * the same run.
 *
 * The hosts are two IPC namespaces, as in tests/test-bridge.sh: A is the
 * bench's own (its ipcd, the one of the other sections), B a second one
 * made by a sleeping child, which the B-side processes enter with
 * setns(2).  B has its own ipcd (the same binary and config, its own
 * runtime directory) and each host its ipcd-bridge; both bridges use one
 * nats-server the bench starts on 127.0.0.1.
 *
 * ipcd-bridge rows: A publishes on topic bx/N, bridge A exports it
 * (subject bench.bx.N), bridge B imports it, and B's subscriber (a
 * reliable subscription) gets it; B answers on by/N, exported by B and
 * imported by A.  nats rows (nats.c, libnats): a publisher/subscriber pair
 * on subjects d.x.N and d.y.N through the same nats-server, with libnats's
 * default options like the bridge's connection.  Both run through the
 * generic drivers of run.c: round trip (unpinned) and one-way rate.
 *
 * Core NATS delivers at most once: a one-way flood may overrun a slow
 * subscriber's pending limit, and those messages are counted as lost.
 * The markers that end a repetition or the run must arrive, so both
 * transports send them through lossy_send() (see bench.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MARK_ACK 'K'       /* lossy_recv's answer to a marker: 'K' + its sequence */
#define MARK_RETRY_S 0.1   /* a marker is repeated this often */
#define MARK_WAIT_S 10.0   /* until acknowledged, or this long */
#define RECV_HANG_MS 10000 /* a transport's recv gives up (a lost round trip) */
#define WORLD_WAIT_S 30.0  /* start-up of ipcd B, the bridges and NATS */
#define DATA_TYPE 1L
#define BRIDGE_MAX_REPS 32

/* ---- lossy_link ---- */

int lossy_send(struct lossy_link *l, const void *buf, size_t len)
{
        const char *d = buf;
        uint32_t seq;
        double end;

        if (len < 1 + sizeof(seq) || len > sizeof(l->mark) ||
            (d[0] != MARK_END && d[0] != MARK_QUIT))
                return l->put(l->ep, buf, len);
        seq = ++l->sent_seq;
        memcpy(l->mark, buf, len);
        memcpy(l->mark + 1, &seq, sizeof(seq));
        end = now_s() + MARK_WAIT_S;
        while (now_s() < end) {
                double retry = now_s() + MARK_RETRY_S;
                int r = l->put(l->ep, l->mark, len);

                if (r < 0)
                        return r;
                for (double t = now_s(); t < retry; t = now_s()) {
                        char ack[16];
                        ssize_t n = l->get(l->ep, ack, sizeof(ack), (int)((retry - t) * 1000) + 1);

                        if (n == -ETIMEDOUT)
                                break;
                        if (n < 0)
                                return (int)n;
                        if (n >= 5 && ack[0] == MARK_ACK && memcmp(ack + 1, &seq, 4) == 0)
                                return 0;
                        /* an older acknowledgement: ignored */
                }
        }
        /* The peer of a quit has stopped listening once it answered: if
         * that answer was lost, run.c sees whether it exited. */
        return d[0] == MARK_QUIT ? 0 : -ETIMEDOUT;
}

ssize_t lossy_recv(struct lossy_link *l, void *buf, size_t len)
{
        for (;;) {
                ssize_t n = l->get(l->ep, buf, len, RECV_HANG_MS);
                const char *d = buf;
                char ack[8] = {MARK_ACK};
                uint32_t seq;
                int r;

                if (n < 0)
                        return n;
                if (n > 0 && d[0] == MARK_ACK)
                        continue; /* a late one, for a marker already acknowledged */
                if (n < 5 || (d[0] != MARK_END && d[0] != MARK_QUIT))
                        return n;
                memcpy(&seq, d + 1, sizeof(seq));
                memcpy(ack + 1, &seq, sizeof(seq));
                r = l->put(l->ep, ack, sizeof(ack));
                if (r < 0)
                        return r;
                if (seq <= l->seen_seq)
                        continue; /* a repeat: our acknowledgement was lost */
                l->seen_seq = seq;
                return n;
        }
}

/* ---- the two hosts, the bridges and nats-server ---- */

struct world {
        bool up;
        char why[512];
        int ns_b; /* host B's IPC namespace */
        pid_t holder, nats, ipcd_b, bridge_a, bridge_b;
        char rundir_b[300];
        char url[64];
        char nats_path[300], bridge_path[300];
        char log_nats[300], log_ipcd_b[300], log_bridge_a[300], log_bridge_b[300];
};

static struct world w = {.ns_b = -1};

const char *bridge_nats_url(void)
{
        return w.up ? w.url : "";
}

static bool find_in_path(const char *prog, char *buf, size_t size)
{
        const char *path = getenv("PATH");
        char *copy, *dir, *save = NULL;
        bool found = false;

        copy = strdup(path && path[0] ? path : "/usr/local/bin:/usr/bin:/bin");
        if (!copy)
                return false;
        for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
                bprintf(buf, size, "%s/%s", dir, prog);
                found = access(buf, X_OK) == 0;
        }
        free(copy);
        /* nats-server is in /usr/sbin, which a user's PATH may lack */
        for (const char *const *d = (const char *const[]){"/usr/sbin", "/usr/local/sbin", NULL};
             *d && !found; d++) {
                bprintf(buf, size, "%s/%s", *d, prog);
                found = access(buf, X_OK) == 0;
        }
        return found;
}

static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -EADDRNOTAVAIL;

        if (fd < 0)
                return negative_errno();
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        close(fd);
        return port;
}

/* fork + exec argv, in host B when in_b, its output into log. */
static pid_t launch(bool in_b, char *const argv[], const char *log)
{
        pid_t pid = fork();
        int fd;

        if (pid != 0)
                return pid;
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (in_b && setns(w.ns_b, CLONE_NEWIPC) < 0)
                _exit(126);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
}

/* Host B: a child in a new IPC namespace, with the limits of A's. */
static int holder_start(struct bench *b)
{
        char path[64];
        int p[2], err = 0;

        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        w.holder = fork();
        if (w.holder < 0) {
                err = negative_errno();
                close(p[0]);
                close(p[1]);
                return err;
        }
        if (w.holder == 0) {
                char v[32];

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (unshare(CLONE_NEWIPC) < 0)
                        err = errno;
                if (!err && b->msgmax > 0) {
                        bprintf(v, sizeof(v), "%ld", b->msgmax);
                        (void)write_file("/proc/sys/kernel/msgmax", v);
                }
                if (!err && b->msgmnb > 0) {
                        bprintf(v, sizeof(v), "%ld", b->msgmnb);
                        (void)write_file("/proc/sys/kernel/msgmnb", v);
                }
                (void)!write(p[1], &err, sizeof(err));
                if (err)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(p[1]);
        if (read(p[0], &err, sizeof(err)) != sizeof(err))
                err = EIO;
        close(p[0]);
        if (err) {
                bprintf(w.why, sizeof(w.why),
                        "skipped: a second IPC namespace (host B): unshare(CLONE_NEWIPC): %s "
                        "(run as root)",
                        strerror(err));
                return 1;
        }
        bprintf(path, sizeof(path), "/proc/%d/ns/ipc", (int)w.holder);
        w.ns_b = open(path, O_RDONLY | O_CLOEXEC);
        if (w.ns_b < 0) {
                err = negative_errno();
                bprintf(w.why, sizeof(w.why), "skipped: %s: %s", path, strerror(-err));
                return 1;
        }
        return 0;
}

typedef int (*host_fn)(struct bench *b, void *arg);

/* Run fn in a child, in host B when in_b; it exits with fn's result. */
static pid_t in_host(struct bench *b, bool in_b, host_fn fn, void *arg)
{
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (in_b && setns(w.ns_b, CLONE_NEWIPC) < 0)
                _exit(126);
        _exit(fn(b, arg) == 0 ? 0 : 1);
}

/* Every helper still running?  Else say which one stopped, with its log. */
static bool helpers_alive(struct bench *b)
{
        const struct {
                pid_t *pid;
                const char *what, *log;
        } h[] = {
            {&w.nats, "nats-server", w.log_nats},
            {&w.ipcd_b, "ipcd B", w.log_ipcd_b},
            {&w.bridge_a, "ipcd-bridge A", w.log_bridge_a},
            {&w.bridge_b, "ipcd-bridge B", w.log_bridge_b},
        };
        int st;

        for (size_t i = 0; i < ELEMENTSOF(h); i++) {
                if (*h[i].pid <= 0 || waitpid(*h[i].pid, &st, WNOHANG) != *h[i].pid)
                        continue;
                *h[i].pid = 0;
                bprintf(w.why, sizeof(w.why), "skipped: %s exited (status %d); its log: %s",
                        h[i].what, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), h[i].log);
                out(b, "  %s exited; %s:\n", h[i].what, h[i].log);
                tail_log(b, h[i].log);
                return false;
        }
        return true;
}

/* Wait for children that each exit 0 when their part is ready. */
static int await_ready(struct bench *b, pid_t *pids, size_t n, const char *what)
{
        double end = now_s() + WORLD_WAIT_S + 5;
        size_t left = n;
        bool ok = true;

        while (left > 0) {
                for (size_t i = 0; i < n; i++) {
                        int st;

                        if (pids[i] <= 0 || waitpid(pids[i], &st, WNOHANG) != pids[i])
                                continue;
                        pids[i] = 0;
                        left--;
                        ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
                }
                if (left == 0)
                        break;
                if (!helpers_alive(b) || now_s() > end) {
                        ok = false;
                        break;
                }
                usleep(20000);
        }
        for (size_t i = 0; i < n; i++)
                kill_wait(pids[i]);
        if (!ok && !w.why[0])
                bprintf(w.why, sizeof(w.why), "skipped: %s", what);
        return ok ? 0 : -ETIMEDOUT;
}

static int connect_until(const char *rundir, double end, ipcd_client **ret)
{
        for (;;) {
                int r = ipcd_connect_at(rundir, NULL, ret);

                if (r >= 0 || now_s() > end)
                        return r;
                usleep(20000);
        }
}

static int ipcd_answers(struct bench *b, void *arg)
{
        ipcd_client *c = NULL;
        int r = connect_until(arg, now_s() + WORLD_WAIT_S, &c);

        if (r >= 0)
                ipcd_close(c);
        return r;
}

/* The probe: each host publishes on its out topic until the other host
 * got one, and listens on its in topic; both done when both got one (NATS
 * interest and the bridges' connections are up). */
struct probe {
        volatile int got[2];
};

static int probe_host(struct bench *b, struct probe *pr, int side)
{
        const char *rundir = side == SIDE_A ? b->ipcd_rundir : w.rundir_b;
        double end = now_s() + WORLD_WAIT_S;
        ipcd_client *c = NULL;
        int r = connect_until(rundir, end, &c);

        if (r < 0)
                return r;
        r = ipcd_subscribe(c, side == SIDE_A ? "by/probe" : "bx/probe");
        while (r >= 0 && !(pr->got[0] && pr->got[1]) && now_s() < end) {
                ipcd_msg m;

                if (!pr->got[!side])
                        r = ipcd_publish(c, side == SIDE_A ? "bx/probe" : "by/probe", DATA_TYPE,
                                         "probe", 5, 0);
                if (r >= 0 && ipcd_recv(c, &m, 0, 50) == 0) {
                        if (m.flags & IPCD_MSG_REMOTE)
                                pr->got[side] = 1;
                        ipcd_msg_release(c, &m);
                }
        }
        ipcd_close(c);
        return r < 0 ? r : pr->got[0] && pr->got[1] ? 0 : -ETIMEDOUT;
}

static int probe_a(struct bench *b, void *arg)
{
        return probe_host(b, arg, SIDE_A);
}

static int probe_b(struct bench *b, void *arg)
{
        return probe_host(b, arg, SIDE_B);
}

static int write_bridge_config(const char *path, const char *name, const char *host,
                               const char *exp, const char *imp)
{
        FILE *f = fopen(path, "we");

        if (!f)
                return negative_errno();
        fprintf(f,
                "# written by ipcd-bench (section 9)\n"
                "bridge = {\n"
                "        servers = [ \"%s\" ];\n"
                "        name = \"%s\";\n"
                "        host = \"%s\";\n"
                "        subject_prefix = \"bench\";\n"
                "        send_asap = %s;\n"
                "        export = ( { topic = \"%s/*\"; } );\n"
                "        import = ( { subject = \"bench.%s.>\"; } );\n"
                "};\n",
                w.url, name, host,
                /* IPCD_BENCH_SEND_ASAP=1: the bridges' send_asap option */
                getenv("IPCD_BENCH_SEND_ASAP") && strcmp(getenv("IPCD_BENCH_SEND_ASAP"), "1") == 0
                        ? "true"
                        : "false",
                exp, imp);
        return fclose(f) == 0 ? 0 : negative_errno();
}

static void world_stop(struct bench *b)
{
        pid_t *order[] = {&w.bridge_a, &w.bridge_b, &w.ipcd_b, &w.nats};

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                kill_wait(*order[i]); /* SIGTERM, then SIGKILL after 3 s */
                *order[i] = 0;
        }
        if (w.holder > 0) {
                kill(w.holder, SIGKILL);
                (void)waitpid(w.holder, NULL, 0);
                w.holder = 0;
        }
        w.ns_b = safe_close(w.ns_b);
        w.up = false;
}

static int world_start(struct bench *b)
{
        char dir[PATH_MAX], port_s[16], pidfile[300], conf_a[300], conf_b[300];
        const char *env;
        pid_t waits[2];
        struct probe *pr;
        int port, r;

        if (!drv_ipcd_available(b)) {
                bprintf(w.why, sizeof(w.why), "%s", b->ipcd_why);
                return 1;
        }
        env = getenv("NATS_SERVER");
        if (env && env[0])
                bprintf(w.nats_path, sizeof(w.nats_path), "%s", env);
        else if (!find_in_path("nats-server", w.nats_path, sizeof(w.nats_path)))
                bprintf(w.nats_path, sizeof(w.nats_path), "nats-server");
        if (access(w.nats_path, X_OK) < 0) {
                bprintf(w.why, sizeof(w.why),
                        "skipped: no nats-server (%s; Debian: apt-get install nats-server, or set "
                        "$NATS_SERVER)",
                        w.nats_path);
                return 1;
        }
        env = getenv("IPCD_BRIDGE");
        if (env && env[0])
                bprintf(w.bridge_path, sizeof(w.bridge_path), "%s", env);
        else {
                exe_dir(dir, sizeof(dir));
                bprintf(w.bridge_path, sizeof(w.bridge_path), "%s/../src/bridge/ipcd-bridge", dir);
        }
        if (access(w.bridge_path, X_OK) < 0) {
                bprintf(w.why, sizeof(w.why),
                        "skipped: no ipcd-bridge at %s (configure --with-nats and build it, or "
                        "set $IPCD_BRIDGE)",
                        w.bridge_path);
                return 1;
        }
        r = holder_start(b);
        if (r != 0)
                return r;

        port = free_port();
        if (port < 0) {
                bprintf(w.why, sizeof(w.why), "skipped: a free port on 127.0.0.1: %s",
                        strerror(-port));
                return 1;
        }
        bprintf(port_s, sizeof(port_s), "%d", port);
        bprintf(w.url, sizeof(w.url), "nats://127.0.0.1:%d", port);
        bprintf(w.log_nats, sizeof(w.log_nats), "%s/nats-server.log", b->tmpdir);
        bprintf(pidfile, sizeof(pidfile), "%s/nats-server.pid", b->tmpdir);
        {
                char *argv[] = {w.nats_path, (char *)"-a", (char *)"127.0.0.1",  (char *)"-p",
                                port_s,      (char *)"-n", (char *)"ipcd-bench", (char *)"-P",
                                pidfile,     NULL};

                w.nats = launch(false, argv, w.log_nats);
        }

        bprintf(w.rundir_b, sizeof(w.rundir_b), "%s/run-b", b->tmpdir);
        bprintf(w.log_ipcd_b, sizeof(w.log_ipcd_b), "%s/ipcd-b.log", b->tmpdir);
        if (mkdir(w.rundir_b, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        {
                char *argv[] = {b->ipcd_exec, (char *)"--runtime-dir",
                                w.rundir_b,   b->ipcd_conf[0] ? (char *)"--config" : NULL,
                                b->ipcd_conf, NULL};

                w.ipcd_b = launch(true, argv, w.log_ipcd_b);
        }
        waits[0] = in_host(b, true, ipcd_answers, w.rundir_b);
        r = await_ready(b, waits, 1, "ipcd B did not answer");
        if (r < 0)
                return 1;

        /* Bridge A exports bx/ and imports by/; bridge B the other way. */
        bprintf(conf_a, sizeof(conf_a), "%s/bridge-a.conf", b->tmpdir);
        bprintf(conf_b, sizeof(conf_b), "%s/bridge-b.conf", b->tmpdir);
        r = write_bridge_config(conf_a, "bench-bridge-a", "bench-a", "bx", "by");
        if (r == 0)
                r = write_bridge_config(conf_b, "bench-bridge-b", "bench-b", "by", "bx");
        if (r < 0)
                return r;
        bprintf(w.log_bridge_a, sizeof(w.log_bridge_a), "%s/bridge-a.log", b->tmpdir);
        bprintf(w.log_bridge_b, sizeof(w.log_bridge_b), "%s/bridge-b.log", b->tmpdir);
        {
                char *argv_a[] = {w.bridge_path,           (char *)"--config", conf_a,
                                  (char *)"--runtime-dir", b->ipcd_rundir,     NULL};
                char *argv_b[] = {w.bridge_path,           (char *)"--config", conf_b,
                                  (char *)"--runtime-dir", w.rundir_b,         NULL};

                w.bridge_a = launch(false, argv_a, w.log_bridge_a);
                w.bridge_b = launch(true, argv_b, w.log_bridge_b);
        }

        pr = mmap(NULL, sizeof(*pr), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (pr == MAP_FAILED)
                return negative_errno();
        memset(pr, 0, sizeof(*pr));
        waits[0] = in_host(b, false, probe_a, pr);
        waits[1] = in_host(b, true, probe_b, pr);
        r = await_ready(b, waits, 2, "the bridges did not carry a probe both ways");
        munmap(pr, sizeof(*pr));
        if (r < 0) {
                out(b, "  %s:\n", w.log_bridge_a);
                tail_log(b, w.log_bridge_a);
                out(b, "  %s:\n", w.log_bridge_b);
                tail_log(b, w.log_bridge_b);
                return 1;
        }
        w.up = true;
        return 0;
}

/* ---- the ipcd-bridge transport ---- */

struct bridge_ep {
        struct lossy_link link;
        ipcd_client *c;
        char out[IPCD_NAME_MAX];
};

static int bridge_setup(struct pair *p)
{
        if (!w.up) {
                bprintf(p->why, sizeof(p->why), "%s", w.why[0] ? w.why : "not running");
                return 1;
        }
        return 0;
}

static int bridge_put(void *ep, const void *buf, size_t len)
{
        struct bridge_ep *e = ep;
        int r = ipcd_publish(e->c, e->out, DATA_TYPE, buf, len, 0);

        return r < 0 ? r : 0;
}

static ssize_t bridge_get(void *ep, void *buf, size_t len, int timeout_ms)
{
        struct bridge_ep *e = ep;

        for (;;) {
                ipcd_msg m;
                size_t n;
                int r = ipcd_recv(e->c, &m, 0, timeout_ms);

                if (r < 0)
                        return r;
                if (m.flags & IPCD_MSG_NOTICE) {
                        ipcd_msg_release(e->c, &m);
                        continue;
                }
                if (!(m.flags & IPCD_MSG_REMOTE)) { /* only the other host publishes here */
                        ipcd_msg_release(e->c, &m);
                        return -EPROTO;
                }
                n = MIN(m.len, len);
                memcpy(buf, m.data, n);
                ipcd_msg_release(e->c, &m);
                return (ssize_t)n;
        }
}

static int bridge_open(struct pair *p, int side, void **ret)
{
        _cleanup_free_ struct bridge_ep *e = calloc(1, sizeof(*e));
        char in[IPCD_NAME_MAX];
        int r;

        if (!e)
                return -ENOMEM;
        if (side == SIDE_B && setns(w.ns_b, CLONE_NEWIPC) < 0)
                return negative_errno();
        r = connect_retry(side == SIDE_A ? p->b->ipcd_rundir : w.rundir_b, NULL, &e->c);
        if (r < 0)
                return r;
        bprintf(in, sizeof(in), "%s/%u", side == SIDE_A ? "by" : "bx", p->seq);
        bprintf(e->out, sizeof(e->out), "%s/%u", side == SIDE_A ? "bx" : "by", p->seq);
        /* reliable: what arrives at a host is not dropped by its ipcd */
        r = ipcd_subscribe_flags(e->c, in, IPCD_SUB_RELIABLE);
        if (r < 0) {
                ipcd_close(e->c);
                return r;
        }
        e->link = (struct lossy_link){.put = bridge_put, .get = bridge_get, .ep = e};
        *ret = TAKE_PTR(e);
        return 0;
}

static int bridge_send(void *ep, const void *buf, size_t len, int flags)
{
        struct bridge_ep *e = ep;

        return lossy_send(&e->link, buf, len);
}

static ssize_t bridge_recv(void *ep, void *buf, size_t len)
{
        struct bridge_ep *e = ep;

        return lossy_recv(&e->link, buf, len);
}

static void bridge_close(void *ep)
{
        struct bridge_ep *e = ep;

        ipcd_close(e->c);
        free(e);
}

static const struct transport transport_ipcd_bridge = {
    .name = "ipcd-bridge",
    .label = "ipcd-bridge (A -> NATS -> B)",
    .setup = bridge_setup,
    .open = bridge_open,
    .send = bridge_send,
    .recv = bridge_recv,
    .close = bridge_close,
};

/* ---- the section ---- */

enum { T_BRIDGE, T_NATS, T_ASAP, N_T };
static const char *const t_name[N_T] = {"ipcd-bridge", "nats", "nats-asap"};
static const size_t sizes[] = {64, 1024};
#define N_SIZES ELEMENTSOF(sizes)

struct series {
        double v[3][BRIDGE_MAX_REPS]; /* latency: p50, p99, p99.9; throughput: rate */
        unsigned n, failed;
        uint64_t sent, received;
        char why[256];
};

static void ratio_cell(char *buf, size_t size, const struct stat3 *x, const struct stat3 *ref)
{
        if (x->valid && ref->valid && ref->med > 0)
                bprintf(buf, size, "%.2fx", x->med / ref->med);
        else
                bprintf(buf, size, "-");
}

/* One line of the table: the three transports and the bridge's ratios. */
static void row(struct bench *b, const char *what, const struct stat3 st[N_T], bool rate)
{
        char c[N_T][64], r1[16], r2[16];

        for (int t = 0; t < N_T; t++) {
                char m1[24], m2[24], m3[24];

                if (!st[t].valid)
                        bprintf(c[t], sizeof(c[t]), "-");
                else if (rate)
                        bprintf(c[t], sizeof(c[t]), "%s [%s..%s]",
                                fmt_rate(st[t].med, m1, sizeof(m1)),
                                fmt_rate(st[t].min, m2, sizeof(m2)),
                                fmt_rate(st[t].max, m3, sizeof(m3)));
                else
                        fmt_stat(&st[t], 0, c[t], sizeof(c[t]));
        }
        ratio_cell(r1, sizeof(r1), &st[T_BRIDGE], &st[T_NATS]);
        ratio_cell(r2, sizeof(r2), &st[T_BRIDGE], &st[T_ASAP]);
        out(b, "  %-24s %-24s %-24s %-24s %-8s %s\n", what, c[T_BRIDGE], c[T_NATS], c[T_ASAP], r1,
            r2);
}

/* CSV: every row of a transport; the ratio is to "nats" (the same libnats
 * options as the bridge), for the bridge and nats-asap rows. */
static void csv_rows(struct bench *b, const char *test, size_t size, const char *metric,
                     const char *unit, const struct stat3 st[N_T], const struct series *x)
{
        for (int t = 0; t < N_T; t++) {
                double ratio = 0;

                if (t != T_NATS && st[t].valid && st[T_NATS].valid && st[T_NATS].med > 0)
                        ratio = st[t].med / st[T_NATS].med;
                csv_row(b, "bridge", test, t_name[t], "unpinned", size, metric, unit,
                        st[t].valid ? &st[t] : NULL, ratio,
                        !st[t].valid  ? (x[t].why[0] ? x[t].why : "not measured")
                        : t != T_NATS ? "nats"
                                      : "");
        }
}

static void report(struct bench *b, struct series lat[N_T], struct series thr[N_SIZES][N_T])
{
        static const char *const metric[3] = {"p50", "p99", "p99.9"};
        static const char *const what[3] = {"round trip 64 B, median", "round trip 64 B, p99",
                                            "round trip 64 B, p99.9"};

        out(b, "  %-24s %-24s %-24s %-24s %-8s %s\n", "", "ipcd-bridge", "NATS direct",
            "NATS direct, SendAsap", "bridge/", "bridge/");
        out(b, "  %-24s %-24s %-24s %-24s %-8s %s\n", "(us; msgs/s [min..max])", "", "", "",
            "direct", "SendAsap");
        for (int k = 0; k < 3; k++) {
                struct stat3 st[N_T];

                for (int t = 0; t < N_T; t++)
                        st[t] = stat3_of(lat[t].v[k], lat[t].n);
                row(b, what[k], st, false);
                csv_rows(b, "rtt", 64, metric[k], "us", st, lat);
        }
        for (size_t s = 0; s < N_SIZES; s++) {
                struct stat3 st[N_T], lost[N_T];
                char label[40], c[N_T][64];

                for (int t = 0; t < N_T; t++) {
                        const struct series *x = &thr[s][t];

                        st[t] = stat3_of(thr[s][t].v[0], x->n);
                        lost[t] = (struct stat3){0};
                        if (x->n) { /* one figure over every repetition */
                                lost[t].med = lost[t].min = lost[t].max =
                                    (double)(x->sent - x->received);
                                lost[t].valid = true;
                        }
                        if (!x->n)
                                bprintf(c[t], sizeof(c[t]), "-");
                        else if (x->sent > x->received)
                                bprintf(c[t], sizeof(c[t]), "%llu of %llu (%.2g%%)",
                                        (unsigned long long)(x->sent - x->received),
                                        (unsigned long long)x->sent,
                                        100.0 * (double)(x->sent - x->received) / (double)x->sent);
                        else
                                bprintf(c[t], sizeof(c[t]), "0 of %llu",
                                        (unsigned long long)x->sent);
                }
                bprintf(label, sizeof(label), "one-way %zu B, msgs/s", sizes[s]);
                row(b, label, st, true);
                out(b, "  %-24s %-24s %-24s %s\n", "  lost", c[T_BRIDGE], c[T_NATS], c[T_ASAP]);
                csv_rows(b, "oneway", sizes[s], "rate", "msgs/s", st, thr[s]);
                for (int t = 0; t < N_T; t++)
                        csv_row(b, "bridge", "oneway", t_name[t], "unpinned", sizes[s], "lost",
                                "msgs", lost[t].valid ? &lost[t] : NULL, 0, "");
        }
        for (int t = 0; t < N_T; t++) {
                if (lat[t].failed)
                        out(b, "  (%s round trip: %u of %u repetitions failed: %s)\n", t_name[t],
                            lat[t].failed, b->reps, lat[t].why);
                for (size_t s = 0; s < N_SIZES; s++)
                        if (thr[s][t].failed)
                                out(b, "  (%s one-way %zu B: %u of %u repetitions failed: %s)\n",
                                    t_name[t], sizes[s], thr[s][t].failed, b->reps, thr[s][t].why);
        }
        out(b, "  (bridge/X: the bridge's figure / X's: a round trip above 1 is slower than NATS\n"
               "   alone, a rate below 1 is slower; lost: sent but never received, core NATS\n"
               "   being at most once.  SendAsap: libnats writes each publish at once instead of\n"
               "   leaving it to its flusher thread, which waits 1 ms for more before writing:\n"
               "   a round trip of two publishes pays that twice)\n");
}

/* The counters of one bridge (its --status answer), for the report. */
static int bridge_counters(struct bench *b, void *arg)
{
        const char *name = arg;
        bool a = strcmp(name, "bench-bridge-a") == 0;
        ipcd_client *c = NULL;
        ipcd_msg m;
        int r = connect_retry(a ? b->ipcd_rundir : w.rundir_b, NULL, &c);

        if (r < 0)
                return r;
        r = ipcd_call(c, name, 1, "status", 6, &m, 5000);
        if (r == 0) {
                const char *p = m.data, *end = p + m.len;
                char line[1024] = "";
                size_t used = 0;

                /* "name value" lines: the message counters that are not 0 */
                while (p < end) {
                        const char *nl = memchr(p, '\n', (size_t)(end - p));
                        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                        const char *sp = memchr(p, ' ', len);

                        size_t vlen = sp ? (size_t)(p + len - sp - 1) : 0;

                        if (vlen > 0 && strspn(sp + 1, "0123456789") >= vlen &&
                            !(vlen == 1 && sp[1] == '0') && used + len + 3 < sizeof(line)) {
                                bprintf(line + used, sizeof(line) - used, "%s%.*s",
                                        used ? ", " : "", (int)len, p);
                                used = strlen(line);
                        }
                        p += len + 1;
                }
                out(b, "  %s: %s\n", name, used ? line : "(no counter above 0)");
                ipcd_msg_release(c, &m);
        }
        ipcd_close(c);
        return r;
}

int bench_bridge(struct bench *b)
{
        struct series lat[N_T] = {{{{0}}}}, thr[N_SIZES][N_T] = {{{{{0}}}}};
        const struct transport *t[N_T] = {&transport_ipcd_bridge, NULL, NULL};
        unsigned reps = MIN(b->reps, (unsigned)BRIDGE_MAX_REPS);
        bool dead = false;
        pid_t pid;
        int r;

        out(b, "\n== 9. Across hosts: ipcd-bridge and NATS against a direct NATS pair "
               "(issue 14) ==\n");
#ifdef BENCH_NATS
        t[T_NATS] = &transport_nats;
        t[T_ASAP] = &transport_nats_asap;
        r = world_start(b);
#else
        bprintf(w.why, sizeof(w.why),
                "skipped: ipcd-bench was built without libnats (configure --with-nats; Debian: "
                "libnats-dev)");
        r = 1;
#endif
        if (r != 0) {
                if (r < 0 && !w.why[0])
                        bprintf(w.why, sizeof(w.why), "skipped: %s", strerror(-r));
                out(b, "  %s\n", w.why);
                csv_row(b, "bridge", "rtt", "ipcd-bridge", "unpinned", 64, "p50", "us", NULL, 0,
                        w.why);
                world_stop(b);
                return 1;
        }
        out(b,
            "Hosts A and B: two IPC namespaces, each with its ipcd and ipcd-bridge (%s);\n"
            "one nats-server (%s) at %s.  ipcd-bridge: A publishes on bx/N, exported by\n"
            "bridge A, imported by bridge B, received on B (reliable subscription); the\n"
            "answer goes back on by/N.  NATS direct: a libnats publisher/subscriber pair\n"
            "through the same server (subjects d.x.N, d.y.N), with libnats's default options\n"
            "as the bridge's connection, and with SendAsap.  Round trip and one-way:\n"
            "unpinned, the repetitions of the three interleaved.\n",
            w.bridge_path, w.nats_path, w.url);
        for (unsigned rep = 0; rep < reps && !dead; rep++)
                for (int i = 0; i < N_T && !dead; i++) {
                        struct lat_result one;
                        unsigned saved = b->reps;

                        if (!only_wants(b, "bridge", t[i]->name))
                                continue;
                        b->reps = 1;
                        vlog(b, "bridge: round trip %s, repetition %u", t[i]->name, rep + 1);
                        r = run_latency(b, t[i], false, 64, &one);
                        if (r == 0 && one.ok && lat[i].n < BRIDGE_MAX_REPS) {
                                lat[i].v[0][lat[i].n] = one.p50.med;
                                lat[i].v[1][lat[i].n] = one.p99.med;
                                lat[i].v[2][lat[i].n] = one.p999.med;
                                lat[i].n++;
                        } else {
                                lat[i].failed++;
                                bprintf(lat[i].why, sizeof(lat[i].why), "%s", one.why);
                        }
                        for (size_t s = 0; s < N_SIZES; s++) {
                                struct thr_result tr;
                                struct series *x = &thr[s][i];

                                vlog(b, "bridge: one-way %zu B %s, repetition %u", sizes[s],
                                     t[i]->name, rep + 1);
                                r = run_throughput(b, t[i], false, sizes[s], &tr);
                                if (r == 0 && tr.ok && x->n < BRIDGE_MAX_REPS) {
                                        x->v[0][x->n++] = tr.rate.med;
                                        x->sent += tr.sent;
                                        x->received += tr.received;
                                } else {
                                        x->failed++;
                                        bprintf(x->why, sizeof(x->why), "%s", tr.why);
                                }
                        }
                        b->reps = saved;
                        dead = !helpers_alive(b);
                        if (dead)
                                out(b, "  %s\n", w.why);
                }
        for (int i = 0; i < N_T; i++) {
                if (!lat[i].why[0] && !lat[i].n)
                        bprintf(lat[i].why, sizeof(lat[i].why), "not selected by --only");
                for (size_t s = 0; s < N_SIZES; s++)
                        if (!thr[s][i].why[0] && !thr[s][i].n)
                                bprintf(thr[s][i].why, sizeof(thr[s][i].why),
                                        "not selected by --only");
        }
        report(b, lat, thr);
        if (helpers_alive(b))
                for (int h = 0; h < 2; h++) {
                        pid = in_host(b, h == 1, bridge_counters,
                                      (void *)(h ? "bench-bridge-b" : "bench-bridge-a"));
                        if (wait_child(pid, 10, NULL) < 0)
                                kill_wait(pid);
                }
        world_stop(b);
        return 0;
}
