/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-policy - the access rules of ipcd.conf across uids, groups and
 * units (issue 13).  Starts its own ipcd (it reloads it, and reads its
 * log).  Clients are forked children that became uids 2001-2003; 2002 is
 * in group 3000 ("video").  Asserts, for the rules of CONFIG below:
 *  - own: 2001 owns camera/front; 2002 gets -EACCES for camera/x;
 *  - send: to watchdog only root (2001: -EACCES with IPCD_ACK);
 *  - receive: 2002 refuses what "noisy" sends (-EACCES to the sender);
 *  - publish: 2001 publishes lab/cam/open and lab/cam/secret; 2003 gets
 *    -EACCES for lab/cam/open... (publish is 2001's only);
 *  - subscribe by group: 2002 (group 3000) subscribes lab/cam/secret,
 *    2003 gets -EACCES; 2003's wildcard lab/cam/ then * hears open, never
 *    secret, and its history replay holds open only; the publish tells
 *    the publisher it reached the allowed subscribers only;
 *  - monitor: root's monitor of everything gets the copy of lab/cam/open
 *    and never the one of lab/cam/secret;
 *  - call by unit: a client in a cgroup .../allowed.service may call svc,
 *    one outside any unit gets -EACCES (skipped, said so, without a
 *    writable cgroup2 mount); status shows the unit;
 *  - bulk: 2003 may not use a ring (ipcd_buf_alloc -EACCES);
 *  - first match: the log names the rule's line;
 *  - SIGHUP with a broken file keeps the rules; a reload that denies
 *    camera/ names and 2002's subscription releases the name (notice
 *    IPCD_NOTICE_NAME_LOST, status shows it anonymous) and drops the
 *    subscription (IPCD_NOTICE_REVOKED, 0 subscriptions).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define CAMERA 2001
#define VIEWER 2002
#define OTHER 2003
#define VIDEO 3000

/* Line numbers matter: the log names them (rule N is on line N + 3). */
#define RULES                                                                                      \
        "{ action = \"own\"; name = \"camera/*\"; uid = 2001; decision = \"allow\"; },\n"          \
        "{ action = \"own\"; name = \"camera/*\"; decision = \"deny\"; },\n"                       \
        "{ action = \"publish\"; topic = \"lab/cam/*\"; uid = 2001; decision = \"allow\"; },\n"    \
        "{ action = \"publish\"; topic = \"lab/cam/*\"; decision = \"deny\"; },\n"                 \
        "{ action = \"subscribe\"; topic = \"lab/cam/secret\"; group = 3000; decision = \"allow\"; },\n" \
        "{ action = \"subscribe\"; topic = \"lab/cam/secret\"; decision = \"deny\"; },\n"          \
        "{ action = \"send\"; name = \"watchdog\"; uid = \"root\"; decision = \"allow\"; },\n"     \
        "{ action = \"send\"; name = \"watchdog\"; decision = \"deny\"; },\n"                      \
        "{ action = \"call\"; name = \"svc\"; unit = \"allowed.*\"; decision = \"allow\"; },\n"    \
        "{ action = \"call\"; name = \"svc\"; decision = \"deny\"; },\n"                           \
        "{ action = \"receive\"; name = \"noisy\"; uid = 2002; decision = \"deny\"; },\n"          \
        "{ action = \"monitor\"; topic = \"lab/cam/secret\"; decision = \"deny\"; },\n"            \
        "{ action = \"bulk\"; uid = 2003; decision = \"deny\"; }\n"
/* The reload's extra rules, ahead of the others. */
#define REVOKE                                                                                     \
        "{ action = \"own\"; name = \"camera/*\"; decision = \"deny\"; },\n"                       \
        "{ action = \"subscribe\"; topic = \"lab/cam/secret\"; group = 3000; decision = \"deny\"; },\n"

static char log_path[PATH_MAX], cg_dir[PATH_MAX];
static pid_t ipcd;

