/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.c - libipcd-client: handles, registration, reconnection, sending.
 *
 * A handle is one registration with ipcd (a "session": client id, token,
 * the uid's inbound queue Qu, our queue Qc and semaphore Sc) plus what
 * survives a reconnection: the runtime directory, the name, messages
 * received but not yet returned.  The library never prints, never exits,
 * installs no signal handler, starts no thread and keeps no global
 * mutable state: everything lives in the handle.
 *
 * Registration (see ctlchan.h): a fresh reply FIFO in RUNDIR/clients/, a
 * REGISTER line on RUNDIR/control, ipcd's answer on the FIFO.  An attempt
 * that gets no answer within a second is repeated with a new FIFO and a
 * new nonce (not on the same FIFO: ipcd would take a second REGISTER on
 * one FIFO for a second client); the FIFO of the abandoned attempt is
 * closed, so ipcd drops whatever it made of it.  For that reason a name
 * refused with -EADDRINUSE on a repeated attempt is tried again: the
 * holder may be our own abandoned attempt, on its way out.
 *
 * Connection loss: msgsnd/msgrcv/semop on a removed object (EIDRM,
 * EINVAL), or ipcd's end of the reply FIFO closed (POLLHUP), marks the
 * session lost; the call that met it returns -ECONNRESET, and the next
 * call registers again (same runtime directory, same name) within its own
 * timeout, or within RECONNECT_DEFAULT_USEC when it has none;
 * -ECONNREFUSED when no daemon answers in time.  A name that cannot be
 * had back (another client took it) is given up: the handle continues
 * anonymously, and ipcd_recv() with filter 0 returns a notice saying so
 * (flag IPCD_MSG_NOTICE, type WIRE_NOTICE_NAME_LOST).
 *
 * fork(): a child does not inherit a usable handle.  Every call made in a
 * forked child returns -ECHILD ("this handle belongs to the parent");
 * ipcd_close() in the child only frees the child's copy (it sends nothing
 * to ipcd, whose client is the parent's).  Detection costs nothing per
 * call: a flag on a MADV_WIPEONFORK page reads 0 in the child; on kernels
 * without it (< 4.14) getpid() is compared with the creator's pid.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

#include "lib/client.h"
#include "shared/ctlchan.h"
#include "shared/macro.h"
#include "shared/names.h"
#include "shared/clock.h"
#include "shared/util.h"

/* ------------------------------------------------------------------ */
/* Small helpers.                                                       */

bool client_forked(const ipcd_client *c)
{
        if (c->fork_guard)
                return *c->fork_guard == 0;
        return getpid() != c->pid;
}

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
/* Registration.                                                        */

/*
 * One attempt: a new reply FIFO, one REGISTER, wait for the answer until
 * attempt_deadline.  0 with *reg and *ret_fd (the reply FIFO, path
 * removed), or -ECONNREFUSED (no daemon), -ETIMEDOUT (no answer),
 * -ECONNRESET (ipcd closed the FIFO without answering), the error ipcd
 * answered, -EXDEV, -EPROTO.
 */
static int register_once(const char *rundir, const char *name, uint64_t attempt_deadline,
                         struct wire_rec_registered *reg, int *ret_fd)
{
        _cleanup_free_ struct ctlchan *ch = NULL;
        struct wire_ctl req = {.cmd = WIRE_CTL_REGISTER};
        union {
                struct wire_rec_error err;
                struct wire_rec_registered reg;
        } body;
        uint64_t ns;
        int r;

        ch = malloc(sizeof(*ch)); /* about 8 KiB: not on the caller's stack */
        if (!ch)
                return -ENOMEM;
        req.pid = getpid();
        snprintf(req.name, sizeof(req.name), "%s", name);

        r = ctlchan_open(ch, rundir);
        if (r < 0)
                return r;
        r = ctlchan_send(ch, &req, clock_remaining_ms(attempt_deadline));
        if (r < 0)
                goto out;
        memset(&body, 0, sizeof(body));
        r = ctlchan_read(ch, &body, sizeof(body), clock_remaining_ms(attempt_deadline));
        if (r < 0) {
                if (r == -EBADMSG)
                        r = -EPROTO;
                goto out;
        }
        if (r == WIRE_REC_ERROR) {
                r = body.err.error;
                if (r >= 0 || r < -4095)
                        r = -EPROTO;
                goto out;
        }
        if (r != WIRE_REC_REGISTERED) {
                r = -EPROTO;
                goto out;
        }
        *reg = body.reg;
        if (reg->inbound_qid < 0 || reg->queue_qid < 0 || reg->semid < 0 ||
            reg->max_qmsg < sizeof(struct wire_out) || reg->max_qmsg > (64U << 20)) {
                r = -EPROTO;
                goto out;
        }
        /* Our IPC namespace must be ipcd's: its queue ids mean nothing
         * elsewhere.  (ipcd checks too; without /proc we trust it.) */
        if (util_ipc_ns(0, &ns) == 0 && reg->ipc_ns != 0 && ns != reg->ipc_ns) {
                r = -EXDEV;
                goto out;
        }
        /* ipcd is now the FIFO's only writer: remove its path. */
        ctlchan_unlink(ch);
        *ret_fd = ctlchan_close(ch, 1);
        return 0;
out:
        ctlchan_close(ch, 0);
        return r;
}

/*
 * Register until deadline.  persist: keep trying while no daemon listens
 * (reconnection); else give up at once on -ECONNREFUSED (ipcd_connect).
 * A name in use is tried again until inuse_deadline.
 */
static int register_retry(const char *rundir, const char *name, uint64_t deadline,
                          uint64_t inuse_deadline, bool persist, struct wire_rec_registered *reg,
                          int *ret_fd)
{
        uint64_t backoff = 20 * USEC_PER_MSEC;

        for (unsigned attempt = 0;; attempt++) {
                uint64_t now = clock_now_us(), attempt_deadline;
                bool retry, waited = false;
                int r;

                attempt_deadline = MIN(deadline, now + REGISTER_ATTEMPT_USEC);
                if (deadline != CLOCK_INFINITY && now >= deadline)
                        attempt_deadline = now; /* still one look, without waiting */
                r = register_once(rundir, name, attempt_deadline, reg, ret_fd);
                switch (r) {
                case 0:
                        return 0;
                case -ECONNREFUSED:
                        retry = persist;
                        break;
                case -ETIMEDOUT:
                        waited = true;
                        retry = true;
                        break;
                case -ECONNRESET: /* ipcd died while answering: a new one may come */
                case -EAGAIN:     /* registration rate limit */
                case -EPROTO:
                        retry = true;
                        break;
                case -EADDRINUSE:
                        /* The holder may be our own abandoned attempt, or our
                         * previous session that ipcd is still removing. */
                        retry = (attempt > 0 || persist) && clock_now_us() < inuse_deadline;
                        break;
                default:
                        return r;
                }
                now = clock_now_us();
                if (!retry || now >= deadline) {
                        if (r == -ETIMEDOUT || r == -ECONNRESET)
                                return -ECONNREFUSED; /* no daemon answered */
                        return r;
                }
                if (!waited) {
                        clock_sleep_us(MIN(backoff, deadline - now));
                        backoff = MIN(backoff * 2, 500 * USEC_PER_MSEC);
                }
        }
}

/* Install a new session (lock held). */
static void session_install(ipcd_client *c, const struct wire_rec_registered *reg, int fd)
{
        fd_follow_locked(c, fd); /* fd.c: ipcd_fd()'s epoll set, before the close */
        c->reply_fd = safe_close(c->reply_fd);
        c->reply_fd = fd;
        c->s = (struct session){
                .gen = c->s.gen + 1,
                .client_id = reg->client_id,
                .qu = reg->inbound_qid,
                .qc = reg->queue_qid,
                .sc = reg->semid,
                .max_payload = reg->max_payload,
                .max_qmsg = reg->max_qmsg,
                .instance = reg->instance,
        };
        memcpy(c->s.token, reg->token, sizeof(c->s.token));
        c->connected = true;
        c->timed = TIMED_OFF;
        c->pull_needed = false;
        c->sem_woke = false;
}

void client_lost_locked(ipcd_client *c, uint64_t gen)
{
        if (c->s.gen != gen || !c->connected)
                return;
        c->connected = false;
        /* Waiters of this session give up with -ECONNRESET. */
        pthread_cond_broadcast(&c->cond);
}

void client_lost(ipcd_client *c, uint64_t gen)
{
        pthread_mutex_lock(&c->lock);
        client_lost_locked(c, gen);
        pthread_mutex_unlock(&c->lock);
}

bool client_peer_gone(ipcd_client *c)
{
        bool gone = false;

        pthread_mutex_lock(&c->lock);
        if (c->reply_fd >= 0) {
                struct pollfd p = {.fd = c->reply_fd, .events = POLLIN};

                /* Nothing else writes to it once registered: POLLHUP means
                 * ipcd closed it, i.e. it died or dropped us. */
                if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
                        gone = true;
        }
        if (gone)
                client_lost_locked(c, c->s.gen);
        pthread_mutex_unlock(&c->lock);
        return gone;
}

int client_ensure_in(ipcd_client *c, uint64_t usec, bool persist)
{
        bool ready;

        /* The common case costs a lock, not a clock_gettime(2). */
        pthread_mutex_lock(&c->lock);
        ready = c->connected && c->restored_gen == c->s.gen;
        pthread_mutex_unlock(&c->lock);
        if (ready)
                return 0;
        return client_ensure(c, clock_now_us() + usec, persist);
}

int client_ensure(ipcd_client *c, uint64_t deadline, bool persist)
{
        bool restore;
        int r = 0;

        pthread_mutex_lock(&c->lock);
        while (!c->connected) {
                struct wire_rec_registered reg;
                char name[IPCD_NAME_MAX];
                int fd = -1;

                if (c->reconnecting) {
                        /* Another thread registers: wait for its outcome. */
                        if (deadline == CLOCK_INFINITY)
                                pthread_cond_wait(&c->cond, &c->lock);
                        else {
                                struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000),
                                                      .tv_nsec = (long)(deadline % 1000000) *
                                                                 1000};

                                if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) ==
                                    ETIMEDOUT) {
                                        r = c->connected ? 0 : -ECONNREFUSED;
                                        break;
                                }
                        }
                        continue;
                }
                c->reconnecting = true;
                memcpy(name, c->name, sizeof(name));
                pthread_mutex_unlock(&c->lock);

                {
                        /* Our old registration may hold the name for a moment
                         * (ipcd removes it when it notices): wait for that
                         * for part of the time, keep the rest for going on
                         * without the name. */
                        uint64_t now = clock_now_us();
                        uint64_t left = deadline > now ? deadline - now : 0;

                        r = register_retry(c->rundir, name, deadline,
                                           now + MIN(left / 2, NAME_RETRY_USEC), persist, &reg,
                                           &fd);
                }
                if (r == -EADDRINUSE && name[0]) {
                        /* Someone else has our name now: carry on without it,
                         * and say so. */
                        r = register_retry(c->rundir, "", deadline, deadline, persist, &reg, &fd);
                        if (r == 0) {
                                char text[128];

                                snprintf(text, sizeof(text),
                                         "name %s is taken: registered again without it", name);
                                pthread_mutex_lock(&c->lock);
                                c->name[0] = '\0';
                                pending_add_notice(c, WIRE_NOTICE_NAME_LOST, 0, text);
                                pthread_mutex_unlock(&c->lock);
                        }
                }

                pthread_mutex_lock(&c->lock);
                c->reconnecting = false;
                if (r == 0)
                        session_install(c, &reg, fd);
                pthread_cond_broadcast(&c->cond);
                if (r < 0)
                        break;
        }
        /* A new session: subscribe again, and the rest (topics.c). */
        restore = r == 0 && c->restored_gen != c->s.gen;
        pthread_mutex_unlock(&c->lock);
        if (restore)
                client_restore(c);
        return r;
}

