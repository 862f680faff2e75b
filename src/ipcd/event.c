/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * event.c - the event thread: an sd-event loop over the control FIFO,
 * every client's reply FIFO (EPOLLERR: the client closed it or died) and
 * pidfd, signals, timers (watchdog, status, backlog retries) and replies
 * still being written.  The only file of the daemon that talks to
 * libsystemd (sd-event, sd-daemon, sd-journal), socket activation's
 * sd_listen_fds included.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "ipcd/daemon.h"
#include "shared/log.h"
#include "shared/clock.h"
#include "shared/util.h"

#define BACKLOG_RETRY_USEC (10 * 1000ULL)
#define DEATH_RETRY_USEC (10 * 1000ULL)
#define STATUS_USEC (5 * 1000 * 1000ULL)
#define REPLY_TIMEOUT_USEC (5 * 1000 * 1000ULL)

struct event_loop {
        sd_event *e;
        int wake_fd;
        sd_event_source *control_src;
        sd_event_source *sentinel_src; /* EPOLLERR: our sentinel died */
        sd_event_source *partial_timer; /* on only while a partial control line waits */
        sd_event_source *wake_src;
        sd_event_source *backlog_timer;
        sd_event_source *death_timer;
        sd_event_source *status_timer;
        sd_event_source *watchdog_timer;
        uint64_t watchdog_usec;
        uint64_t last_routed;
        uint64_t last_status_us;
        bool notify;
        unsigned npending;        /* replies parked until their FIFO has room */
        uint64_t parked_bytes;    /* their buffers, in all */
        struct pending_write *parked; /* the parked replies, doubly linked */
        uint64_t parked_refused;  /* replies dropped by the bounds below */
};

/*
 * Parked replies (large STATUS answers to slow readers, or to readers that
 * never read) are bounded in number (PENDING_MAX), in bytes in all
 * (parked_bytes) and per uid of the requester (parked_bytes_per_uid):
 * beyond, a reply that does not fit into its FIFO at once is dropped (its
 * FIFO closed: the client asks again).  Issue 10, finding 7: without them
 * 100 unread STATUS answers of 1 MB each stayed in ipcd's memory.
 */
#define PENDING_MAX 64

struct pending_write {
        struct daemon *d;
        bool parked;
        uid_t uid;
        struct pending_write *pnext, **pprev;
        int fd;
        uint8_t *buf;
        size_t len, off;
        sd_event_source *io, *timer;
};

static uint64_t now_usec(void)
{
        return clock_now_us();
}

/* Called by the router (lock held, any thread): reap list or backlogs changed. */
static void wake_event_thread(void *userdata)
{
        struct event_loop *l = userdata;
        uint64_t one = 1;

        if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                log_debug_errno(-errno, "eventfd write");
}

static void timer_arm(struct event_loop *l, sd_event_source *s, uint64_t usec)
{
        int on = 0;

        sd_event_source_get_enabled(s, &on);
        if (on)
                return;
        sd_event_source_set_time(s, now_usec() + usec);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        (void)l;
}

void event_log_client(int level, const struct client *c, const char *event)
{
        const char *name = c->name[0] ? c->name : "-";

        if (level > log_get_max_level())
                return;
        if (log_to_journal()) {
                sd_journal_send("MESSAGE=client %llu %s: name %s, uid %u, pid %d",
                                (unsigned long long)c->id, event, name, (unsigned)c->uid,
                                (int)c->pid, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=ipcd",
                                "IPCD_CLIENT_ID=%llu", (unsigned long long)c->id,
                                "IPCD_CLIENT_NAME=%s", name, "IPCD_CLIENT_UID=%u",
                                (unsigned)c->uid, "IPCD_CLIENT_PID=%d", (int)c->pid,
                                "IPCD_EVENT=%s", event, NULL);
                return;
        }
        log_full(level, "client %llu %s: name %s, uid %u, pid %d", (unsigned long long)c->id, event,
                 name, (unsigned)c->uid, (int)c->pid);
}

static void client_free_sources(struct client *c)
{
        c->fifo_source = sd_event_source_disable_unref(c->fifo_source);
        c->pid_source = sd_event_source_disable_unref(c->pid_source);
        c->fifo_fd = safe_close(c->fifo_fd);
        c->pidfd = safe_close(c->pidfd);
}

