/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * control.c - the control FIFO: framing of text lines, registration and
 * STATUS.  Every byte on the FIFO comes from an untrusted writer: a line
 * that does not parse costs only itself and is counted, and a partial
 * line is dropped after CONTROL_PARTIAL_MS so that a writer that stops
 * mid-line does not take the next writer's line with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcd/core/flow.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/snapshot.h"
#include "ipcd/daemon.h"
#include "shared/log.h"
#include "shared/clock.h"
#include "shared/util.h"

#ifndef IPCD_VERSION_STRING
#define IPCD_VERSION_STRING PACKAGE_VERSION
#endif

static struct log_ratelimit control_rl = LOG_RATELIMIT_INIT(5000, 10);

struct proc_creds {
        uid_t ruid, euid;
        gid_t groups[64];
        size_t ngroups;
        gid_t rgid;
};

/* Read Uid:, Gid: and Groups: of /proc/PID/status. */
static int proc_creds(pid_t pid, struct proc_creds *pc)
{
        char path[64], line[1024];
        bool have_uid = false;
        FILE *f;

        memset(pc, 0, sizeof(*pc));
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                unsigned a, b;

                if (sscanf(line, "Uid:\t%u\t%u", &a, &b) == 2) {
                        pc->ruid = a;
                        pc->euid = b;
                        have_uid = true;
                } else if (sscanf(line, "Gid:\t%u", &a) == 1) {
                        pc->rgid = a;
                } else if (strncmp(line, "Groups:", 7) == 0) {
                        char *s = line + 7, *end;

                        while (pc->ngroups < ELEMENTSOF(pc->groups)) {
                                unsigned long g = strtoul(s, &end, 10);

                                if (end == s)
                                        break;
                                pc->groups[pc->ngroups++] = (gid_t)g;
                                s = end;
                        }
                }
        }
        fclose(f);
        return have_uid ? 0 : -ESRCH;
}

static bool unit_char(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == ':' || ch == '_' || ch == '.' || ch == '\\' || ch == '@' || ch == '-';
}

/* A systemd unit's name ("foo.service", "session-2.scope"), not a slice. */
static bool is_unit_name(const char *s, size_t n)
{
        static const char *const suffixes[] = { ".service", ".scope", ".socket", ".mount",
                                                ".swap" };

        if (n == 0 || n >= POLICY_UNIT_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!unit_char(s[i]))
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t k = strlen(suffixes[i]);

                if (n > k && memcmp(s + n - k, suffixes[i], k) == 0)
                        return true;
        }
        return false;
}

/*
 * The systemd unit of a cgroup path (the unified hierarchy's "0::" line,
 * else the "name=systemd:" one): the innermost path component that names
 * a unit, so "/system.slice/foo.service" is foo.service, a user unit
 * ".../user@1000.service/app.slice/bar.service" is bar.service (its uid
 * says whose), a login session "session-2.scope"; a process in no unit
 * (a container's "/") has "".  Subgroups a unit made under itself
 * ("foo.service/worker") count as that unit.
 */
void control_unit_of_cgroup(const char *path, char unit[POLICY_UNIT_MAX])
{
        const char *p = path;

        unit[0] = '\0';
        while (*p) {
                const char *end;

                while (*p == '/')
                        p++;
                end = strchrnul(p, '/');
                if (is_unit_name(p, (size_t)(end - p))) {
                        memcpy(unit, p, (size_t)(end - p));
                        unit[end - p] = '\0';
                }
                p = end;
        }
}

/* The unit of pid, from /proc/PID/cgroup; "" when none (or unreadable). */
static void proc_unit(pid_t pid, char unit[POLICY_UNIT_MAX])
{
        char path[64], line[4096], v1[4096] = "";
        bool found = false;
        FILE *f;

        unit[0] = '\0';
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return;
        while (!found && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                if (strncmp(line, "0::", 3) == 0) {
                        control_unit_of_cgroup(line + 3, unit);
                        found = unit[0] != '\0';
                } else if (strstr(line, ":name=systemd:"))
                        snprintf(v1, sizeof(v1), "%s", strstr(line, ":name=systemd:") + 14);
        }
        fclose(f);
        if (!found && v1[0])
                control_unit_of_cgroup(v1, unit);
}

