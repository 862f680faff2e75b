/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * reexec.c - an upgrade without a disconnect (`ipcdctl reexec`, SIGUSR2):
 * the old image writes its state (core/snapshot.h) into a memfd, keeps the
 * descriptors the new image needs open across execve(2) (the control
 * FIFO, the lock, the state file, the sentinel's pipe, every reply FIFO
 * and pidfd) and executes the binary it was started from, which after a
 * package upgrade is the new one.  The PID stays, so systemd sees the
 * same service (RELOADING=1, then READY=1: event.c), RemoveIPC= never
 * fires, and every queue, semaphore and message in them stays where it
 * is.  The sentinel keeps its pipe: it sees no EOF, so no death.
 *
 * The bulk rings are System V segments marked for removal: they live
 * while attached, and execve(2) detaches them.  A ring holder, a child
 * forked just before the exec, keeps them attached until the new image
 * has attached them itself and closes the holder's pipe (or 30 s).  The
 * same holds for the direct channels' segments (core/channel.c): the
 * holder keeps them too, and the new image attaches each again.
 *
 * The new image (--reexec-state=FD) reads the state back and validates it
 * (snapshot-read.c).  A state it cannot read is logged with the reason and
 * ipcd starts fresh, exactly as after a crash: it closes every inherited
 * descriptor, so its sentinel sees EOF and removes the old objects; the
 * clients see their queues vanish and register again by themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcd/core/channel.h"
#include "ipcd/core/snapshot.h"
#include "ipcd/daemon.h"
#include "shared/clock.h"
#include "shared/ipcstate.h"
#include "shared/log.h"
#include "shared/macro.h"

#define HOLDER_TIMEOUT_S 30

extern char **environ;

/* The ring holder: attached to every ring by fork(2), it waits for EOF on
 * rd (the new image attached them) and exits. */
static pid_t holder_start(int *wr)
{
        int p[2];
        pid_t pid;
        char x;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int e = -errno;

                close(p[0]);
                close(p[1]);
                return e;
        }
        if (pid == 0) {
                (void)prctl(PR_SET_NAME, "ipcd-ringhold", 0, 0, 0);
                close(p[1]);
                /* Only rd stays open: nothing of ipcd's is held here (where
                 * close_range is refused, the rest goes with us, soon). */
                if (p[0] > 3)
                        (void)close_range(3, (unsigned)p[0] - 1, 0);
                (void)close_range((unsigned)p[0] + 1, ~0U, 0);
                alarm(HOLDER_TIMEOUT_S);
                while (read(p[0], &x, 1) < 0 && errno == EINTR)
                        ;
                _exit(EXIT_SUCCESS);
        }
        close(p[0]);
        *wr = p[1];
        return pid;
}

static void holder_stop(int *fd, pid_t *pid)
{
        *fd = safe_close(*fd);
        if (*pid > 0)
                while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        *pid = 0;
}

static int cloexec(int fd, bool on)
{
        int fl;

        if (fd < 0)
                return 0;
        fl = fcntl(fd, F_GETFD);
        if (fl < 0 || fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC) < 0)
                return -errno;
        return 0;
}

/* Every descriptor the new image takes over: inheritable or not. */
static int keep_fds(struct daemon *d, const struct snapshot_edge *e, int memfd, bool keep)
{
        int r = 0;

        r = r ?: cloexec(e->control_fd, !keep);
        r = r ?: cloexec(e->lock_fd, !keep);
        r = r ?: cloexec(e->state_fd, !keep);
        r = r ?: cloexec(e->sentinel_fd, !keep);
        r = r ?: cloexec(e->holder_fd, !keep);
        r = r ?: cloexec(memfd, !keep);
        for (struct client *c = d->router.clients; c && r == 0; c = c->next) {
                r = cloexec(c->fifo_fd, !keep);
                r = r ?: cloexec(c->pidfd, !keep);
        }
        return r;
}

/* The state as a memfd; fd or -errno. */
static int state_memfd(struct daemon *d, const struct snapshot_edge *e)
{
        const char *fixture = getenv("IPCD_TEST_REEXEC_STATE");
        uint8_t *buf = NULL;
        size_t len = 0, off = 0;
        int fd, r;

        router_lock(&d->router);
        r = snapshot_write(&d->router, e, &buf, &len);
        router_unlock(&d->router);
        if (r < 0)
                return r;
        if (fixture && fixture[0]) {
                /* Tests only: hand over this file instead (a corrupt state). */
                FILE *f = fopen(fixture, "re");

                free(buf);
                buf = malloc(1 << 20);
                len = f && buf ? fread(buf, 1, 1 << 20, f) : 0;
                if (f)
                        fclose(f);
                log_warning("handing over %s instead of the state (IPCD_TEST_REEXEC_STATE)",
                            fixture);
        }
        fd = memfd_create("ipcd-state", MFD_CLOEXEC);
        if (fd < 0) {
                free(buf);
                return -errno;
        }
        while (off < len) {
                ssize_t n = write(fd, buf + off, len - off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        free(buf);
                        close(fd);
                        return r;
                }
                off += (size_t)n;
        }
        free(buf);
        log_info("re-exec: %zu bytes of state for %u clients", len, d->router.nclients);
        return fd;
}