static void reap(struct daemon *d)
{
        struct router *r = &d->router;
        struct client *c, *n;
        struct uidq *u, *un;

        router_lock(r);
        c = r->reap;
        r->reap = NULL;
        u = r->dead_uidqs;
        r->dead_uidqs = NULL;
        router_unlock(r);

        for (; c; c = n) {
                n = c->next;
                event_log_client(LOG_INFO, c, "left");
                client_free_sources(c);
                free(c);
        }
        /* Their inbound queues are gone: the threads exit without waiting. */
        for (; u; u = un) {
                un = u->next;
                if (u->thread_started)
                        pthread_join(u->thread, NULL);
                free(u);
        }
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct daemon *d = userdata;
        struct event_loop *l = d->loop;
        uint64_t v;
        unsigned nb;

        if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                log_debug_errno(-errno, "eventfd read");
        reap(d);
        router_lock(&d->router);
        nb = d->router.nbacklogged;
        router_unlock(&d->router);
        if (nb)
                timer_arm(l, l->backlog_timer, BACKLOG_RETRY_USEC);
        return 0;
}

static int on_backlog_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct daemon *d = userdata;
        unsigned left;

        router_lock(&d->router);
        left = router_drain_backlogs(&d->router);
        router_unlock(&d->router);
        /* Retry while a destination still has a backlog; idle otherwise. */
        if (left)
                timer_arm(d->loop, s, BACKLOG_RETRY_USEC);
        return 0;
}

static void client_gone(struct daemon *d, struct client *c)
{
        struct router *r = &d->router;

        if (c->fifo_source)
                sd_event_source_set_enabled(c->fifo_source, SD_EVENT_OFF);
        if (c->pid_source)
                sd_event_source_set_enabled(c->pid_source, SD_EVENT_OFF);
        router_lock(r);
        if (!c->removed && !c->dying) {
                /* Through its inbound queue, so that what it sent before dying
                 * is routed first. */
                if (router_client_post_death(r, c) == -EAGAIN) {
                        c->death_pending = true;
                        timer_arm(d->loop, d->loop->death_timer, DEATH_RETRY_USEC);
                }
        }
        router_unlock(r);
}

static int on_death_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct daemon *d = userdata;
        struct router *r = &d->router;
        bool again = false;

        router_lock(r);
        for (struct client *c = r->clients, *next; c; c = next) {
                next = c->next;
                if (!c->death_pending)
                        continue;
                if (router_client_post_death(r, c) != -EAGAIN)
                        c->death_pending = false;
                else if (++c->death_tries > 100) {
                        /* Its inbound queue stays full (its uid floods it, or
                         * shrank it): remove it now, its last messages unrouted. */
                        c->death_pending = false;
                        router_client_remove(r, c);
                } else
                        again = true;
        }
        router_unlock(r);
        if (again)
                timer_arm(d->loop, s, DEATH_RETRY_USEC);
        return 0;
}

static int on_client_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct client *c = userdata;

        /* The reply FIFO is never read: any event on it is EPOLLERR/EPOLLHUP
         * (its reader closed it).  A readable pidfd: the process exited. */
        client_gone(c->event_owner, c);
        return 0;
}

int event_watch_client(struct daemon *d, struct client *c)
{
        sd_event_source *fs = NULL, *ps = NULL;
        int r;

        c->event_owner = d;
        r = sd_event_add_io(d->loop->e, &fs, c->fifo_fd, 0, on_client_event, c);
        if (r < 0)
                return log_error_errno(r, "watching client %llu", (unsigned long long)c->id);
        if (c->pidfd >= 0) {
                r = sd_event_add_io(d->loop->e, &ps, c->pidfd, EPOLLIN, on_client_event, c);
                if (r < 0) {
                        sd_event_source_unref(fs);
                        return log_error_errno(r, "watching pid %d", (int)c->pid);
                }
        }
        c->fifo_source = fs;
        c->pid_source = ps;
        return 0;
}

/* ---- replies written asynchronously ---- */

static void pending_free(struct pending_write *w)
{
        if (w->parked) {
                struct event_loop *l = w->d->loop;

                l->npending--;
                l->parked_bytes -= w->len;
                *w->pprev = w->pnext;
                if (w->pnext)
                        w->pnext->pprev = w->pprev;
        }
        sd_event_source_disable_unref(w->io);
        sd_event_source_disable_unref(w->timer);
        safe_close(w->fd);
        free(w->buf);
        free(w);
}

static int pending_try(struct pending_write *w)
{
        while (w->off < w->len) {
                ssize_t n = write(w->fd, w->buf + w->off, w->len - w->off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno; /* EPIPE: the reader left */
                }
                w->off += (size_t)n;
        }
        return 1;
}

static int on_pending_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct pending_write *w = userdata;

        if (pending_try(w) != 0)
                pending_free(w);
        return 0;
}

static int on_pending_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        pending_free(userdata);
        return 0;
}

