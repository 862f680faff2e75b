/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ctlchan.c - the client side of the control channel (see ctlchan.h).
 *
 * Used inside libipcd-client, so: no printing, no global state, and no
 * SIGPIPE.  The control FIFO is opened O_WRONLY|O_NONBLOCK, which fails
 * with ENXIO when nobody reads it (no daemon); a write can still meet
 * EPIPE if ipcd dies between that open and the write, so the one write is
 * done with SIGPIPE blocked in the calling thread and a SIGPIPE it raised
 * is consumed with sigtimedwait() before the mask is restored (the way
 * libcurl and OpenSSL avoid SIGPIPE without touching the process's
 * signal dispositions).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/ctlchan.h"
#include "shared/macro.h"
#include "shared/clock.h"
#include "shared/util.h"

int ctlchan_open(struct ctlchan *ch, const char *rundir)
{
        uint8_t rnd[WIRE_HEX_LEN / 2];
        char path[PATH_MAX];
        struct stat st;
        int r;

        memset(ch, 0, sizeof(*ch));
        ch->control_fd = -1;
        ch->reply_fd = -1;

        if (!rundir || !rundir[0])
                return -EINVAL;
        if (snprintf(path, sizeof(path), "%s/control", rundir) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        ch->control_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (ch->control_fd < 0) {
                r = -errno;
                /* ENOENT: no FIFO; ENXIO: a FIFO nobody reads.  Either way
                 * no daemon listens. */
                if (r == -ENOENT || r == -ENXIO)
                        r = -ECONNREFUSED;
                goto fail;
        }
        if (fstat(ch->control_fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (!S_ISFIFO(st.st_mode)) {
                /* Never append request lines to a regular file. */
                r = -ECONNREFUSED;
                goto fail;
        }

        for (int attempt = 0;; attempt++) {
                r = util_random_bytes(rnd, sizeof(rnd));
                if (r < 0)
                        goto fail;
                wire_hex_encode(rnd, sizeof(rnd), ch->fifo);
                if (snprintf(ch->path, sizeof(ch->path), "%s/clients/%s", rundir, ch->fifo) >=
                    (int)sizeof(ch->path)) {
                        r = -ENAMETOOLONG;
                        goto fail;
                }
                if (mkfifo(ch->path, 0600) == 0)
                        break;
                r = -errno;
                ch->path[0] = '\0'; /* not ours: never unlink it */
                if (r == -EEXIST && attempt < 3)
                        continue; /* 128 random bits collided: try again */
                if (r == -ENOENT)
                        r = -ECONNREFUSED; /* no RUNDIR/clients: no usable daemon */
                goto fail;
        }

        /* O_NONBLOCK: opening the read end does not wait for a writer. */
        ch->reply_fd = open(ch->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (ch->reply_fd < 0) {
                r = -errno;
                goto fail;
        }
        if (fstat(ch->reply_fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (!S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) {
                r = -EPERM;
                goto fail;
        }
        /* umask cleared the bits mkfifo asked for anyway; ipcd (another
         * uid) must be able to open it for writing. */
        if (fchmod(ch->reply_fd, 0622) < 0) {
                r = -errno;
                goto fail;
        }
        return 0;

fail:
        ctlchan_close(ch, 0);
        return r;
}

/* One write(2) of at most PIPE_BUF bytes to the control FIFO, without
 * SIGPIPE.  Returns bytes written or -errno. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
        sigset_t pipe_set, old, pending;
        bool was_pending;
        ssize_t k;
        int saved;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        sigpending(&pending);
        was_pending = sigismember(&pending, SIGPIPE) == 1;
        if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
                return -EIO;

        k = write(fd, buf, n);
        saved = errno;
        if (k < 0 && saved == EPIPE && !was_pending) {
                struct timespec zero = {0, 0};

                /* Consume the SIGPIPE this write raised, and only it. */
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                        ;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return k < 0 ? -saved : k;
}

/*
 * The request goes out as "\nREGISTER ...\n" in one write(2): whatever a
 * stray writer left unfinished in the FIFO ends at our first newline as a
 * bad line of its own, and ours parses (ipcd ignores empty lines).
 */
int ctlchan_send(struct ctlchan *ch, struct wire_ctl *req, int timeout_ms)
{
        char line[WIRE_LINE_MAX + 2];
        uint64_t deadline = clock_deadline_ms(timeout_ms);
        int n, r;

        if (ch->control_fd < 0)
                return -EBADF;
        r = util_random_bytes(ch->nonce, sizeof(ch->nonce));
        if (r < 0)
                return r;
        wire_hex_encode(ch->nonce, sizeof(ch->nonce), req->nonce);
        memcpy(req->fifo, ch->fifo, sizeof(req->fifo));
        line[0] = '\n';
        n = wire_ctl_format(req, line + 1, sizeof(line) - 1);
        if (n < 0)
                return n;
        if (++n > PIPE_BUF)
                return -ENOBUFS; /* would not be one atomic write */

        for (;;) {
                struct pollfd p = {.fd = ch->control_fd, .events = POLLOUT};
                ssize_t k = write_nosigpipe(ch->control_fd, line, (size_t)n);

                if (k == n)
                        return 0;
                if (k >= 0)
                        return -EIO; /* cannot happen: n <= PIPE_BUF is atomic */
                if (k == -EPIPE)
                        return -ECONNREFUSED; /* the daemon went away */
                if (k == -EINTR)
                        continue;
                if (k != -EAGAIN)
                        return (int)k;
                /* The FIFO is full: wait for room, within the timeout. */
                r = clock_remaining_ms(deadline);
                if (r == 0)
                        return -ETIMEDOUT;
                r = poll(&p, 1, r);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && (p.revents & POLLERR))
                        return -ECONNREFUSED;
        }
}

int ctlchan_read(struct ctlchan *ch, void *body, size_t body_size, int timeout_ms)
{
        uint64_t deadline = clock_deadline_ms(timeout_ms);

        if (ch->reply_fd < 0)
                return -EBADF;

        for (;;) {
                struct pollfd p = {.fd = ch->reply_fd, .events = POLLIN};
                struct wire_rec h;
                ssize_t k;
                int r;

                /* A complete record buffered? */
                if (ch->buffered >= sizeof(h)) {
                        memcpy(&h, ch->buf, sizeof(h));
                        if (wire_rec_check(&h) < 0)
                                return -EBADMSG; /* the byte stream cannot be trusted now */
                        if (ch->buffered >= h.len) {
                                bool ours = memcmp(h.nonce, ch->nonce, sizeof(h.nonce)) == 0;
                                int kind = h.kind;

                                if (ours && body_size > 0)
                                        wire_rec_body(body, body_size, ch->buf + sizeof(h),
                                                      h.len - sizeof(h));
                                memmove(ch->buf, ch->buf + h.len, ch->buffered - h.len);
                                ch->buffered -= h.len;
                                if (ours)
                                        return kind;
                                continue; /* an answer to an earlier request */
                        }
                }

                /* Read only after poll says so: read(2) on a FIFO that never
                 * had a writer returns 0 (EOF) at once. */
                r = poll(&p, 1, clock_remaining_ms(deadline));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        return -ETIMEDOUT;
                if (!(p.revents & POLLIN)) {
                        if (p.revents & (POLLHUP | POLLERR))
                                return -ECONNRESET; /* ipcd closed its end */
                        continue;
                }
                k = read(ch->reply_fd, ch->buf + ch->buffered, sizeof(ch->buf) - ch->buffered);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -ECONNRESET;
                ch->buffered += (size_t)k;
        }
}

void ctlchan_unlink(struct ctlchan *ch)
{
        if (ch->path[0]) {
                (void)unlink(ch->path);
                ch->path[0] = '\0';
        }
}

int ctlchan_close(struct ctlchan *ch, int keep_reply)
{
        int fd = -1;

        ch->control_fd = safe_close(ch->control_fd);
        ctlchan_unlink(ch);
        if (keep_reply)
                fd = TAKE_FD(ch->reply_fd);
        else
                ch->reply_fd = safe_close(ch->reply_fd);
        ch->buffered = 0;
        return fd;
}
