/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fd.c - libipcd-client: ipcd_fd(), a descriptor for event loops.
 *
 * System V queues have no descriptor to poll, so the readiness of our
 * queue is signalled on the reply FIFO instead: on the first ipcd_fd(),
 * the library sends WIRE_OP_DOORBELL (with WIRE_IN_ACK, and waits for the
 * answer), after which ipcd writes one byte WIRE_DOORBELL into the FIFO
 * after every delivery into our queue.  Clients that never call ipcd_fd()
 * pay nothing: ipcd writes no bytes for them and the library makes no
 * extra system call.
 *
 * Records can also wait inside the handle (the pending list: the rest of
 * a batch, or records another thread fetched while it looked for its
 * own), where no doorbell announces them.  So the descriptor returned is
 * an epoll instance (EPOLL_CLOEXEC) holding two: the reply FIFO
 * (EPOLLIN; EPOLLHUP too when ipcd goes away) and an eventfd that the
 * library keeps readable while the pending list is not empty (changed
 * under c->lock wherever the list changes: fd_pending_changed).  The
 * epoll descriptor is readable when either is, and is level-triggered.
 *
 * Bytes are read off the FIFO only by ipcd_recv(c, m, 0, 0) that found
 * nothing: it reads them all, then looks into the queue once more before
 * returning -EAGAIN.  A delivery before that second look is found by it;
 * one after it writes a new byte.  So the descriptor never stays quiet
 * while a message waits (a spurious wake-up is possible, and allowed).
 * ipcd_recv with other filters or timeouts leaves the bytes alone.
 *
 * The descriptor number stays the same for the life of the handle: after
 * a reconnection the epoll set follows the new reply FIFO
 * (fd_follow_locked, the installed hook, before the old FIFO is
 * closed), and the restore hook (fd_replay) asks the new ipcd for
 * doorbells again and makes the descriptor readable once (fd_kick), since
 * messages may have
 * arrived before the doorbells were on.  When ipcd dies, EPOLLHUP on the
 * FIFO makes it readable and ipcd_recv() returns -ECONNRESET; it stays
 * readable until a call has reconnected.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/clock.h"
#include "shared/util.h"

/* How long ipcd_fd() waits for the doorbell of ipcd's answer to DOORBELL. */
#define DOORBELL_WAIT_MSEC 1000

static void fd_kick_locked(ipcd_client *c)
{
        c->fd_kick = true;
        __atomic_store_n(&c->kick_seq, c->kick_seq + 1, __ATOMIC_RELEASE);
        pending_sync_fd_locked(c);
}