void control_identities_refresh(struct daemon *d)
{
        for (struct client *c = d->router.clients; c; c = c->next) {
                struct proc_creds pc;

                c->ngroups = 0;
                if (proc_creds(c->pid, &pc) == 0) {
                        c->gid = pc.rgid;
                        c->ngroups = (uint32_t)MIN(pc.ngroups, (size_t)CLIENT_GROUPS_MAX);
                        for (uint32_t i = 0; i < c->ngroups; i++)
                                c->groups[i] = pc.groups[i];
                }
                proc_unit(c->pid, c->unit);
                /* into its unit's books (the state joined it in none) */
                if (unit_books_rejoin(&d->router, c) < 0)
                        log_warning("client %llu: out of memory for its unit's books",
                                    (unsigned long long)c->id);
        }
}

/* An error answer is written now or never: a FIFO nobody reads must not
 * cost ipcd a descriptor and a buffer (the client retries anyway). */
static void reply_error(struct daemon *d, int fd, const uint8_t nonce[WIRE_NONCE_SIZE], int error,
                        const char *message)
{
        struct wire_rec_error e = { .error = error };
        uint8_t buf[WIRE_REC_MAX];
        int n;

        (void)d;
        snprintf(e.message, sizeof(e.message), "%s", message);
        n = wire_rec_put(buf, sizeof(buf), WIRE_REC_ERROR, nonce, &e, sizeof(e));
        if (n > 0 && write(fd, buf, (size_t)n) != n)
                log_debug("error answer not written: the reply FIFO is full or gone");
        safe_close(fd);
}

/* Open the reply FIFO a request names; fd or -errno.  *uid gets its owner. */
static int open_reply_fifo(struct daemon *d, const char *fifo, uid_t *uid)
{
        struct stat st;
        int fd;

        /* The basename was validated as 32 hex digits: no '/', no "..". */
        fd = openat(d->clients_fd, fifo, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int e = -errno;
                safe_close(fd);
                return e;
        }
        /* A hard link to someone else's FIFO would lend us their identity. */
        if (!S_ISFIFO(st.st_mode) || st.st_nlink != 1) {
                safe_close(fd);
                return -EPERM;
        }
        *uid = st.st_uid;
        return fd;
}

/* A REGISTER whose reply FIFO has no reader (-ENXIO) from a process that
 * no longer exists: its maker was killed between writing the request and
 * reading the answer (the library opens the FIFO for reading before it
 * writes the request), so nobody will ever remove the FIFO: remove it
 * here, or a killed client leaves one in clients/ for good (tests/soak.sh
 * found it).  Only a FIFO, and only when the pid the request names is
 * gone. */
