/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handle.c - libipcd-client: the public life of a handle (ipcd_connect,
 * ipcd_close, ipcd_id, ipcd_name, ipcd_max_inline).  The top of the
 * library: it sets a handle up, registers every feature's session hooks
 * (client.h), and tears it all down again.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/clock.h"
#include "shared/util.h"

static int fork_guard_init(ipcd_client *c)
{
#ifdef MADV_WIPEONFORK
        long page = sysconf(_SC_PAGESIZE);
        void *p;

        if (page <= 0)
                page = 4096;
        p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return -errno;
        if (madvise(p, (size_t)page, MADV_WIPEONFORK) < 0) {
                munmap(p, (size_t)page);
                return 0; /* old kernel: getpid() it is */
        }
        c->fork_guard = p;
        c->fork_guard_size = (size_t)page;
        *c->fork_guard = 1;
#endif
        return 0;
}

/* ------------------------------------------------------------------ */
/* Public: handles.                                                     */

static void client_free(ipcd_client *c)
{
        bool forked;

        if (!c)
                return;
        forked = client_forked(c);
        c->reply_fd = safe_close(c->reply_fd);
        pending_free_all(c);
        rx_spare_free(c);
        bulk_free(c);
        flow_free(c);
        fd_free(c);
        replay_free(c);
        unit_free(c);
        if (!forked) {
                /* In a forked child another thread of the parent may have
                 * held them at fork time: leave them alone. */
                pthread_cond_destroy(&c->cond);
                pthread_mutex_destroy(&c->lock);
                pthread_mutex_destroy(&c->rx_lock);
                pthread_mutex_destroy(&c->ob_lock);
                pthread_mutex_destroy(&c->cfg_lock);
        }
        free(c->ob);
        if (c->fork_guard)
                munmap((void *)c->fork_guard, c->fork_guard_size);
        free(c->rundir);
        free(c);
}

/* The locks and the condition variable of a new handle; 0 or -ENOMEM
 * (nothing left initialised). */
static int handle_sync_init(ipcd_client *c)
{
        pthread_condattr_t ca;
        int r;

        if (pthread_mutex_init(&c->lock, NULL) != 0)
                return -ENOMEM;
        if (pthread_mutex_init(&c->rx_lock, NULL) != 0)
                goto fail_lock;
        if (pthread_mutex_init(&c->ob_lock, NULL) != 0)
                goto fail_rx;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        r = pthread_cond_init(&c->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (r != 0)
                goto fail_ob;
        /* Default attributes: cannot fail on Linux. */
        (void)pthread_mutex_init(&c->cfg_lock, NULL);
        return 0;
fail_ob:
        pthread_mutex_destroy(&c->ob_lock);
fail_rx:
        pthread_mutex_destroy(&c->rx_lock);
fail_lock:
        pthread_mutex_destroy(&c->lock);
        return -ENOMEM;
}

IPCD_EXPORT int ipcd_connect_at(const char *runtime_dir, const char *name, ipcd_client **ret)
{
        ipcd_client *c;
        int r;

        if (!ret)
                return -EINVAL;
        *ret = NULL;
        if (name && !name_is_valid(name))
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->reply_fd = -1;
        c->pid = getpid();
        c->pending_tail = &c->pending;
        c->epoll_fd = c->event_fd = c->epoll_fifo = -1;
        c->send_timeout_ms = -1;
        /* What the features do when a session begins, in this order
         * (replay.c: the overflow policy first, the replayed history may
         * fill the queue; then ipcd_fd()'s doorbells), and bulk.c's part
         * in receiving and waiting. */
        client_hooks_add(c, &replay_hooks);
        client_hooks_add(c, &fd_hooks);
        client_hooks_add(c, &bulk_hooks);
        snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
        c->rundir = strdup(util_runtime_dir(runtime_dir));
        if (!c->rundir) {
                free(c);
                return -ENOMEM;
        }
        if (handle_sync_init(c) < 0) {
                free(c->rundir);
                free(c);
                return -ENOMEM;
        }
        r = fork_guard_init(c);
        if (r == 0)
                r = client_session_open(c, clock_deadline_us(CONNECT_TIMEOUT_USEC));
        if (r < 0) {
                client_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

IPCD_EXPORT int ipcd_connect(const char *name, ipcd_client **ret)
{
        return ipcd_connect_at(NULL, name, ret);
}

/* Wait up to CLOSE_WAIT_USEC for ipcd to remove Sc (EIDRM/EINVAL); a
 * stale count is consumed on the way. */
static void close_wait_removed(const struct session *s)
{
        uint64_t deadline = clock_now_us() + CLOSE_WAIT_USEC;

        for (;;) {
                struct sembuf op = { .sem_num = 0, .sem_op = -1, .sem_flg = 0 };
                uint64_t now = clock_now_us();
                struct timespec ts;

                if (now >= deadline)
                        return;
                usec_to_timespec(deadline - now, &ts);
                if (semtimedop(s->sc, &op, 1, &ts) < 0 && errno != EINTR)
                        return; /* EIDRM/EINVAL: removed; EAGAIN: timed out */
        }
}

IPCD_EXPORT void ipcd_close(ipcd_client *c)
{
        if (!c)
                return;
        if (!client_forked(c)) {
                pthread_mutex_lock(&c->lock);
                if (c->connected) {
                        struct session s = c->s;

                        pthread_mutex_unlock(&c->lock);
                        bulk_close(c); /* releases out, lanes given back */
                        /* Closing the FIFO tells ipcd anyway; UNREGISTER goes
                         * behind what we sent, so all of it is routed first.
                         * Then wait (bounded) until ipcd has removed our
                         * semaphore: when ipcd_close returns, our name and
                         * our slot are free for a new connection. */
                        (void)client_ob_flush(c, false);
                        if (client_send_op(c, &s, WIRE_OP_UNREGISTER, 0) == 0 &&
                            !client_peer_gone(c))
                                close_wait_removed(&s);
                } else
                        pthread_mutex_unlock(&c->lock);
        }
        client_free(c);
}

IPCD_EXPORT uint64_t ipcd_id(const ipcd_client *c)
{
        ipcd_client *m = (ipcd_client *)c; /* the lock is not part of the value */
        uint64_t id;

        if (!c || client_forked(c))
                return 0;
        pthread_mutex_lock(&m->lock);
        id = m->connected ? m->s.client_id : 0;
        pthread_mutex_unlock(&m->lock);
        return id;
}

IPCD_EXPORT const char *ipcd_name(const ipcd_client *c)
{
        /* Changes only when a name is lost on reconnection (to ""). */
        if (!c)
                return "";
        return c->name;
}

IPCD_EXPORT size_t ipcd_max_inline(const ipcd_client *c)
{
        ipcd_client *m = (ipcd_client *)c;
        size_t n;

        if (!c || client_forked(c))
                return 0;
        pthread_mutex_lock(&m->lock);
        n = m->s.max_payload;
        pthread_mutex_unlock(&m->lock);
        return n;
}

IPCD_EXPORT int ipcd_name_is_valid(const char *name)
{
        return name_is_valid(name) ? 1 : 0;
}
