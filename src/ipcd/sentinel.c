/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sentinel.c - ipcd's death noticed at once (issue 10, finding 11).
 *
 * At start-up, before any thread exists, ipcd forks a tiny sentinel
 * process joined to it by a pipe: ipcd holds the write end, the sentinel
 * blocks in read(2) on the other.  A clean shutdown writes SENTINEL_CLEAN
 * once ipcd has removed its own objects, and the sentinel exits.  EOF
 * without that byte means ipcd died (SIGKILL, a crash, the OOM killer):
 * the sentinel then removes every object the state file lists (message
 * queues, semaphores, segments), which is exactly the clean-up a new ipcd
 * would do at its start, and exits.  Removing the queues is what clients
 * notice: a blocked msgrcv/msgsnd/semtimedop returns EIDRM at once and a
 * later send EINVAL, which the library maps to -ECONNRESET; the library
 * pays no extra system call for this on its fast paths.
 *
 * The sentinel inherits RUNDIR/ipcd.lock (the same open file description,
 * so the same flock): while it cleans up, the directory is still locked,
 * and a new ipcd (Restart=) waits for it (rundir.c: the lock's pid is dead)
 * instead of racing its clean-up.  It keeps what the next instance needs:
 * the state file's names (ipcstate.h), which the next ipcd reserves for
 * their owners for name_grace_ms.  It ignores SIGTERM, SIGINT and SIGHUP
 * (systemd's stop sends SIGTERM to the whole cgroup; ipcd's own clean exit
 * ends it), closes every descriptor but its two, and never outlives ipcd
 * by more than its clean-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipcd/daemon.h"
#include "shared/ipcstate.h"
#include "shared/log.h"

#define SENTINEL_CLEAN 'Q'

/* close_range(2), or close(2) one by one where it is refused (an old
 * kernel, a seccomp filter). */
static void close_fds(unsigned lo, unsigned hi)
{
        struct rlimit rl;

        if (close_range(lo, hi, 0) == 0)
                return;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur - 1 < hi)
                hi = (unsigned)(rl.rlim_cur - 1);
        if (hi > 65535)
                hi = 65535;
        for (unsigned fd = lo; fd <= hi; fd++)
                (void)close((int)fd);
}

/* Close every descriptor above 2 except a and b. */
static void close_all_but(int a, int b)
{
        unsigned keep[2] = { (unsigned)MIN(a, b), (unsigned)MAX(a, b) }, from = 3;

        for (size_t i = 0; i < 2; i++) {
                if (keep[i] < from)
                        continue;
                if (keep[i] > from)
                        close_fds(from, keep[i] - 1);
                from = keep[i] + 1;
        }
        close_fds(from, ~0U);
}

static _Noreturn void sentinel_main(const char *rundir, int rd, int lock_fd)
{
        unsigned removed = 0;
        ssize_t n;
        char x = 0;
        sigset_t ss;
        int r;

        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&ss);
        pthread_sigmask(SIG_SETMASK, &ss, NULL);
        (void)prctl(PR_SET_NAME, "ipcd-sentinel", 0, 0, 0);
        close_all_but(rd, lock_fd);

        do
                n = read(rd, &x, 1);
        while (n < 0 && errno == EINTR);
        if (n == 1 && x == SENTINEL_CLEAN)
                _exit(EXIT_SUCCESS);

        /* ipcd died: do the next instance's crash clean-up now. */
        r = ipcstate_cleanup(rundir, geteuid(), &removed);
        if (r < 0)
                log_warning_errno(r, "sentinel: reading %s/ipcd.state", rundir);
        r = ipcstate_forget_objects(rundir);
        if (r < 0)
                log_debug_errno(r, "sentinel: rewriting %s/ipcd.state", rundir);
        log_notice("ipcd died: its sentinel removed %u IPC objects it left in %s", removed,
                   rundir);
        _exit(EXIT_SUCCESS);
}

int sentinel_start(struct daemon *d)
{
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(-errno, "sentinel: pipe");
        pid = fork();
        if (pid < 0) {
                int e = -errno;

                close(p[0]);
                close(p[1]);
                return log_error_errno(e, "sentinel: fork");
        }
        if (pid == 0) {
                close(p[1]);
                sentinel_main(d->rundir, p[0], d->lock_fd);
        }
        close(p[0]);
        d->sentinel_fd = p[1];
        d->sentinel_pid = pid;
        log_debug("sentinel: pid %d", (int)pid);
        return 0;
}

void sentinel_stop(struct daemon *d, bool clean)
{
        char x = SENTINEL_CLEAN;
        int status;

        if (d->sentinel_fd < 0)
                return;
        if (clean && write(d->sentinel_fd, &x, 1) != 1)
                log_debug_errno(-errno, "sentinel: gone before the clean shutdown");
        d->sentinel_fd = safe_close(d->sentinel_fd);
        /* Clean: it exits at once; else it cleans up first.  Either way
         * before we give up the lock. */
        while (waitpid(d->sentinel_pid, &status, 0) < 0 && errno == EINTR)
                ;
        d->sentinel_pid = 0;
}
