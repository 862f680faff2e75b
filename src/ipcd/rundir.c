/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rundir.c - the runtime directory: RUNDIR/control (the control FIFO),
 * RUNDIR/clients/ (1733: clients create their reply FIFOs here; sticky, not
 * listable), RUNDIR/ipcd.lock (one ipcd per directory), RUNDIR/ipcd.state
 * (objects to remove after a crash).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcd/daemon.h"
#include "shared/ipcstate.h"
#include "shared/log.h"

static int mkdir_p(const char *path, mode_t mode)
{
        char tmp[4096];

        if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        for (char *p = tmp + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* How long a new ipcd waits for a dead instance's sentinel (sentinel.c)
 * to finish its clean-up and let go of the lock. */
#define LOCK_WAIT_MS 5000

/* The pid in ipcd.lock is gone: the lock is held by its sentinel. */
static bool holder_dead(const char *pid)
{
        char *end;
        long p = strtol(pid, &end, 10);

        return end != pid && p > 0 && kill((pid_t)p, 0) < 0 && errno == ESRCH;
}

static int take_lock(struct daemon *d)
{
        char pid[32];
        int fd, n;
        unsigned waited = 0;

        fd = openat(d->rundir_fd, "ipcd.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return log_error_errno(-errno, "%s/ipcd.lock", d->rundir);
        while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = -errno;

                if (e == -EWOULDBLOCK) {
                        n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
                        pid[n > 0 ? n : 0] = '\0';
                        pid[strcspn(pid, "\n")] = '\0';
                        if (holder_dead(pid) && waited < LOCK_WAIT_MS) {
                                /* A crashed ipcd's sentinel, cleaning up. */
                                if (waited == 0)
                                        log_info("waiting for the sentinel of ipcd %s to clean up",
                                                 pid);
                                usleep(10 * 1000);
                                waited += 10;
                                continue;
                        }
                        log_error("another ipcd (pid %s) already serves %s", pid[0] ? pid : "?",
                                  d->rundir);
                        safe_close(fd);
                        return -EADDRINUSE;
                }
                safe_close(fd);
                return log_error_errno(e, "flock %s/ipcd.lock", d->rundir);
        }
        n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
                log_warning_errno(-errno, "writing %s/ipcd.lock", d->rundir);
        d->lock_fd = fd;
        return 0;
}

int rundir_control_access(struct daemon *d)
{
        mode_t mode = d->have_clients_group ? 0620 : 0622;
        gid_t gid = d->have_clients_group ? d->clients_gid : d->gid;

        if (!d->control_created) {
                /* systemd's (ipcd.socket): SocketGroup= and SocketMode= set it. */
                log_notice("clients_group: the control FIFO comes from systemd; set SocketGroup= "
                           "and SocketMode= of ipcd.socket to match");
                return 0;
        }
        if (fchown(d->control_fd, (uid_t)-1, gid) < 0 && d->have_clients_group)
                log_warning_errno(-errno, "chown %s/control", d->rundir);
        if (fchmod(d->control_fd, mode) < 0)
                return log_error_errno(-errno, "chmod %s/control", d->rundir);
        log_debug("%s/control: mode %04o, group %u", d->rundir, (unsigned)mode, (unsigned)gid);
        return 0;
}

static int setup_control(struct daemon *d, int inherited)
{
        struct stat st;
        int r;
        int fd;

        if (inherited >= 0) {
                /* From systemd (ipcd.socket, ListenFIFO=): it owns the path.  It
                 * comes blocking; the event loop must never block on it. */
                int fl = fcntl(inherited, F_GETFL);

                if (fl < 0 || fcntl(inherited, F_SETFL, fl | O_NONBLOCK) < 0)
                        return log_error_errno(-errno, "the control FIFO from systemd");
                if (fcntl(inherited, F_SETFD, FD_CLOEXEC) < 0)
                        log_warning_errno(-errno, "FD_CLOEXEC on the control FIFO");
                d->control_fd = inherited;
                d->control_created = false;
                return 0;
        }
        if (mkfifoat(d->rundir_fd, "control", 0600) < 0) {
                if (errno != EEXIST)
                        return log_error_errno(-errno, "mkfifo %s/control", d->rundir);
                /* Left by a crashed instance (we hold the lock): reuse if a FIFO. */
                if (fstatat(d->rundir_fd, "control", &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return log_error_errno(-errno, "%s/control", d->rundir);
                if (!S_ISFIFO(st.st_mode)) {
                        log_error("%s/control exists and is not a FIFO", d->rundir);
                        return -EEXIST;
                }
        }
        /* O_RDWR: the last writer closing it does not make poll spin on POLLHUP. */
        fd = openat(d->rundir_fd, "control", O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return log_error_errno(-errno, "open %s/control", d->rundir);
        if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
                safe_close(fd);
                log_error("%s/control is not a FIFO", d->rundir);
                return -EINVAL;
        }
        d->control_fd = fd;
        d->control_created = true;
        r = rundir_control_access(d);
        if (r < 0)
                d->control_fd = safe_close(d->control_fd);
        return r;
}

int rundir_setup(struct daemon *d, int inherited_fifo_fd)
{
        struct stat st;
        unsigned removed = 0;
        int r;

        r = mkdir_p(d->rundir, 0755);
        if (r < 0)
                return log_error_errno(r, "creating %s", d->rundir);
        d->rundir_fd = open(d->rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d->rundir_fd < 0)
                return log_error_errno(-errno, "%s", d->rundir);

        r = take_lock(d);
        if (r < 0)
                return r;

        /* Names and objects of an earlier instance that did not exit
         * cleanly (its sentinel may have removed the objects already). */
        r = ipcstate_names(d->rundir, &d->dead_names, &d->ndead_names);
        if (r < 0)
                log_warning_errno(r, "reading the names in %s/ipcd.state", d->rundir);
        else if (d->ndead_names > 0)
                log_debug("%zu names held by an earlier ipcd", d->ndead_names);
        r = ipcstate_cleanup(d->rundir, geteuid(), &removed);
        if (r < 0)
                log_warning_errno(r, "reading %s/ipcd.state", d->rundir);
        else if (removed > 0)
                log_notice("removed %u IPC objects left by an earlier ipcd in %s", removed,
                           d->rundir);
        d->state_fd = ipcstate_open(d->rundir);
        if (d->state_fd < 0)
                return log_error_errno(d->state_fd, "creating %s/ipcd.state", d->rundir);

        if (mkdirat(d->rundir_fd, "clients", 01733) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "creating %s/clients", d->rundir);
        d->clients_fd = openat(d->rundir_fd, "clients", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (d->clients_fd < 0)
                return log_error_errno(-errno, "%s/clients", d->rundir);
        if (fstat(d->clients_fd, &st) < 0)
                return log_error_errno(-errno, "%s/clients", d->rundir);
        if (st.st_uid == geteuid() && (st.st_mode & 07777) != 01733) {
                /* mkdir's mode went through the umask. */
                if (fchmod(d->clients_fd, 01733) < 0)
                        return log_error_errno(-errno, "chmod %s/clients", d->rundir);
                st.st_mode = (st.st_mode & ~(mode_t)07777) | 01733;
        }
        if ((st.st_mode & 01002) != 01002)
                log_warning("%s/clients is not world-writable and sticky (mode %04o): "
                            "clients of other users cannot register",
                            d->rundir, (unsigned)(st.st_mode & 07777));

        return setup_control(d, inherited_fifo_fd);
}

/* Remove every FIFO in clients/ that nobody reads: those of clients
 * killed between creating their reply FIFO and registering (which ipcd
 * never heard of: tests/soak.sh found them left behind).  A FIFO with a
 * reader belongs to a live client and stays. */
static void sweep_fifos(struct daemon *d)
{
        struct dirent *de;
        DIR *dir;
        int fd = d->clients_fd >= 0 ? dup(d->clients_fd) : -1;

        if (fd < 0)
                return;
        dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return;
        }
        while ((de = readdir(dir))) {
                struct stat st;
                int w;

                if (de->d_name[0] == '.' ||
                    fstatat(d->clients_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISFIFO(st.st_mode))
                        continue;
                w = openat(d->clients_fd, de->d_name,
                           O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                if (w >= 0) {
                        close(w);
                        continue;
                }
                if (errno == ENXIO && unlinkat(d->clients_fd, de->d_name, 0) == 0)
                        log_debug("removed the reply FIFO %s: nobody reads it", de->d_name);
        }
        closedir(dir);
}

void rundir_teardown(struct daemon *d)
{
        sweep_fifos(d);
        if (d->control_created && d->rundir_fd >= 0)
                unlinkat(d->rundir_fd, "control", 0);
        d->control_fd = safe_close(d->control_fd);
        if (d->state_fd >= 0) {
                d->state_fd = ipcstate_close(d->state_fd);
                unlinkat(d->rundir_fd, "ipcd.state", 0);
        }
        d->clients_fd = safe_close(d->clients_fd);
        if (d->lock_fd >= 0) {
                /* Empty the pid; the file stays (removing a lock file races). */
                if (ftruncate(d->lock_fd, 0) < 0)
                        log_debug_errno(-errno, "truncating ipcd.lock");
        }
        d->lock_fd = safe_close(d->lock_fd);
        d->rundir_fd = safe_close(d->rundir_fd);
}