/* May a reply of len bytes for uid be parked within the bounds? */
static bool park_fits(struct daemon *d, uid_t uid, size_t len)
{
        struct event_loop *l = d->loop;
        uint64_t mine = 0;

        if (l->npending >= PENDING_MAX || l->parked_bytes + len > d->parked_bytes)
                return false;
        for (struct pending_write *w = l->parked; w; w = w->pnext) /* <= PENDING_MAX */
                if (w->uid == uid)
                        mine += w->len;
        return mine + len <= d->parked_bytes_per_uid;
}

void event_write_reply(struct daemon *d, uid_t uid, int fd, void *buf, size_t len)
{
        struct pending_write *w = calloc(1, sizeof(*w));
        int r;

        if (!w) {
                safe_close(fd);
                free(buf);
                return;
        }
        w->d = d;
        w->fd = fd;
        w->buf = buf;
        w->len = len;
        w->uid = uid;
        r = pending_try(w);
        if (r != 0)
                goto done;
        if (w->off > 0) {
                /* Keep only what is left to write. */
                uint8_t *rest = malloc(w->len - w->off);

                if (!rest)
                        goto done;
                memcpy(rest, w->buf + w->off, w->len - w->off);
                free(w->buf);
                w->buf = rest;
                w->len -= w->off;
                w->off = 0;
                len = w->len;
        }
        if (!park_fits(d, uid, len)) {
                d->loop->parked_refused++;
                log_debug("a reply of %zu bytes for uid %u not parked: %u parked, %llu bytes",
                          len, (unsigned)uid, d->loop->npending,
                          (unsigned long long)d->loop->parked_bytes);
                goto done;
        }
        w->parked = true;
        d->loop->npending++;
        d->loop->parked_bytes += len;
        w->pnext = d->loop->parked;
        if (w->pnext)
                w->pnext->pprev = &w->pnext;
        w->pprev = &d->loop->parked;
        d->loop->parked = w;
        /* The reader is slow (a big STATUS): finish when it has room. */
        if (sd_event_add_io(d->loop->e, &w->io, fd, EPOLLOUT, on_pending_io, w) < 0 ||
            sd_event_add_time_relative(d->loop->e, &w->timer, CLOCK_MONOTONIC, REPLY_TIMEOUT_USEC,
                                       0, on_pending_timeout, w) < 0)
                pending_free(w);
        return;
done:
        pending_free(w);
}

/* ---- control FIFO, signals, timers ---- */

/* Run the partial-line timer until the partial line is complete or dropped. */
static void partial_check(struct daemon *d)
{
        sd_event_source *t = d->loop->partial_timer;
        uint64_t at_ms = control_expire(d, clock_now_ms());

        if (!at_ms) {
                sd_event_source_set_enabled(t, SD_EVENT_OFF);
                return;
        }
        sd_event_source_set_time(t, at_ms * USEC_PER_MSEC);
        sd_event_source_set_enabled(t, SD_EVENT_ONESHOT);
}

/*
 * Re-exec (reexec.c): systemd is told it is a reload (the PID stays; the
 * new image says READY=1), the data threads stop at a pass boundary, the
 * clients that left are reaped, and the image is replaced.  Back here only
 * if that failed: everything goes on as before.
 */
static void reexec(struct daemon *d)
{
        int r;

        d->reexec_requested = false;
        if (d->loop->notify)
                sd_notifyf(0, "RELOADING=1\nSTATUS=re-executing\nMONOTONIC_USEC=%llu",
                           (unsigned long long)now_usec());
        r = router_pause_threads(&d->router);
        if (r < 0)
                log_error_errno(r, "re-exec: stopping the data threads");
        else {
                reap(d);
                r = reexec_exec(d);
        }
        r = router_resume_threads(&d->router);
        if (r < 0)
                log_error_errno(r, "re-exec: restarting the data threads");
        if (d->rest_len) {
                /* What followed the REEXEC line. */
                uint8_t *rest = d->rest;
                size_t n = d->rest_len;

                d->rest = NULL;
                d->rest_len = 0;
                control_feed(d, (const char *)rest, n);
                free(rest);
        }
        if (d->loop->notify)
                sd_notify(0, "READY=1");
}

static int on_control(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct daemon *d = userdata;

        control_read(d);
        partial_check(d);
        if (d->reexec_requested)
                reexec(d);
        return 0;
}

static int on_usr2(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        log_notice("received SIGUSR2: re-executing");
        reexec(userdata);
        return 0;
}