/* ------------------------------------------------------------------ */
/* Sending to Qu.                                                       */

int client_inbound_send(ipcd_client *c, const struct session *s, void *msg, size_t len,
                        bool nowait)
{
        for (;;) {
                if (msgsnd(s->qu, msg, len, nowait ? IPC_NOWAIT : 0) == 0)
                        return 0;
                switch (errno) {
                case EINTR:
                        continue;
                case EAGAIN:
                        return -EAGAIN;
                case EIDRM:
                case EINVAL:
                        /* Qu removed: ipcd stopped, or dropped us. */
                        client_lost(c, s->gen);
                        return -ECONNRESET;
                default:
                        return -errno;
                }
        }
}

static void op_record(const struct session *s, uint8_t *mtext, size_t size, size_t *off,
                      enum wire_op op, uint64_t cookie)
{
        struct wire_in h = {.client_id = s->client_id, .op = (uint16_t)op, .cookie = cookie};

        memcpy(h.token, s->token, sizeof(h.token));
        (void)wire_in_put(mtext, size, off, &h, NULL, NULL);
}

int client_send_op(ipcd_client *c, const struct session *s, enum wire_op op, uint64_t cookie)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_in)];
        } m = {.mtype = WIRE_MTYPE_IN};
        size_t off = 0;

        op_record(s, m.mtext, sizeof(m.mtext), &off, op, cookie);
        return client_inbound_send(c, s, &m, off, true);
}