int fd_drain(ipcd_client *c)
{
        int r = 0;

        pthread_mutex_lock(&c->lock);
        if (!c->connected)
                r = -ECONNRESET;
        else if (c->reply_fd >= 0) {
                for (;;) {
                        char buf[256];
                        ssize_t n = read(c->reply_fd, buf, sizeof(buf)); /* O_NONBLOCK */

                        if (n > 0) {
                                if ((size_t)n < sizeof(buf))
                                        break; /* emptied */
                                continue;
                        }
                        if (n == 0) {
                                /* No writer: ipcd closed its end (died, or
                                 * dropped us). */
                                client_lost_locked(c, c->s.gen);
                                r = -ECONNRESET;
                                break;
                        }
                        if (errno != EINTR)
                                break; /* EAGAIN: empty */
                }
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

void fd_quiet(ipcd_client *c, uint64_t seq)
{
        pthread_mutex_lock(&c->lock);
        /* A kick after this receiver started looking stays. */
        if (c->fd_kick && c->kick_seq == seq) {
                c->fd_kick = false;
                pending_sync_fd_locked(c);
        }
        pthread_mutex_unlock(&c->lock);
}

static void fd_follow_locked(ipcd_client *c, int new_fifo)
{
        struct epoll_event e = {.events = EPOLLIN, .data.fd = new_fifo};

        if (c->epoll_fd < 0 || c->epoll_fifo == new_fifo)
                return;
        if (c->epoll_fifo >= 0)
                (void)epoll_ctl(c->epoll_fd, EPOLL_CTL_DEL, c->epoll_fifo, NULL);
        c->epoll_fifo = -1;
        if (new_fifo >= 0 && epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, new_fifo, &e) == 0)
                c->epoll_fifo = new_fifo;
        /* On failure (ENOMEM, ENOSPC: the epoll watch limit) the eventfd
         * still wakes the loop once (fd_restore kicks it). */
}

static int fd_restore(ipcd_client *c)
{
        struct lib_req q = {
                .op = WIRE_OP_DOORBELL,
                .wflags = WIRE_IN_ACK, /* DOORBELL is answered only when asked */
                .qfull = QFULL_RETRY,
                .deadline = clock_now_us() + ACK_TIMEOUT_USEC,
        };
        int r;

        pthread_mutex_lock(&c->lock);
        fd_follow_locked(c, c->reply_fd);
        pthread_mutex_unlock(&c->lock);

        r = lib_request(c, &q, NULL);

        if (r >= 0) {
                /* The answer itself rings, just after it was queued: take
                 * that byte now rather than wake the loop for nothing
                 * later.  ipcd writes it at once; the wait, on a duplicate
                 * and without the lock, is bounded for safety only.
                 * Whatever else gets read here, the kick below covers. */
                uint64_t gen;
                int dup = -1;

                pthread_mutex_lock(&c->lock);
                __atomic_store_n(&c->doorbell, true, __ATOMIC_RELEASE);
                gen = c->s.gen;
                if (c->reply_fd >= 0)
                        dup = fcntl(c->reply_fd, F_DUPFD_CLOEXEC, 3);
                pthread_mutex_unlock(&c->lock);
                if (dup >= 0) {
                        struct pollfd p = {.fd = dup, .events = POLLIN};

                        (void)poll(&p, 1, DOORBELL_WAIT_MSEC);
                        safe_close(dup);
                        pthread_mutex_lock(&c->lock);
                        if (c->s.gen == gen && c->reply_fd >= 0) {
                                char buf[64];

                                while (read(c->reply_fd, buf, sizeof(buf)) ==
                                       (ssize_t)sizeof(buf))
                                        ;
                        }
                        pthread_mutex_unlock(&c->lock);
                }
        }

        pthread_mutex_lock(&c->lock);
        /* Readable once in any case: messages that came before the
         * doorbells were on have rung nothing; and on failure the loop
         * must come back to find out. */
        fd_kick_locked(c);
        pthread_mutex_unlock(&c->lock);
        return MIN(r, 0);
}

void fd_free(ipcd_client *c)
{
        c->epoll_fd = safe_close(c->epoll_fd);
        c->event_fd = safe_close(c->event_fd);
        c->epoll_fifo = -1;
}

IPCD_EXPORT int ipcd_fd(ipcd_client *c)
{
        struct epoll_event e = {.events = EPOLLIN};
        int ep = -1, ev = -1, r;

        if (!c)
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        pthread_mutex_lock(&c->lock);
        r = c->epoll_fd;
        pthread_mutex_unlock(&c->lock);
        if (r >= 0)
                return r;

        r = client_ensure(c, clock_now_us() + RECONNECT_DEFAULT_USEC, true);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->cfg_lock);
        if (c->epoll_fd >= 0) {
                r = c->epoll_fd; /* another thread was first */
                goto out;
        }
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0) {
                r = -errno;
                goto out;
        }
        ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (ev < 0) {
                r = -errno;
                goto fail;
        }
        e.data.fd = ev;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0) {
                r = -errno;
                goto fail;
        }

        pthread_mutex_lock(&c->lock);
        c->epoll_fd = ep;
        c->event_fd = ev;
        c->ev_on = false;
        pending_sync_fd_locked(c); /* records already pending */
        pthread_mutex_unlock(&c->lock);

        r = fd_restore(c);
        if (r < 0) {
                pthread_mutex_lock(&c->lock);
                c->epoll_fd = c->event_fd = c->epoll_fifo = -1;
                c->fd_kick = c->ev_on = false;
                pthread_mutex_unlock(&c->lock);
                goto fail;
        }
        r = ep;
        goto out;
fail:
        safe_close(ep);
        safe_close(ev);
out:
        pthread_mutex_unlock(&c->cfg_lock);
        return r;
}

/* ------------------------------------------------------------------ */
/* Session hooks.                                                       */

/* A new session (cfg_lock held): doorbells again, if ipcd_fd() is used. */
static int fd_replay(ipcd_client *c)
{
        if (fd_in_use(c) && fd_restore(c) == -ECONNRESET)
                return -ECONNRESET;
        return 0;
}

const struct session_hooks fd_hooks = {
        .installed_locked = fd_follow_locked,
        .restore = fd_replay,
};