static void write_config(const char *rules, bool broken)
{
        const char *path = getenv("IPCD_TEST_CONFIG");
        FILE *f;

        CHECK_MSG(path && *path, "IPCD_TEST_CONFIG is not set");
        f = fopen(path, "we");
        CHECK(f);
        fprintf(f, "registration_rate = 100000;\nregistration_burst = 100000;\npolicy = (\n%s%s);\n",
                rules,
                broken ? "{ action = \"steal\"; decision = \"allow\"; }\n" : "");
        CHECK(fclose(f) == 0);
}

static unsigned log_count(const char *s)
{
        char line[1024];
        unsigned n = 0;
        FILE *f = fopen(log_path, "re");

        CHECK(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, s))
                        n++;
        fclose(f);
        return n;
}

/* ipcd's log on our stderr: the reason when it did not do what we wait for. */
static void dump_log(void)
{
        FILE *f = fopen(log_path, "re");
        char line[1024];

        while (f && fgets(line, sizeof(line), f))
                fputs(line, stderr);
        if (f)
                fclose(f);
}

static void reload(const char *until)
{
        unsigned before = log_count(until);
        uint64_t deadline = tl_now_ms() + 30000;

        CHECK(kill(ipcd, SIGHUP) == 0);
        while (log_count(until) == before) {
                if (tl_now_ms() >= deadline)
                        dump_log();
                CHECK_MSG(tl_now_ms() < deadline, "no \"%s\" logged within 30 s", until);
                tl_sleep_ms(10);
        }
}

/* A child of uid (its groups), in cgroup cg (NULL: ours), running fn with
 * a pipe from the parent (fn reads 'g' when told to go on) and one to it. */
struct kid {
        pid_t pid;
        int to, from;
};

static void kid_wait_byte(int fd, char want)
{
        char x = 0;

        CHECK_MSG(read(fd, &x, 1) == 1 && x == want, "sync: got '%c', expected '%c'", x, want);
}

static struct kid spawn(uid_t uid, gid_t group, const char *cg, void (*fn)(int in, int out))
{
        int down[2], up[2];
        struct kid k;

        CHECK(pipe(down) == 0 && pipe(up) == 0);
        k.pid = fork();
        CHECK(k.pid >= 0);
        if (k.pid == 0) {
                close(down[1]);
                close(up[0]);
                if (cg) {
                        char p[PATH_MAX + 32];
                        FILE *f;

                        snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
                        f = fopen(p, "we");
                        CHECK_MSG(f && fprintf(f, "%d\n", (int)getpid()) > 0 && fclose(f) == 0,
                                  "moving into %s failed", cg);
                }
                tl_become(uid, group ? &group : NULL, group ? 1 : 0);
                fn(down[0], up[1]);
                _exit(0);
        }
        close(down[0]);
        close(up[1]);
        k.to = down[1];
        k.from = up[0];
        return k;
}

static void kid_go(struct kid *k, char c)
{
        CHECK(write(k->to, &c, 1) == 1);
}