uint64_t client_cookie_new(ipcd_client *c)
{
        for (;;) {
                uint64_t cookie = ++c->next_cookie;
                long t = wire_reply_type(cookie);
                bool used = cookie == 0 || (c->timed == TIMED_SENT &&
                                            wire_reply_type(c->timed_cookie) == t);

                for (struct waiter *w = c->waiters; w && !used; w = w->next)
                        if (w->kind == WAITER_REPLY && w->filter == t)
                                used = true;
                if (!used)
                        return cookie;
        }
}

void client_timed_start_locked(ipcd_client *c)
{
        struct {
                long mtype;
                uint8_t mtext[2 * sizeof(struct wire_in)];
        } m = {.mtype = WIRE_MTYPE_IN};
        struct session s;
        uint64_t cookie;
        size_t off = 0;
        int r;

        if (c->timed != TIMED_OFF || !c->connected)
                return;
        cookie = client_cookie_new(c);
        c->timed = TIMED_SENT;
        c->timed_cookie = cookie;
        c->timed_since = clock_now_us();
        s = c->s;
        pthread_mutex_unlock(&c->lock);

        /* TIMED, then a PING: its answer proves TIMED is in force, so a
         * delivery that raced with it (sent by another uid's data thread
         * just before) cannot be missed afterwards; until then sleeps are
         * cut short (wait.c). */
        op_record(&s, m.mtext, sizeof(m.mtext), &off, WIRE_OP_TIMED, 0);
        op_record(&s, m.mtext, sizeof(m.mtext), &off, WIRE_OP_PING, cookie);
        r = client_inbound_send(c, &s, &m, off, true);

        pthread_mutex_lock(&c->lock);
        if (r < 0 && c->s.gen == s.gen && c->timed == TIMED_SENT && c->timed_cookie == cookie)
                c->timed = TIMED_OFF; /* try again on the next wait */
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
        client_ext_free(c, forked); /* topics.c, fd.c */
        if (!forked) {
                /* In a forked child another thread of the parent may have
                 * held them at fork time: leave them alone. */
                pthread_cond_destroy(&c->cond);
                pthread_mutex_destroy(&c->lock);
                pthread_mutex_destroy(&c->rx_lock);
                pthread_mutex_destroy(&c->ob_lock);
        }
        free(c->ob);
        if (c->fork_guard)
                munmap((void *)c->fork_guard, c->fork_guard_size);
        free(c->rundir);
        free(c);
}