/* argv for the new image: ours without an earlier --reexec-state, and
 * --reexec-state=FD. */
static char **new_argv(struct daemon *d, int memfd)
{
        char **v = calloc((size_t)d->argc + 2, sizeof(*v));
        static char arg[64];
        int n = 0;

        if (!v)
                return NULL;
        for (int i = 0; i < d->argc; i++)
                if (strncmp(d->argv[i], "--reexec-state=", 15) != 0)
                        v[n++] = d->argv[i];
        snprintf(arg, sizeof(arg), "--reexec-state=%d", memfd);
        v[n++] = arg;
        v[n] = NULL;
        return v;
}

int reexec_exec(struct daemon *d)
{
        struct snapshot_edge e = { .control_fd = d->control_fd, .lock_fd = d->lock_fd,
                                   .state_fd = d->state_fd, .sentinel_fd = d->sentinel_fd,
                                   .sentinel_pid = d->sentinel_pid, .holder_fd = -1,
                                   .control_created = d->control_created,
                                   .line_len = d->line_len, .line_discard = d->line_discard,
                                   .rest = d->rest, .rest_len = d->rest_len };
        char **argv;
        int memfd, r;

        memcpy(e.line, d->line, d->line_len);
        if (d->router.nrings || d->router.nchannels) {
                e.holder_pid = holder_start(&e.holder_fd);
                if (e.holder_pid < 0)
                        return log_error_errno(e.holder_pid, "re-exec: forking the ring holder");
        }
        memfd = state_memfd(d, &e);
        if (memfd < 0) {
                holder_stop(&e.holder_fd, &e.holder_pid);
                return log_error_errno(memfd, "re-exec: writing the state");
        }
        argv = new_argv(d, memfd);
        r = argv ? keep_fds(d, &e, memfd, true) : -ENOMEM;
        if (r == 0) {
                log_notice("re-executing %s", d->exe_path);
                execve(d->exe_path, argv, environ);
                r = -errno;
        }
        log_error_errno(r, "re-exec of %s failed; going on as before", d->exe_path);
        (void)keep_fds(d, &e, memfd, false);
        free(argv);
        close(memfd);
        holder_stop(&e.holder_fd, &e.holder_pid);
        return r;
}

/* The state behind fd, read whole; malloc'ed, or NULL (*why). */
static uint8_t *state_slurp(int fd, size_t *len, char *why, size_t whylen)
{
        struct stat st;
        uint8_t *buf;
        size_t off = 0;

        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
            (uint64_t)st.st_size > SNAPSHOT_MAX_BYTES) {
                snprintf(why, whylen, "descriptor %d is not a state (%s)", fd,
                         errno ? strerror(errno) : "size or type");
                return NULL;
        }
        buf = malloc((size_t)st.st_size);
        if (!buf) {
                snprintf(why, whylen, "out of memory");
                return NULL;
        }
        while (off < (size_t)st.st_size) {
                ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        snprintf(why, whylen, "reading the state: %s",
                                 n < 0 ? strerror(errno) : "short");
                        free(buf);
                        return NULL;
                }
                off += (size_t)n;
        }
        *len = off;
        return buf;
}

/* The new state file: every object and name of the clients taken over. */
static int state_rerecord(struct daemon *d)
{
        struct router *r = &d->router;
        int fd = ipcstate_open(d->rundir);

        if (fd < 0)
                return fd;
        for (struct uidq *u = r->uidqs; u; u = u->next)
                ipcstate_record(fd, IPCSTATE_MSG, u->qid, false);
        for (struct client *c = r->clients; c; c = c->next) {
                ipcstate_record(fd, IPCSTATE_MSG, c->qid, false);
                ipcstate_record(fd, IPCSTATE_SEM, c->semid, false);
                ipcstate_record_name(fd, c->uid, c->name, false);
        }
        /* Segments not marked for removal yet (channel.c) */
        for (const struct channel *ch = r->channels; ch; ch = ch->next)
                if (ch->phase != CHANNEL_OPEN)
                        ipcstate_record(fd, IPCSTATE_SHM, ch->shmid, false);
        return fd;
}