static void kid_end(struct kid *k)
{
        int status;

        CHECK(waitpid(k->pid, &status, 0) == k->pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (status %#x)",
                  (int)k->pid, status);
        close(k->to);
        close(k->from);
}

/* The next message or notice, with 30 s to come. */
static void next_any(ipcd_client *c, ipcd_msg *m)
{
        CHECK_OK(ipcd_recv(c, m, 0, 30000));
}

/* 2002, group video: cannot own camera/x; subscribes lab/cam/secret and
 * hears it; refuses "noisy"; after the revoking reload its subscription is
 * dropped with a notice. */
static void viewer(int in, int out)
{
        ipcd_client *c = NULL;
        ipcd_msg m;

        CHECK_R(ipcd_connect("camera/x", &c), -EACCES);
        c = tl_connect("viewer");
        CHECK_OK(ipcd_subscribe(c, "lab/cam/secret"));
        CHECK_OK(ipcd_subscribe(c, "lab/cam/*"));
        CHECK(write(out, "r", 1) == 1);
        kid_wait_byte(in, 'g'); /* published */
        tl_expect(c, 0, 5, "secret", 6, "camera/front");
        tl_expect(c, 0, 6, "open", 4, "camera/front");
        CHECK(write(out, "s", 1) == 1);
        kid_wait_byte(in, 'h'); /* reloaded */
        tl_expect(c, 0, 7, "secret", 6, "camera/front");
        tl_expect(c, 0, 8, "open", 4, "camera/front");
        next_any(c, &m);
        CHECK_MSG((m.flags & IPCD_MSG_NOTICE) && m.type == IPCD_NOTICE_REVOKED,
                  "expected the revocation notice, got type %ld flags %#x", m.type, m.flags);
        tl_log("viewer notice: %.*s", (int)m.len, (const char *)m.data);
        ipcd_msg_release(c, &m);
        CHECK(write(out, "t", 1) == 1);
        kid_wait_byte(in, 'q');
        ipcd_close(c);
}

/* 2003: may not subscribe lab/cam/secret, nor publish there, nor use a
 * ring; its wildcard hears open only, its history replay too. */
static void other(int in, int out)
{
        ipcd_client *c = tl_connect("other");
        void *buf = NULL;
        ipcd_msg m;

        CHECK_R(ipcd_subscribe(c, "lab/cam/secret"), -EACCES);
        CHECK_R(ipcd_publish(c, "lab/cam/open", 1, "x", 1, IPCD_ACK), -EACCES);
        CHECK_R(ipcd_send(c, "watchdog", 1, "x", 1, IPCD_ACK), -EACCES);
        CHECK_R(ipcd_call(c, "svc", 1, "q", 1, &m, 10000), -EACCES);
        CHECK_R(ipcd_buf_alloc(c, 4096, IPCD_NONBLOCK, &buf), -EACCES);
        CHECK(write(out, "r", 1) == 1);
        kid_wait_byte(in, 'g'); /* published, with history */
        /* Late joiner: the history of lab/cam/open, not of secret. */
        CHECK_OK(ipcd_subscribe(c, "lab/cam/*"));
        CHECK_OK(tl_recv(c, &m, 0, 30000));
        CHECK_MSG(strcmp(m.topic, "lab/cam/open") == 0, "history replay of %s", m.topic);
        ipcd_msg_release(c, &m);
        tl_expect_empty(c);
        CHECK(write(out, "s", 1) == 1);
        kid_wait_byte(in, 'G'); /* published again */
        CHECK_OK(tl_recv(c, &m, 0, 30000));
        CHECK_MSG(strcmp(m.topic, "lab/cam/open") == 0 && m.type == 8, "heard %s type %ld",
                  m.topic, m.type);
        ipcd_msg_release(c, &m);
        tl_expect_empty(c);
        CHECK(write(out, "t", 1) == 1);
        kid_wait_byte(in, 'q');
        ipcd_close(c);
}

/* 2001: owns camera/front, publishes; may not send to watchdog; loses its
 * name at the revoking reload. */
static void camera(int in, int out)
{
        ipcd_client *c = tl_connect("camera/front");
        ipcd_msg m;

        CHECK_R(ipcd_send(c, "watchdog", 1, "x", 1, IPCD_ACK), -EACCES);
        CHECK_OK(ipcd_set_history(c, "lab/cam/open", 4));
        CHECK_OK(ipcd_set_history(c, "lab/cam/secret", 4));
        /* viewer hears both; other is not subscribed yet. */
        CHECK_R(ipcd_publish(c, "lab/cam/secret", 5, "secret", 6, IPCD_ACK), 1);
        CHECK_R(ipcd_publish(c, "lab/cam/open", 6, "open", 4, IPCD_ACK), 1);
        CHECK(write(out, "r", 1) == 1);
        kid_wait_byte(in, 'g'); /* other subscribed lab/cam/ then * */
        /* viewer (both) and other's wildcard (not secret): 1 + 0, 1 + 1. */
        CHECK_R(ipcd_publish(c, "lab/cam/secret", 7, "secret", 6, IPCD_ACK), 1);
        CHECK_R(ipcd_publish(c, "lab/cam/open", 8, "open", 4, IPCD_ACK), 2);
        CHECK(write(out, "s", 1) == 1);
        kid_wait_byte(in, 'h'); /* reloaded */
        next_any(c, &m);
        CHECK_MSG((m.flags & IPCD_MSG_NOTICE) && m.type == IPCD_NOTICE_NAME_LOST,
                  "expected the name-lost notice, got type %ld flags %#x", m.type, m.flags);
        tl_log("camera notice: %.*s", (int)m.len, (const char *)m.data);
        ipcd_msg_release(c, &m);
        CHECK(write(out, "t", 1) == 1);
        kid_wait_byte(in, 'q');
        ipcd_close(c);
}

/* In allowed.service: may call svc. */
static void unit_caller(int in, int out)
{
        ipcd_client *c = tl_connect(NULL);
        ipcd_msg m;

        CHECK_OK(ipcd_call(c, "svc", 1, "q", 1, &m, 30000));
        CHECK_MSG(m.len == 1 && memcmp(m.data, "a", 1) == 0, "reply of %zu bytes", m.len);
        ipcd_msg_release(c, &m);
        CHECK(write(out, "r", 1) == 1);
        kid_wait_byte(in, 'q'); /* the parent looked at the status */
        ipcd_close(c);
}

static void expect_monitor(ipcd_client *mon, const char *dst, long type)
{
        ipcd_msg m;

        CHECK_OK(tl_recv(mon, &m, 0, 30000));
        CHECK_MSG((m.flags & IPCD_MSG_MONITOR) && strcmp(m.topic, dst) == 0 && m.type == type,
                  "monitor copy of %s type %ld, expected %s type %ld", m.topic, m.type, dst, type);
        ipcd_msg_release(mon, &m);
}

/* Answer one call on svc. */
static void serve_call(ipcd_client *svc)
{
        ipcd_msg m;

        CHECK_OK(tl_recv(svc, &m, 0, 30000));
        CHECK(m.flags & IPCD_MSG_REQUEST);
        CHECK_OK(ipcd_reply(svc, &m, 1, "a", 1));
        ipcd_msg_release(svc, &m);
}

static bool make_cgroup(void)
{
        static const char *const roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
        char p[PATH_MAX + 64];

        for (size_t i = 0; i < 2; i++) {
                struct stat st;

                snprintf(p, sizeof(p), "%s/cgroup.procs", roots[i]);
                if (stat(p, &st) < 0)
                        continue;
                snprintf(cg_dir, sizeof(cg_dir), "%s/ipcd-test-%d.slice", roots[i], (int)getpid());
                if (mkdir(cg_dir, 0755) < 0)
                        continue;
                snprintf(p, sizeof(p), "%s/allowed.service", cg_dir);
                if (mkdir(p, 0755) == 0)
                        return true;
                rmdir(cg_dir);
        }
        cg_dir[0] = '\0';
        return false;
}

static void drop_cgroup(void)
{
        char p[PATH_MAX + 32];

        if (!cg_dir[0])
                return;
        snprintf(p, sizeof(p), "%s/allowed.service", cg_dir);
        rmdir(p);
        rmdir(cg_dir);
}

static void check_units_and_calls(ipcd_client *svc)
{
        char cg[PATH_MAX + 32];
        struct kid k;

        if (!make_cgroup()) {
                tl_log("SKIP the unit case: no writable cgroup2 hierarchy to fake a unit in");
                return;
        }
        snprintf(cg, sizeof(cg), "%s/allowed.service", cg_dir);
        k = spawn(OTHER, 0, cg, unit_caller);
        serve_call(svc);
        kid_wait_byte(k.from, 'r');
        {
                struct tl_status st;
                bool seen = false;

                tl_status(&st);
                for (size_t i = 0; i < st.n_clients; i++)
                        if (strcmp(st.clients[i].unit, "allowed.service") == 0)
                                seen = true;
                tl_status_free(&st);
                CHECK_MSG(seen, "status shows no client of allowed.service");
        }
        kid_go(&k, 'q');
        kid_end(&k);
        drop_cgroup();
        tl_log("unit: allowed.service may call svc; outside it, -EACCES");
}

int main(int argc, char **argv)
{
        struct kid cam, view, oth;
        ipcd_client *wd, *svc, *noisy, *mon;
        struct tl_status st;
        int saved, lfd, st_ipcd;

        tl_init(argc, argv);
        tl_require_uids(CAMERA, 3);
        CHECK_MSG(getenv("IPCD_TEST_TMP"), "IPCD_TEST_TMP is not set");
        snprintf(log_path, sizeof(log_path), "%s/policy-ipcd.log", getenv("IPCD_TEST_TMP"));
        write_config(RULES, false);
        lfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        CHECK(lfd >= 0);
        saved = dup(2);
        CHECK(saved >= 0 && dup2(lfd, 2) == 2);
        ipcd = tl_ipcd_start();
        CHECK(dup2(saved, 2) == 2);
        close(saved);
        close(lfd);

        wd = tl_connect("watchdog");
        svc = tl_connect("svc");
        noisy = tl_connect("noisy");
        mon = tl_connect("mon");
        CHECK_OK(ipcd_monitor(mon, "lab/*"));
        /* root may send to watchdog */
        tl_send(noisy, "watchdog", 1, "ok", 2, IPCD_ACK);
        tl_expect(wd, 0, 1, "ok", 2, "noisy");

        view = spawn(VIEWER, VIDEO, NULL, viewer);
        kid_wait_byte(view.from, 'r');
        /* receive: viewer refuses noisy */
        CHECK_R(ipcd_send(noisy, "viewer", 1, "x", 1, IPCD_ACK), -EACCES);
        oth = spawn(OTHER, 0, NULL, other);
        kid_wait_byte(oth.from, 'r');
        cam = spawn(CAMERA, 0, NULL, camera);
        kid_wait_byte(cam.from, 'r');
        /* The monitor: open's copy, never secret's (which came first). */
        expect_monitor(mon, "lab/cam/open", 6);
        kid_go(&view, 'g');
        kid_wait_byte(view.from, 's');
        kid_go(&oth, 'g');
        kid_wait_byte(oth.from, 's');
        kid_go(&cam, 'g');
        kid_wait_byte(cam.from, 's');
        expect_monitor(mon, "lab/cam/open", 8);
        kid_go(&oth, 'G');
        kid_wait_byte(oth.from, 't');
        tl_expect_empty(mon);

        check_units_and_calls(svc);

        /* The log names the deciding rule's line (send watchdog, rule 8: line 11). */
        CHECK_MSG(log_count("denied by the rule at line 11") >= 1, "no denial logged for line 11");

        /* status counts the rules and the denials. */
        tl_status(&st);
        CHECK_EQ(st.daemon.policy_rules, 13);
        CHECK_MSG(st.daemon.policy_denied >= 10, "%llu denials counted",
                  (unsigned long long)st.daemon.policy_denied);
        tl_status_free(&st);

        /* A broken file keeps the rules in force. */
        write_config(RULES, true);
        reload("reload failed");
        CHECK_R(ipcd_send(noisy, "viewer", 1, "x", 1, IPCD_ACK), -EACCES);

        /* A reload that revokes camera/front's name and viewer's subscriptions. */
        write_config(REVOKE RULES, false);
        reload("configuration reloaded");
        kid_go(&cam, 'h');
        kid_go(&view, 'h');
        kid_wait_byte(cam.from, 't');
        kid_wait_byte(view.from, 't');
        tl_status(&st);
        CHECK_MSG(!tl_status_client(&st, "camera/front"), "camera/front still named");
        CHECK_EQ(tl_status_client(&st, "viewer")->subscriptions, 1); /* lab/cam/ then * stays */
        tl_status_free(&st);
        kid_go(&cam, 'q');
        kid_go(&view, 'q');
        kid_go(&oth, 'q');
        kid_end(&cam);
        kid_end(&view);
        kid_end(&oth);
        tl_log("policy: own/send/receive/publish/subscribe/call/monitor/bulk allowed and denied; "
               "revoked on reload");
        ipcd_close(wd);
        ipcd_close(svc);
        ipcd_close(noisy);
        ipcd_close(mon);
        st_ipcd = tl_ipcd_stop(ipcd, SIGTERM);
        if (WIFSIGNALED(st_ipcd)) {
                /* its log, for the reason (a sanitizer report, say) */
                dump_log();
        }
        CHECK_MSG(!WIFSIGNALED(st_ipcd), "ipcd was killed by signal %d",
                  WIFSIGNALED(st_ipcd) ? WTERMSIG(st_ipcd) : 0);
        return 0;
}