IPCD_EXPORT int ipcd_connect_at(const char *runtime_dir, const char *name, ipcd_client **ret)
{
        struct wire_rec_registered reg;
        pthread_condattr_t ca;
        ipcd_client *c;
        int fd = -1, r;

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
        client_ext_init(c);
        snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
        c->rundir = strdup(util_runtime_dir(runtime_dir));
        if (!c->rundir) {
                free(c);
                return -ENOMEM;
        }
        if (pthread_mutex_init(&c->lock, NULL) != 0) {
                free(c->rundir);
                free(c);
                return -ENOMEM;
        }
        if (pthread_mutex_init(&c->rx_lock, NULL) != 0) {
                pthread_mutex_destroy(&c->lock);
                free(c->rundir);
                free(c);
                return -ENOMEM;
        }
        if (pthread_mutex_init(&c->ob_lock, NULL) != 0) {
                pthread_mutex_destroy(&c->rx_lock);
                pthread_mutex_destroy(&c->lock);
                free(c->rundir);
                free(c);
                return -ENOMEM;
        }
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        r = pthread_cond_init(&c->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (r != 0) {
                pthread_mutex_destroy(&c->ob_lock);
                pthread_mutex_destroy(&c->rx_lock);
                pthread_mutex_destroy(&c->lock);
                free(c->rundir);
                free(c);
                return -ENOMEM;
        }
        r = fork_guard_init(c);
        if (r < 0) {
                client_free(c);
                return r;
        }

        {
                uint64_t deadline = clock_deadline_us(CONNECT_TIMEOUT_USEC);

                r = register_retry(c->rundir, c->name, deadline, deadline, false, &reg, &fd);
        }
        if (r < 0) {
                client_free(c);
                return r;
        }
        session_install(c, &reg, fd);
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
                ts.tv_sec = (time_t)((deadline - now) / 1000000ULL);
                ts.tv_nsec = (long)((deadline - now) % 1000000ULL) * 1000L;
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

/* ------------------------------------------------------------------ */
/* Public: sending.                                                     */

/* ---- IPCD_MORE ---- */

/*
 * Held records made in a session that is gone (ipcd restarted) were never
 * sent: they go out in the new session s, under its id and token.  A
 * caller whose s is older than the records' session is the stale one:
 * -ECONNRESET, nothing changed.  ob_lock held.
 */
static int ob_restamp(ipcd_client *c, const struct session *s)
{
        size_t off = 0;
        struct wire_in h;
        const char *dst;
        const void *payload;

        if (!c->ob_len || c->ob_gen == s->gen)
                return 0;
        if (c->ob_gen > s->gen)
                return -ECONNRESET;
        for (;;) {
                size_t at = off;

                if (wire_in_next(c->ob + sizeof(long), c->ob_len, &off, &h, &dst, &payload) <= 0)
                        break;
                h.client_id = s->client_id;
                memcpy(h.token, s->token, sizeof(h.token));
                memcpy(c->ob + sizeof(long) + at, &h, sizeof(h));
        }
        c->ob_gen = s->gen;
        return 0;
}

/* ob_lock held. */
static int ob_flush_locked(ipcd_client *c, const struct session *s, bool nowait)
{
        int r;

        if (c->ob_len == 0)
                return 0;
        r = ob_restamp(c, s);
        if (r < 0)
                return r;
        r = client_inbound_send(c, s, c->ob, c->ob_len, nowait);
        /* Kept when not sent: a full queue (-EAGAIN), or a session that
         * ended (-ECONNRESET: they go out in the next one, re-stamped). */
        if (r != -EAGAIN && r != -ECONNRESET)
                c->ob_len = 0;
        return r;
}

int client_ob_flush(ipcd_client *c, bool nowait)
{
        struct session s;
        int r;

        if (!c->ob_len) /* a racy peek: a stale answer only costs a lock */
                return 0;
        pthread_mutex_lock(&c->ob_lock);
        pthread_mutex_lock(&c->lock);
        s = c->s;
        pthread_mutex_unlock(&c->lock);
        r = ob_flush_locked(c, &s, nowait);
        pthread_mutex_unlock(&c->ob_lock);
        return r;
}

/*
 * Append an inline SEND record to the held batch; send the batch when
 * this one is not flagged IPCD_MORE, or when the next record would not
 * fit in one queue message.  Per-pair order holds: the batch is one
 * message, sent before anything later.
 */
static int ob_send(ipcd_client *c, const struct session *s, const char *dst, long type,
                   const void *data, size_t len, int flags)
{
        size_t dst_len = strlen(dst), need = wire_in_size(dst_len, len);
        size_t limit = MIN((size_t)s->max_qmsg, (size_t)65536);
        struct wire_in h = {.op = WIRE_OP_SEND};
        size_t before;
        int r = 0;

        pthread_mutex_lock(&c->ob_lock);
        r = ob_restamp(c, s);
        if (r < 0)
                goto out;
        if (c->ob_len && c->ob_len + need > limit) {
                r = ob_flush_locked(c, s, flags & IPCD_NONBLOCK);
                if (r < 0)
                        goto out; /* this one not accepted either */
        }
        if (c->ob_cap < sizeof(long) + limit) {
                uint8_t *n = realloc(c->ob, sizeof(long) + limit);

                if (!n) {
                        r = -ENOMEM;
                        goto out;
                }
                c->ob = n;
                c->ob_cap = sizeof(long) + limit;
        }
        memcpy(c->ob, &(long){WIRE_MTYPE_IN}, sizeof(long));
        c->ob_gen = s->gen;
        h.client_id = s->client_id;
        memcpy(h.token, s->token, sizeof(h.token));
        h.flags = (flags & IPCD_MORE) ? WIRE_IN_MORE : 0;
        h.dst_len = (uint8_t)dst_len;
        h.type = type;
        h.len = (uint32_t)len;
        before = c->ob_len;
        r = wire_in_put(c->ob + sizeof(long), limit, &c->ob_len, &h, dst, data);
        if (r < 0)
                goto out;
        if (!(flags & IPCD_MORE)) {
                r = ob_flush_locked(c, s, flags & IPCD_NONBLOCK);
                /* Not sent (-EAGAIN: the inbound queue is full): take this
                 * one back, so that a retry does not send it twice; those
                 * held before stay held. */
                if (r == -EAGAIN)
                        c->ob_len = before;
        } else
                r = 0;
out:
        pthread_mutex_unlock(&c->ob_lock);
        return r;
}

IPCD_EXPORT int ipcd_send(ipcd_client *c, const char *dst, long type, const void *data, size_t len,
                          int flags)
{
        struct waiter w = {.kind = WAITER_REPLY};
        uint8_t stackbuf[1024] __attribute__((aligned(8)));
        _cleanup_free_ uint8_t *heapbuf = NULL;
        struct wire_in h = {.op = WIRE_OP_SEND};
        struct session s;
        uint8_t *msg;
        size_t dst_len, size, off = 0;
        bool ack = flags & IPCD_ACK, nowait = flags & IPCD_NONBLOCK;
        int r;

        if (!c || !dst || !name_is_valid(dst) || !wire_type_is_user(type) ||
            (flags & ~(IPCD_NONBLOCK | IPCD_ACK | IPCD_MORE)) || (!data && len > 0))
                return -EINVAL;
        if (client_forked(c))
                return -ECHILD;
        /* Releases made before this send reach ipcd before it (bulk.c). */
        bulk_release_flush(c, !nowait);
        r = client_ensure_in(c, RECONNECT_DEFAULT_USEC, !nowait);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->lock);
        s = c->s;
        /* Inline, no answer awaited: through the held batch when one is
         * open or asked for (IPCD_MORE). */
        if (!ack && len <= s.max_payload && ((flags & IPCD_MORE) || c->ob_len)) {
                pthread_mutex_unlock(&c->lock);
                return ob_send(c, &s, dst, type, data, len, flags);
        }
        pthread_mutex_unlock(&c->lock);
        /* Anything else goes after what is held. */
        r = client_ob_flush(c, nowait);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        s = c->s;
        /* Payloads larger than max_payload go through the bulk ring
         * (bulk.c): copied into our lane, a descriptor sent. */
        if (len > s.max_payload) {
                pthread_mutex_unlock(&c->lock);
                return bulk_send_copy(c, WIRE_OP_SEND, dst, type, data, len, flags);
        }
        if (ack) {
                /* Sc must be raised for the answer; then register before
                 * sending, so whichever thread meets the answer finds us. */
                client_timed_start_locked(c);
                s = c->s;
                if (!c->connected) {
                        pthread_mutex_unlock(&c->lock);
                        return -ECONNRESET;
                }
                w.cookie = client_cookie_new(c);
                w.filter = wire_reply_type(w.cookie);
                w.gen = s.gen;
                waiter_add(c, &w);
        }
        pthread_mutex_unlock(&c->lock);

        dst_len = strlen(dst);
        size = sizeof(long) + wire_in_size(dst_len, len);
        if (size <= sizeof(stackbuf))
                msg = stackbuf;
        else {
                heapbuf = malloc(size);
                if (!heapbuf) {
                        r = -ENOMEM;
                        goto out;
                }
                msg = heapbuf;
        }
        h.client_id = s.client_id;
        memcpy(h.token, s.token, sizeof(h.token));
        h.flags = ack ? WIRE_IN_ACK : 0;
        h.dst_len = (uint8_t)dst_len;
        h.type = type;
        h.cookie = w.cookie;
        h.len = (uint32_t)len;
        memcpy(msg, &(long){WIRE_MTYPE_IN}, sizeof(long));
        r = wire_in_put(msg + sizeof(long), size - sizeof(long), &off, &h, dst, data);
        if (r < 0)
                goto out;
        r = client_inbound_send(c, &s, msg, off, nowait);
        if (r < 0 || !ack)
                goto out;

        pthread_mutex_lock(&c->lock);
        r = wait_for(c, &w, clock_deadline_us(ACK_TIMEOUT_USEC), NULL);
        waiter_remove(c, &w);
        pthread_mutex_unlock(&c->lock);
        if (r == -ETIMEDOUT && client_peer_gone(c))
                r = -ECONNRESET;
        if (r == 0)
                r = w.status > 0 ? -EPROTO : w.status; /* a send's outcome is 0 or -errno */
        return r;
out:
        if (ack) {
                pthread_mutex_lock(&c->lock);
                waiter_remove(c, &w);
                pthread_mutex_unlock(&c->lock);
        }
        return r;
}