static void reply_fifo_orphaned(struct daemon *d, const struct wire_ctl *req, int e)
{
        struct stat st;

        if (e != -ENXIO || req->pid <= 0 || kill(req->pid, 0) == 0 || errno != ESRCH)
                return;
        if (fstatat(d->clients_fd, req->fifo, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISFIFO(st.st_mode))
                return;
        if (unlinkat(d->clients_fd, req->fifo, 0) == 0)
                log_debug("REGISTER: removed the reply FIFO %s of pid %d, gone", req->fifo,
                          (int)req->pid);
}

static long pidfd_open_(pid_t pid)
{
        return syscall(SYS_pidfd_open, pid, 0);
}

/* May the process req names register as uid: 0, or -errno to refuse
 * with.  *pidfd gets its pidfd (the caller closes it on refusal), *cr its
 * credentials for policy (pointing into *pc). */
static int register_vet(struct daemon *d, const struct wire_ctl *req, uid_t uid,
                        struct proc_creds *pc, struct policy_creds *cr, int *pidfd)
{
        uint64_t ns;
        int e;

        /* The process it names must be of the FIFO owner's uid and in our
         * IPC namespace.  Take the pidfd first, then check, so that the
         * process checked is the one watched. */
        *pidfd = (int)pidfd_open_(req->pid);
        if (*pidfd < 0)
                return -errno;
        e = proc_creds(req->pid, pc);
        if (e < 0)
                return e;
        /* Real and effective uid both: a set-uid process would lend the
         * groups of whoever ran it. */
        if (pc->ruid != uid || pc->euid != uid)
                return -EPERM;
        *cr = (struct policy_creds){ uid, pc->rgid, pc->groups, pc->ngroups };
        e = router_errno(policy_check_register(cr, d->have_clients_group, d->clients_gid));
        if (e < 0)
                return e;
        /* /proc/PID/ns/ipc of another uid's process needs ptrace access,
         * which ipcd running as its own user lacks (and must not get).  When
         * it cannot look, the library checks: the registration reply
         * carries ipcd's namespace and a client in another one gives up
         * with -EXDEV (and ipcd sees it leave). */
        e = util_ipc_ns(req->pid, &ns);
        if (e < 0 && e != -EACCES && e != -EPERM)
                return e;
        if (e == 0 && ns != d->ipc_ns)
                return -EXDEV;
        return 0;
}

/* What a registered client is told (lock held). */
static void registered_body(struct daemon *d, const struct client *c,
                            struct wire_rec_registered *reg)
{
        reg->client_id = c->id;
        memcpy(reg->token, c->token, sizeof(reg->token));
        reg->inbound_qid = c->uq->qid;
        reg->queue_qid = c->qid;
        reg->semid = c->semid;
        reg->max_payload = d->router.lim.max_payload;
        reg->max_qmsg = (uint32_t)c->qmsg_max;
        reg->daemon_pid = getpid();
        reg->ipc_ns = d->ipc_ns;
        reg->instance = d->router.instance;
        reg->flow_window = flow_window(&d->router);
        reg->flow_client = flow_client_budget(&d->router);
        reg->flow_bulk_window = d->router.nrings ? flow_bulk_window(&d->router, d->router.rings[0]->lane_size) : 0;
}

static void handle_register(struct daemon *d, const struct wire_ctl *req, const uint8_t *nonce)
{
        struct router *r = &d->router;
        struct wire_rec_registered reg = { 0 };
        struct proc_creds pc;
        struct policy_creds cr;
        struct policy_subject who;
        char unit[POLICY_UNIT_MAX];
        struct client *c = NULL;
        uid_t uid;
        int fd, pidfd = -1, e;

        fd = open_reply_fifo(d, req->fifo, &uid);
        if (fd < 0) {
                /* No one to answer (gone, or not a FIFO of its own): count it. */
                router_lock(r);
                r->cnt.refused++;
                router_unlock(r);
                log_ratelimited(&control_rl, LOG_NOTICE, "REGISTER: reply FIFO %s: %s",
                                req->fifo, strerror(-fd));
                reply_fifo_orphaned(d, req, fd);
                return;
        }

        /* Every request costs a token of the uid's bucket, refused ones
         * too: a flood of bad registrations is bounded like good ones. */
        router_lock(r);
        if (!router_rate_take(r, uid)) {
                r->cnt.limit_hits++;
                r->cnt.refused++;
                router_unlock(r);
                e = -EAGAIN;
                goto refuse;
        }
        router_unlock(r);

        e = register_vet(d, req, uid, &pc, &cr, &pidfd);
        if (e < 0)
                goto refuse;
        /* Read after the pidfd was taken and the uid checked: the process
         * watched.  (A process of that uid may move itself between cgroups
         * it may write: a unit attests as much as its cgroup's owner lets
         * it; systemd's own units are root's, see ipcd.conf(5).) */
        proc_unit(req->pid, unit);
        who = (struct policy_subject){ uid, cr.gid, cr.groups, cr.ngroups, unit };

        router_lock(r);
        e = router_errno(router_client_add_as(r, &who, req->pid, req->name, &c));
        if (e == 0) {
                c->fifo_fd = fd;
                c->pidfd = pidfd;
                c->privileged = policy_is_privileged(&cr, d->gid);
                c->ring_access = policy_ring_access(&cr, r->rings, r->nrings);
                registered_body(d, c, &reg);
        } else
                r->cnt.refused++;
        router_unlock(r);
        if (e < 0)
                goto refuse;

        e = event_watch_client(d, c);
        if (e < 0) {
                router_lock(r);
                router_client_remove(r, c);
                router_unlock(r);
                /* fifo_fd and pidfd are closed when the client is reaped. */
                return;
        }
        {
                uint8_t buf[WIRE_REC_MAX];
                int n = wire_rec_put(buf, sizeof(buf), WIRE_REC_REGISTERED, nonce, &reg, sizeof(reg));

                /* The FIFO is new and empty: the record fits. */
                if (write(fd, buf, (size_t)n) != n) {
                        router_lock(r);
                        router_client_remove(r, c);
                        router_unlock(r);
                        return;
                }
        }
        event_log_client(LOG_INFO, c, "registered");
        return;

refuse:
        safe_close(pidfd);
        log_ratelimited(&control_rl, LOG_INFO, "REGISTER %s (uid %u, pid %d) refused: %s",
                        req->name[0] ? req->name : "-", (unsigned)uid, (int)req->pid,
                        strerror(-e));
        reply_error(d, fd, nonce, e, strerror(-e));
}

/* Append a record to a growing buffer. */
struct outbuf {
        uint8_t *p;
        size_t len, cap;
        bool failed;
};

static void out_rec(struct outbuf *o, enum wire_rec_kind kind, const uint8_t *nonce,
                    const void *body, size_t len)
{
        size_t need = sizeof(struct wire_rec) + len;

        if (o->failed)
                return;
        if (o->len + need > o->cap) {
                size_t ncap = MAX(o->cap * 2, o->len + need + 4096);
                uint8_t *np = realloc(o->p, ncap);

                if (!np) {
                        o->failed = true;
                        return;
                }
                o->p = np;
                o->cap = ncap;
        }
        o->len += (size_t)wire_rec_put(o->p + o->len, o->cap - o->len, kind, nonce, body, len);
}

/* A pipe's default capacity: an answer this small is never parked. */
#define STATUS_MIN_BYTES (64 * 1024)

static void handle_status(struct daemon *d, const struct wire_ctl *req, const uint8_t *nonce)
{
        bool policy = req->cmd == WIRE_CTL_POLICY;
        struct policy_rules rules = { 0 };
        struct router *r = &d->router;
        struct outbuf o = { 0 };
        struct router_status st;
        uint64_t cap;
        uid_t uid;
        int fd, e;

        fd = open_reply_fifo(d, req->fifo, &uid);
        if (fd < 0) {
                log_ratelimited(&control_rl, LOG_NOTICE, "STATUS: reply FIFO %s: %s", req->fifo,
                                strerror(-fd));
                return;
        }

        router_lock(r);
        /* STATUS costs a snapshot: it shares the registrations' bucket. */
        if (!router_rate_take(r, uid)) {
                r->cnt.limit_hits++;
                router_unlock(r);
                reply_error(d, fd, nonce, -EAGAIN, "too many requests");
                return;
        }
        e = router_status_collect(r, &st);
        /* POLICY: the rules in force with their hits, copied under the lock. */
        if (e == 0 && policy && policy_rules_copy(&rules, &r->policy) < 0) {
                router_status_free(&st);
                e = -ENOMEM;
        }
        router_unlock(r);
        if (e < 0) {
                safe_close(fd);
                return;
        }
        router_status_complete(&st);
        st.set.daemon.pid = getpid();
        snprintf(st.set.daemon.version, sizeof(st.set.daemon.version), "%s", IPCD_VERSION_STRING);
        out_rec(&o, WIRE_REC_STATUS_DAEMON, nonce, &st.set.daemon, sizeof(st.set.daemon));
        cap = MAX(d->parked_bytes_per_uid, STATUS_MIN_BYTES);
        if (policy) {
                /* At most what one uid may have parked, as topics below:
                 * the daemon record's policy_rules says how many there are. */
                for (size_t i = 0; i < rules.n; i++) {
                        struct wire_policy_rule w;

                        if (o.len + 2 * sizeof(struct wire_rec) + sizeof(w) > cap)
                                break;
                        policy_rule_to_wire(&rules.rules[i], &w);
                        out_rec(&o, WIRE_REC_POLICY_RULE, nonce, &w, sizeof(w));
                }
                policy_rules_free(&rules);
                goto end;
        }
        for (size_t i = 0; i < st.set.nqueues; i++)
                out_rec(&o, WIRE_REC_STATUS_QUEUE, nonce, &st.set.queues[i],
                        sizeof(st.set.queues[i]));
        for (size_t i = 0; i < st.set.nclients; i++)
                out_rec(&o, WIRE_REC_STATUS_CLIENT, nonce, &st.set.clients[i],
                        sizeof(st.set.clients[i]));
        for (size_t i = 0; i < st.set.nrings; i++)
                out_rec(&o, WIRE_REC_STATUS_RING, nonce, &st.set.rings[i], sizeof(st.set.rings[i]));
        /* Channels are bounded by channels_total. */
        for (size_t i = 0; i < st.set.nchannels; i++)
                out_rec(&o, WIRE_REC_STATUS_CHANNEL, nonce, &st.set.channels[i],
                        sizeof(st.set.channels[i]));
        /* The answer is at most what one uid may have parked (at least a
         * pipe's capacity, which never needs parking): topics beyond are
         * left out, and the daemon record's ntopics, which counts them
         * all, says so (ipcdctl topics prints how many were left out). */
        for (size_t i = 0; i < st.set.ntopics; i++) {
                size_t need = 2 * sizeof(struct wire_rec) + sizeof(st.set.topics[i]); /* + END */

                if (o.len + need > cap)
                        break;
                out_rec(&o, WIRE_REC_STATUS_TOPIC, nonce, &st.set.topics[i],
                        sizeof(st.set.topics[i]));
        }
end:
        router_status_free(&st);
        out_rec(&o, WIRE_REC_END, nonce, NULL, 0);
        if (o.failed) {
                free(o.p);
                safe_close(fd);
                return;
        }
        event_write_reply(d, uid, fd, o.p, o.len);
}

/* REEXEC: the requester must be root, of ipcd's group or ipcd's own
 * user (the process it names, of the FIFO owner's uid).  The answer is
 * END; the re-exec happens once the control FIFO read is over. */
static void handle_reexec(struct daemon *d, const struct wire_ctl *req, const uint8_t *nonce)
{
        struct proc_creds pc;
        struct policy_creds cr;
        uint8_t buf[WIRE_REC_MAX];
        uid_t uid;
        int fd, e, n;

        fd = open_reply_fifo(d, req->fifo, &uid);
        if (fd < 0) {
                log_ratelimited(&control_rl, LOG_NOTICE, "REEXEC: reply FIFO %s: %s", req->fifo,
                                strerror(-fd));
                return;
        }
        e = proc_creds(req->pid, &pc);
        if (e == 0 && (pc.ruid != uid || pc.euid != uid))
                e = -EPERM;
        cr = (struct policy_creds){ uid, pc.rgid, pc.groups, pc.ngroups };
        if (e == 0 && !policy_is_privileged(&cr, d->gid) && uid != geteuid())
                e = -EPERM;
        if (e < 0) {
                log_ratelimited(&control_rl, LOG_NOTICE, "REEXEC from uid %u refused: %s",
                                (unsigned)uid, strerror(-e));
                reply_error(d, fd, nonce, e, e == -EPERM ? "root and ipcd's group only"
                                                         : strerror(-e));
                return;
        }
        n = wire_rec_put(buf, sizeof(buf), WIRE_REC_END, nonce, NULL, 0);
        if (n > 0 && write(fd, buf, (size_t)n) != n)
                log_debug("REEXEC answer not written");
        safe_close(fd);
        log_notice("re-exec requested by uid %u (pid %d)", (unsigned)uid, (int)req->pid);
        d->reexec_requested = true;
}

static void count_bad_line(struct daemon *d)
{
        router_lock(&d->router);
        d->router.cnt.bad_control++;
        router_unlock(&d->router);
}

static void handle_line(struct daemon *d, const char *line, size_t len)
{
        struct wire_ctl req;
        uint8_t nonce[WIRE_NONCE_SIZE];

        if (wire_ctl_parse(line, len, &req) < 0 ||
            wire_hex_decode(req.nonce, nonce, sizeof(nonce)) < 0) {
                count_bad_line(d);
                log_ratelimited(&control_rl, LOG_NOTICE, "ignored an invalid control line (%zu bytes)",
                                len);
                return;
        }
        switch (req.cmd) {
        case WIRE_CTL_REGISTER:
                handle_register(d, &req, nonce);
                break;
        case WIRE_CTL_STATUS:
        case WIRE_CTL_POLICY:
                handle_status(d, &req, nonce);
                break;
        case WIRE_CTL_REEXEC:
                handle_reexec(d, &req, nonce);
                break;
        }
}

/* Bytes after a REEXEC line, for the new image (at most one read). */
static void control_keep_rest(struct daemon *d, const char *buf, size_t n)
{
        uint8_t *p = realloc(d->rest, d->rest_len + n);

        if (!p || d->rest_len + n > SNAPSHOT_REST_MAX) {
                free(p);
                d->rest = NULL;
                d->rest_len = 0;
                log_warning("re-exec: %zu control bytes dropped (out of memory)", n);
                return;
        }
        memcpy(p + d->rest_len, buf, n);
        d->rest = p;
        d->rest_len += n;
}

/*
 * Lines end at '\n'; empty lines are ignored without a word (every client
 * starts its request with one, so that junk a stray writer left before it
 * ends as a line of its own).  A partial line remembers when its first
 * byte came: control_expire() drops it once it is CONTROL_PARTIAL_MS old.
 */
void control_feed(struct daemon *d, const char *buf, size_t n)
{
        uint64_t now = 0;

        for (size_t i = 0; i < n; i++) {
                char ch = buf[i];

                if (ch == '\n') {
                        if (d->line_discard) {
                                d->line_discard = false;
                                count_bad_line(d);
                        } else if (d->line_len > 0)
                                handle_line(d, d->line, d->line_len);
                        d->line_len = 0;
                        d->line_since_ms = 0;
                        if (d->reexec_requested && i + 1 < n) {
                                /* The new image handles what follows. */
                                control_keep_rest(d, buf + i + 1, n - i - 1);
                                return;
                        }
                        continue;
                }
                if (!d->line_since_ms) {
                        if (!now)
                                now = clock_now_ms();
                        d->line_since_ms = now ? now : 1;
                }
                if (d->line_discard)
                        continue;
                if (d->line_len >= sizeof(d->line) - 1) {
                        /* Longer than PIPE_BUF: not ours; skip to the next newline. */
                        d->line_discard = true;
                        d->line_len = 0;
                        continue;
                }
                d->line[d->line_len++] = ch;
        }
}

uint64_t control_expire(struct daemon *d, uint64_t now_ms)
{
        if (!d->line_since_ms)
                return 0;
        if (now_ms - d->line_since_ms < CONTROL_PARTIAL_MS)
                return d->line_since_ms + CONTROL_PARTIAL_MS;
        /* A writer that stopped mid-line: the next line must not pay for it. */
        log_ratelimited(&control_rl, LOG_NOTICE, "dropped a partial control line (%zu bytes) "
                        "after %u ms", d->line_len, CONTROL_PARTIAL_MS);
        count_bad_line(d);
        d->line_len = 0;
        d->line_discard = false;
        d->line_since_ms = 0;
        return 0;
}

void control_read(struct daemon *d)
{
        char buf[SNAPSHOT_REST_MAX];

        for (int i = 0; i < 16 && !d->reexec_requested; i++) {
                ssize_t n = read(d->control_fd, buf, sizeof(buf));

                if (n <= 0)
                        return;
                control_feed(d, buf, (size_t)n);
        }
}