/* Take over what the state names (it was read and checked). */
static int adopt_edge(struct daemon *d, struct snapshot_edge *e)
{
        int fd;

        d->control_fd = e->control_fd;
        d->control_created = e->control_created;
        d->lock_fd = e->lock_fd;
        d->sentinel_fd = e->sentinel_fd;
        d->sentinel_pid = e->sentinel_pid;
        memcpy(d->line, e->line, e->line_len);
        d->line_len = e->line_len;
        d->line_discard = e->line_discard;
        d->line_since_ms = e->line_len ? clock_now_ms() : 0;
        d->rest = e->rest;
        d->rest_len = e->rest_len;
        e->rest = NULL;
        d->dead_names = e->reserved;
        d->ndead_names = e->nreserved;
        e->reserved = NULL;
        d->rundir_fd = open(d->rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d->rundir_fd < 0)
                return log_error_errno(-errno, "%s", d->rundir);
        d->clients_fd = openat(d->rundir_fd, "clients",
                               O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (d->clients_fd < 0)
                return log_error_errno(-errno, "%s/clients", d->rundir);
        fd = state_rerecord(d);
        if (fd < 0)
                return log_error_errno(fd, "rewriting %s/ipcd.state", d->rundir);
        safe_close(e->state_fd);
        d->state_fd = fd;
        d->router.mq.state_fd = fd;
        return 0;
}

/* The control FIFO systemd passed to the first image (main.c noted its
 * number in IPCD_CONTROL_FD), if that descriptor still is RUNDIR/control:
 * it must outlive a failed take-over, or ipcd would make a FIFO of its
 * own and remove socket activation's at exit.  -1: none. */
static int systemd_fifo(struct daemon *d)
{
        const char *s = getenv("IPCD_CONTROL_FD");
        char path[4096];
        struct stat a, b;
        char *end;
        long fd;

        if (!s)
                return -1;
        fd = strtol(s, &end, 10);
        snprintf(path, sizeof(path), "%s/control", d->rundir);
        if (end == s || *end || fd < 3 || fd > 1 << 20 || fstat((int)fd, &a) < 0 ||
            stat(path, &b) < 0 || !S_ISFIFO(a.st_mode) || a.st_ino != b.st_ino ||
            a.st_dev != b.st_dev)
                return -1;
        return (int)fd;
}

/* Everything inherited goes (the sentinel and the ring holder see EOF:
 * the sentinel removes the old objects) but systemd's FIFO; wait for
 * both. */
static void adopt_give_up(struct daemon *d)
{
        int keep = systemd_fifo(d);

        if (keep < 0)
                (void)close_range(3, ~0U, 0);
        else {
                if (keep > 3)
                        (void)close_range(3, (unsigned)keep - 1, 0);
                (void)close_range((unsigned)keep + 1, ~0U, 0);
        }
        d->kept_control_fd = keep;
        d->rundir_fd = d->clients_fd = d->control_fd = d->lock_fd = d->state_fd = -1;
        d->sentinel_fd = -1;
        d->sentinel_pid = 0;
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                ;
}

static void cloexec_all(struct daemon *d)
{
        (void)cloexec(d->control_fd, true);
        (void)cloexec(d->lock_fd, true);
        (void)cloexec(d->sentinel_fd, true);
        for (struct client *c = d->router.clients; c; c = c->next) {
                (void)cloexec(c->fifo_fd, true);
                (void)cloexec(c->pidfd, true);
        }
}

int reexec_adopt(struct daemon *d, int fd)
{
        struct snapshot_edge e = { .holder_fd = -1 };
        char why[256] = "";
        uint8_t *buf;
        size_t len = 0;
        int r;

        buf = state_slurp(fd, &len, why, sizeof(why));
        close(fd);
        r = buf ? snapshot_read(&d->router, &e, buf, len, why, sizeof(why)) : -EBADMSG;
        free(buf);
        if (r == 0)
                r = adopt_edge(d, &e);
        if (r < 0) {
                log_error("re-exec: the state of the previous image is unusable (%s); "
                          "starting afresh: clients register again",
                          why[0] ? why : strerror(-r));
                free(e.reserved);
                free(e.rest);
                free(d->dead_names);
                d->dead_names = NULL;
                d->ndead_names = 0;
                /* Nobody watches its channels any more: their ends are
                 * told, as when an end dies. */
                channel_detach_all(&d->router, true);
                snapshot_discard(&d->router);
                adopt_give_up(d);
                return r;
        }
        /* A version 1 state has no groups and units: read them again. */
        if (e.version < 2) {
                router_lock(&d->router);
                control_identities_refresh(d);
                router_unlock(&d->router);
        }
        cloexec_all(d);
        /* We are attached to the rings: the holder may go. */
        holder_stop(&e.holder_fd, &e.holder_pid);
        log_notice("re-exec: took over %u clients, %u rings, %u channels (state version %u)",
                   d->router.nclients, d->router.nrings, d->router.nchannels, e.version);
        return 0;
}