static int on_partial_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        partial_check(userdata);
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct daemon *d = userdata;

        log_info("received %s, shutting down", strsignal((int)si->ssi_signo));
        if (d->loop->notify)
                sd_notify(0, "STOPPING=1");
        sd_event_exit(sd_event_source_get_event(s), 0);
        return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct daemon *d = userdata;
        int r;

        if (d->loop->notify)
                sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)now_usec());
        r = d->reload ? d->reload(d) : 0;
        if (r < 0)
                log_error_errno(r, "reload failed; keeping the running configuration");
        else
                log_info("configuration reloaded");
        if (d->loop->notify)
                sd_notify(0, "READY=1");
        return 0;
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct daemon *d = userdata;
        struct event_loop *l = d->loop;
        uint64_t routed, now = now_usec();
        unsigned n;
        double rate;

        router_lock(&d->router);
        routed = d->router.cnt.routed;
        n = d->router.nclients;
        router_unlock(&d->router);
        rate = l->last_status_us && now > l->last_status_us
                       ? (double)(routed - l->last_routed) * 1e6 / (double)(now - l->last_status_us)
                       : 0.0;
        l->last_routed = routed;
        l->last_status_us = now;
        sd_notifyf(0, "STATUS=%u client%s, %.0f msg/s", n, n == 1 ? "" : "s", rate);
        sd_event_source_set_time(s, now + STATUS_USEC);
        return 0;
}

/*
 * Feed the watchdog only while every data thread is idle in msgrcv or its
 * current slice started recently: a stuck data plane gets ipcd restarted.
 * The check reads the data threads' atomics and never takes the router
 * lock, so a busy data plane cannot delay it.  Fed every quarter of the
 * interval: one late timer still leaves no gap of half the interval.
 */
static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct daemon *d = userdata;
        struct event_loop *l = d->loop;
        uint64_t now_ms = clock_now_ms(), limit_ms = l->watchdog_usec / 2000;
        uid_t stuck = 0;

        if (router_data_healthy(&d->router, now_ms, limit_ms, &stuck))
                sd_notify(0, "WATCHDOG=1");
        else
                log_warning("data thread of uid %u is stuck: not feeding the watchdog",
                            (unsigned)stuck);
        sd_event_source_set_time(s, now_usec() + l->watchdog_usec / 4);
        return 0;
}

