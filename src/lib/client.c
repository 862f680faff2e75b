/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.c - libipcd-client: the session core (registration, reconnection,
 * the one inbound-record encoder and the one send on Qu, TIMED, cookies,
 * and the session hooks through which it reaches the features above it).
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
 * Session hooks (client.h): the features register what they do when a
 * new session is installed (fd.c: the epoll set follows the new reply
 * FIFO), once per new session (replay.c, fd.c: ask the new ipcd again for
 * what the old one had), before a thread blocks (bulk.c: releases out),
 * and for a bulk record (bulk.c: map the ring).  So the core never calls
 * up into them; handle.c, the top, registers them all at ipcd_connect.
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
        /* Hooks see the new reply FIFO while the old one is still open
         * (fd.c: ipcd_fd()'s epoll set follows it). */
        for (unsigned i = 0; i < c->nhooks; i++)
                if (c->hooks[i]->installed_locked)
                        c->hooks[i]->installed_locked(c, fd);
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
                .flow_window = reg->flow_window,
                .flow_bulk_window = reg->flow_bulk_window,
                .flow_client = reg->flow_client,
        };
        memcpy(c->s.token, reg->token, sizeof(c->s.token));
        c->connected = true;
        c->timed = TIMED_OFF;
        c->pull_needed = false;
        c->sem_woke = false;
}

int client_session_open(ipcd_client *c, uint64_t deadline)
{
        struct wire_rec_registered reg;
        int fd = -1, r;

        r = register_retry(c->rundir, c->name, deadline, deadline, false, &reg, &fd);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        session_install(c, &reg, fd);
        pthread_mutex_unlock(&c->lock);
        return 0;
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
                        if (clock_now_us() >= deadline) {
                                r = -ECONNREFUSED;
                                break;
                        }
                        cond_wait_until(c, deadline);
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
        /* A new session: subscribe again, and the rest (the hooks). */
        restore = r == 0 && c->restored_gen != c->s.gen;
        pthread_mutex_unlock(&c->lock);
        if (restore)
                session_restore(c);
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

int client_record_put(const struct session *s, const struct lib_req *q, uint64_t cookie,
                      uint8_t *mtext, size_t size, size_t *off)
{
        struct wire_in h = {
                .client_id = s->client_id,
                .op = (uint16_t)q->op,
                .flags = q->wflags,
                .dst_len = (uint8_t)(q->dst ? strlen(q->dst) : 0),
                .type = q->type,
                .cookie = cookie,
                .arg = q->arg,
                .len = (uint32_t)q->len,
        };

        memcpy(h.token, s->token, sizeof(h.token));
        return wire_in_put(mtext, size, off, &h, q->dst, q->data);
}

int client_send_op(ipcd_client *c, const struct session *s, enum wire_op op, uint64_t cookie)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_in)];
        } m = {.mtype = WIRE_MTYPE_IN};
        size_t off = 0;

        (void)client_record_put(s, &(struct lib_req){.op = op}, cookie, m.mtext, sizeof(m.mtext),
                                &off);
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
        (void)client_record_put(&s, &(struct lib_req){.op = WIRE_OP_TIMED}, 0, m.mtext,
                                sizeof(m.mtext), &off);
        (void)client_record_put(&s, &(struct lib_req){.op = WIRE_OP_PING}, cookie, m.mtext,
                                sizeof(m.mtext), &off);
        r = client_inbound_send(c, &s, &m, off, true);

        pthread_mutex_lock(&c->lock);
        if (r < 0 && c->s.gen == s.gen && c->timed == TIMED_SENT && c->timed_cookie == cookie)
                c->timed = TIMED_OFF; /* try again on the next wait */
}

/* ------------------------------------------------------------------ */
/* Session hooks.                                                       */

void client_hooks_add(ipcd_client *c, const struct session_hooks *h)
{
        for (unsigned i = 0; i < c->nhooks; i++)
                if (c->hooks[i] == h)
                        return;
        if (c->nhooks < SESSION_HOOKS_MAX)
                c->hooks[c->nhooks++] = h;
}

void session_restore(ipcd_client *c)
{
        uint64_t gen;

        pthread_mutex_lock(&c->cfg_lock);
        pthread_mutex_lock(&c->lock);
        gen = c->s.gen;
        if (!c->connected || c->restored_gen == gen) {
                pthread_mutex_unlock(&c->lock);
                pthread_mutex_unlock(&c->cfg_lock);
                return;
        }
        pthread_mutex_unlock(&c->lock);

        for (unsigned i = 0; i < c->nhooks; i++)
                if (c->hooks[i]->restore && c->hooks[i]->restore(c) == -ECONNRESET)
                        goto out; /* lost again: the next session replays all */

        pthread_mutex_lock(&c->lock);
        if (c->s.gen == gen)
                c->restored_gen = gen;
        pthread_mutex_unlock(&c->lock);
out:
        pthread_mutex_unlock(&c->cfg_lock);
}

void client_idle(ipcd_client *c)
{
        for (unsigned i = 0; i < c->nhooks; i++)
                if (c->hooks[i]->idle)
                        c->hooks[i]->idle(c);
}

int client_hook_rx_bulk_locked(ipcd_client *c, const struct session *s, const struct wire_out *h,
                               const void *payload, struct rxrec *r)
{
        for (unsigned i = 0; i < c->nhooks; i++)
                if (c->hooks[i]->rx_bulk_locked)
                        return c->hooks[i]->rx_bulk_locked(c, s, h, payload, r);
        return -EOPNOTSUPP;
}

/* ------------------------------------------------------------------ */
/* Waking and waiting on the handle.                                    */

bool wake_waiters_locked(ipcd_client *c)
{
        pthread_cond_broadcast(&c->cond);
        return c->sleeper;
}

void sem_raise(const struct session *s)
{
        struct sembuf op = {.sem_num = 0, .sem_op = 1, .sem_flg = IPC_NOWAIT};

        /* ERANGE (at SEMVMX) means wake-ups are pending anyway. */
        (void)semop(s->sc, &op, 1);
}

void cond_wait_until(ipcd_client *c, uint64_t deadline)
{
        struct timespec ts;

        if (deadline == CLOCK_INFINITY) {
                pthread_cond_wait(&c->cond, &c->lock);
                return;
        }
        usec_to_timespec(deadline, &ts);
        (void)pthread_cond_timedwait(&c->cond, &c->lock, &ts);
}