/* The read end of the sentinel's pipe closed: it died (killed). */
static int on_sentinel_gone(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        log_warning("the sentinel died: if ipcd dies now, its clients notice only when a new "
                    "ipcd starts");
        sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

static void loop_free(struct event_loop *l)
{
        if (!l)
                return;
        sd_event_source_disable_unref(l->control_src);
        sd_event_source_disable_unref(l->sentinel_src);
        sd_event_source_disable_unref(l->partial_timer);
        sd_event_source_disable_unref(l->wake_src);
        sd_event_source_disable_unref(l->backlog_timer);
        sd_event_source_disable_unref(l->death_timer);
        sd_event_source_disable_unref(l->status_timer);
        sd_event_source_disable_unref(l->watchdog_timer);
        safe_close(l->wake_fd);
        sd_event_unref(l->e);
        free(l);
}

static int loop_setup(struct daemon *d)
{
        struct event_loop *l = calloc(1, sizeof(*l));
        int r;

        if (!l)
                return -ENOMEM;
        l->wake_fd = -1;
        d->loop = l;
        r = sd_event_new(&l->e);
        if (r < 0)
                return log_error_errno(r, "sd_event_new");
        l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->wake_fd < 0)
                return log_error_errno(-errno, "eventfd");
        r = sd_event_add_io(l->e, &l->wake_src, l->wake_fd, EPOLLIN, on_wake, d);
        if (r < 0)
                return log_error_errno(r, "sd_event_add_io");
        r = sd_event_add_io(l->e, &l->control_src, d->control_fd, EPOLLIN, on_control, d);
        if (r < 0)
                return log_error_errno(r, "watching the control FIFO");
        if (d->sentinel_fd >= 0) {
                r = sd_event_add_io(l->e, &l->sentinel_src, d->sentinel_fd, 0, on_sentinel_gone, d);
                if (r < 0)
                        log_warning_errno(r, "watching the sentinel");
        }
        r = sd_event_add_signal(l->e, NULL, SIGTERM, on_exit_signal, d);
        if (r >= 0)
                r = sd_event_add_signal(l->e, NULL, SIGINT, on_exit_signal, d);
        if (r >= 0)
                r = sd_event_add_signal(l->e, NULL, SIGHUP, on_hup, d);
        if (r >= 0)
                r = sd_event_add_signal(l->e, NULL, SIGUSR2, on_usr2, d);
        if (r < 0)
                return log_error_errno(r, "signal handlers");
        r = sd_event_add_time(l->e, &l->backlog_timer, CLOCK_MONOTONIC, 0, 1000, on_backlog_timer, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->backlog_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(l->e, &l->death_timer, CLOCK_MONOTONIC, 0, 1000, on_death_timer, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->death_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(l->e, &l->partial_timer, CLOCK_MONOTONIC, 0, 1000,
                                      on_partial_timer, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->partial_timer, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "timers");

        l->notify = getenv("NOTIFY_SOCKET") != NULL;
        if (l->notify) {
                r = sd_event_add_time_relative(l->e, &l->status_timer, CLOCK_MONOTONIC, STATUS_USEC,
                                               100000, on_status_timer, d);
                if (r >= 0)
                        r = sd_event_source_set_enabled(l->status_timer, SD_EVENT_ON);
                if (r < 0)
                        return log_error_errno(r, "status timer");
        }
        if (sd_watchdog_enabled(0, &l->watchdog_usec) > 0 && l->watchdog_usec > 0) {
                r = sd_event_add_time_relative(l->e, &l->watchdog_timer, CLOCK_MONOTONIC,
                                               l->watchdog_usec / 4, 10000, on_watchdog_timer, d);
                if (r >= 0)
                        r = sd_event_source_set_enabled(l->watchdog_timer, SD_EVENT_ON);
                if (r < 0)
                        return log_error_errno(r, "watchdog timer");
        }
        d->router.wake = wake_event_thread;
        d->router.wake_userdata = l;
        return 0;
}

static void shutdown_all(struct daemon *d)
{
        struct router *r = &d->router;
        struct uidq *threads = NULL;

        /* Remove every inbound queue: the data threads see EIDRM and exit. */
        router_lock(r);
        router_stop_threads(r);
        threads = r->uidqs;
        router_unlock(r);
        for (struct uidq *u = threads; u; u = u->next)
                if (u->thread_started) {
                        pthread_join(u->thread, NULL);
                        u->thread_started = false;
                }
        reap(d);
        router_lock(r);
        for (struct client *c = r->clients; c; c = c->next)
                client_free_sources(c);
        router_unlock(r);
}

int event_inherited_fifo(const char *rundir)
{
        char path[4096];
        int n = sd_listen_fds(1);

        if (n <= 0)
                return -1;
        snprintf(path, sizeof(path), "%s/control", rundir);
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
                if (sd_is_fifo(fd, path) > 0)
                        return fd;
        log_warning("systemd passed %d descriptor%s but none is the FIFO %s; creating it", n,
                    n == 1 ? "" : "s", path);
        return -1;
}

/* The new image of a re-exec: watch every client taken over, start the
 * data threads, retry what was pending, handle the control bytes that
 * came after the REEXEC line. */
static int adopt_clients(struct daemon *d)
{
        struct router *r = &d->router;
        bool deaths = false;
        int e = 0;

        router_lock(r);
        for (struct client *c = r->clients; c && e == 0; c = c->next) {
                e = event_watch_client(d, c);
                deaths |= c->death_pending;
        }
        router_unlock(r);
        if (e < 0)
                return e;
        if (deaths)
                timer_arm(d->loop, d->loop->death_timer, DEATH_RETRY_USEC);
        e = router_resume_threads(r);
        if (e < 0)
                return log_error_errno(e, "starting the data threads");
        wake_event_thread(d->loop); /* backlogs: on_wake arms their timer */
        if (d->rest_len) {
                control_feed(d, (const char *)d->rest, d->rest_len);
                free(d->rest);
                d->rest = NULL;
                d->rest_len = 0;
        }
        partial_check(d);
        return 0;
}

int event_run(struct daemon *d)
{
        unsigned n;
        int r;

        r = loop_setup(d);
        if (r < 0)
                goto out;
        if (d->adopted) {
                r = adopt_clients(d);
                if (r < 0)
                        goto out;
        }
        log_info("ready: serving %s (inbound payloads up to %u bytes)", d->rundir,
                 d->router.lim.max_payload);
        if (d->loop->notify)
                sd_notifyf(0, "READY=1\nSTATUS=0 clients\nMAINPID=%d", (int)getpid());
        r = sd_event_loop(d->loop->e);
        if (r < 0)
                log_error_errno(r, "event loop");
        shutdown_all(d);
        router_lock(&d->router);
        n = d->router.nclients;
        router_unlock(&d->router);
        log_info("stopped; %u client%s disconnected", n, n == 1 ? "" : "s");
out:
        d->router.wake = NULL;
        loop_free(d->loop);
        d->loop = NULL;
        return r < 0 ? r : 0;
}
