/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wait.c - libipcd-client: timed waits, and threads waiting on one handle.
 *
 * The scheme, in one place:
 *
 * ipcd raises our semaphore Sc (+1) after every delivery into our queue
 * Qc, once we asked for it with WIRE_OP_TIMED.  A timed wait (ipcd_recv
 * with a timeout > 0, the answer to an IPCD_ACK send) looks into Qc with
 * msgrcv(IPC_NOWAIT) and, finding nothing, sleeps in semtimedop(Sc, -1).
 *
 * Several threads may wait on one handle at once, each for something
 * else (a type filter, the answer with its cookie), but one +1 wakes one
 * sleeper.  So only one thread at a time sleeps on Sc: the "sleeper".  It
 * acts for every registered waiter (c->waiters): after each wake-up it
 * sweeps Qc with msgrcv(IPC_NOWAIT) once per filter that a still
 * unsatisfied waiter has (an answer waiter's is its exact reply type),
 * sorts what it finds (rx_dispatch: records onto the pending list,
 * answers into their waiter's struct, the "mailbox"), gives up the role
 * and broadcasts c->cond.  Every waiter then checks its mailbox or the
 * pending list; one that is still unsatisfied takes the role again
 * (the others wait on c->cond), so the role passes on when the sleeper's
 * own wait is over.  It sleeps only after a sweep found nothing.
 *
 * A thread that starts to wait while another is the sleeper sweeps once
 * for itself before waiting on c->cond: the sleeper's last sweep did not
 * know its filter, and the +1 of a message that arrived before may be
 * spent already.  After that, every new delivery raises Sc, and the
 * sleeper's next sweep includes it.
 *
 * Order: every msgrcv(IPC_NOWAIT) and the sorting of what it brought
 * happen under c->rx_lock, and a thread looks at the pending list under
 * it too before taking from the queue, so records are handed out in
 * queue order even when the sleeper fetched them for someone else.
 *
 * A thread outside this scheme may meet what a waiter wants: a blocking
 * ipcd_recv(c, m, 0, -1) receives every type, answers included; a
 * receiver takes a batch whose other records someone waits for.  It
 * deposits under the lock (answers into the mailbox, or dropped if no
 * waiter has that cookie any more: a late answer after a timeout;
 * records onto the pending list), broadcasts c->cond, and if a sleeper
 * exists raises Sc itself (we own Sc) so that the sleeper wakes and looks.
 *
 * Stale counts: ipcd raises Sc for deliveries that are then received
 * without sleeping, so the count runs ahead.  A wake-up whose sweep finds
 * nothing resets Sc to 0 (semctl SETVAL) and goes round once more before
 * sleeping: a delivery or deposit before the reset is found by that
 * round, one after it raises Sc again.
 *
 * Until ipcd has confirmed TIMED (it answers the PING sent with it: the
 * TIMED_SENT state), a delivery that raced with it might not raise Sc,
 * so sleeps are cut into short slices for that moment.
 *
 * Waiters of a session that is lost (EIDRM on Qc or Sc, ipcd's FIFO end
 * closed) return -ECONNRESET; the sleeper's semtimedop fails with EIDRM
 * when ipcd removes Sc.  An ipcd that crashed removes nothing, so a
 * sleeper wakes at least once a second and polls the reply FIFO for
 * POLLHUP (one poll(2) per idle second, no more).  The lock is never held
 * across a blocking call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <time.h>

#include "lib/client.h"
#include "shared/macro.h"
#include "shared/clock.h"
#include "shared/util.h"

/* Filters one sweep looks at; with more waiters, filter 0 covers all. */
#define SWEEP_MAX 16
/* Sleep slice while TIMED is not confirmed, and how long at most. */
#define TIMED_SLICE_USEC (10ULL * USEC_PER_MSEC)
#define TIMED_CONFIRM_USEC (2000ULL * USEC_PER_MSEC)

static bool waiter_satisfied(ipcd_client *c, const struct waiter *w)
{
        if (w->kind == WAITER_REPLY)
                return w->done;
        if (w->kind == WAITER_COND)
                return w->ready(c, w->ready_arg);
        return pending_has(c, w->filter);
}

static void filter_add(long *filters, size_t *nf, bool *all, long f)
{
        if (f == 0) {
                *all = true;
                return;
        }
        for (size_t i = 0; i < *nf; i++)
                if (filters[i] == f)
                        return;
        if (*nf < SWEEP_MAX)
                filters[(*nf)++] = f;
        else
                *all = true;
}

/* The filters a sweep uses (lock held): exact reply types first, so an
 * answer is not stuck behind user messages; 0 last if anyone needs it. */
static size_t sweep_filters(ipcd_client *c, long filters[SWEEP_MAX + 1])
{
        size_t nf = 0;
        bool all = false;

        if (c->timed == TIMED_SENT)
                filter_add(filters, &nf, &all, wire_reply_type(c->timed_cookie));
        for (struct waiter *w = c->waiters; w; w = w->next)
                if (w->kind == WAITER_REPLY && !w->done && w->gen == c->s.gen)
                        filter_add(filters, &nf, &all, w->filter);
        for (struct waiter *w = c->waiters; w; w = w->next)
                if (w->kind == WAITER_RECV && !waiter_satisfied(c, w))
                        filter_add(filters, &nf, &all, w->filter);
        /* A condition that records of one type may satisfy, or that needs
         * the whole queue swept (flow.c: credit, which cannot arrive while
         * our queue is full of messages nobody reads). */
        for (struct waiter *w = c->waiters; w; w = w->next)
                if (w->kind == WAITER_COND && (w->filter || w->sweep_all) &&
                    !waiter_satisfied(c, w))
                        filter_add(filters, &nf, &all, w->sweep_all ? 0 : w->filter);
        if (all)
                filters[nf++] = 0;
        return nf;
}

/* msgrcv(IPC_NOWAIT) once per filter, sorting what comes (lock not
 * held).  true if anything came. */
static bool sweep(ipcd_client *c, const struct session *s, const long *filters, size_t nf)
{
        bool found = false;

        for (size_t i = 0; i < nf; i++) {
                struct rxbuf *b;
                int r;

                pthread_mutex_lock(&c->rx_lock);
                do
                        r = rx_queue(c, s, filters[i], IPC_NOWAIT, &b);
                while (r == -EINTR);
                if (r == 0)
                        rx_dispatch(c, s, b, 0, NULL, NULL, true);
                pthread_mutex_unlock(&c->rx_lock);
                if (r == -ECONNRESET)
                        break; /* recorded: the waiters see it */
                if (r == 0)
                        found = true;
        }
        return found;
}

/*
 * One round as the sleeper (lock held on entry and on return, dropped in
 * between): sweep for every waiter; if nothing came, sleep on Sc until
 * deadline.  0, or a -errno from semtimedop(2) that is not a timeout.
 */
static int sleeper_round(ipcd_client *c, uint64_t deadline)
{
        long filters[SWEEP_MAX + 1];
        struct session s = c->s;
        bool reset, pull, found, woke = false;
        uint64_t now = clock_now_us(), wait;
        size_t nf;
        int r = 0;

        c->sleeper = true;
        nf = sweep_filters(c, filters);
        reset = c->sem_woke;
        c->sem_woke = false;
        pull = c->pull_needed;
        c->pull_needed = false;
        wait = deadline > now ? deadline - now : 0;
        /* Wake once a second to see whether ipcd is still there. */
        wait = MIN(wait, PEER_CHECK_USEC);
        /* TIMED not sent (Qu was full), or not yet confirmed: ipcd may
         * not raise Sc for what arrives now. */
        if (c->timed == TIMED_OFF ||
            (c->timed == TIMED_SENT && now - c->timed_since < TIMED_CONFIRM_USEC))
                wait = MIN(wait, TIMED_SLICE_USEC);
        pthread_mutex_unlock(&c->lock);

        found = sweep(c, &s, filters, nf);
        if (!found && reset) {
                /* The last wake-up brought nothing: the count is stale.
                 * Drop it; the next round looks once more before sleeping. */
                (void)semctl(s.sc, 0, SETVAL, 0);
        } else if (!found && wait > 0) {
                struct sembuf op = {.sem_num = 0, .sem_op = -1, .sem_flg = 0};
                struct timespec ts;

                usec_to_timespec(wait, &ts);
                /* Our queue is empty: if ipcd holds a backlog, fetch it. */
                if (pull) {
                        (void)client_send_op(c, &s, WIRE_OP_PULL, 0);
                        pull = false;
                }
                /* Bulk releases reach ipcd before we sleep (bulk.c). */
                client_idle(c);
                if (semtimedop(s.sc, &op, 1, &ts) == 0)
                        woke = true;
                else if (errno == EIDRM || errno == EINVAL)
                        client_lost(c, s.gen);
                else if (errno == EAGAIN) {
                        /* A quiet second: is ipcd still there?  One that
                         * crashed left Sc behind, so nothing else tells. */
                        if (wait == PEER_CHECK_USEC)
                                (void)client_peer_gone(c);
                } else if (errno != EINTR)
                        r = -errno;
        }

        pthread_mutex_lock(&c->lock);
        c->sleeper = false;
        c->sem_woke = woke;
        if (pull && c->s.gen == s.gen)
                c->pull_needed = true; /* not sent: the queue was not empty */
        pthread_cond_broadcast(&c->cond);
        return r;
}

/* The first look of a receiver that found a sleeper at work (lock held
 * on entry and return).  true if it found a record for itself (in *rec). */
static bool own_sweep(ipcd_client *c, struct waiter *w, struct rxrec *rec)
{
        int r;

        pthread_mutex_unlock(&c->lock);
        r = rx_take_nowait(c, w->filter, rec);
        pthread_mutex_lock(&c->lock);
        return r > 0;
}

int wait_for(ipcd_client *c, struct waiter *w, uint64_t deadline, struct rxrec *rec)
{
        /* An answer cannot be in the queue before its waiter registered
         * (it registers before sending), so only receivers look first. */
        bool looked = w->kind != WAITER_RECV;

        for (;;) {
                int r;

                if (w->kind == WAITER_RECV) {
                        if (pending_take(c, w->filter, rec))
                                return 0;
                } else if (waiter_satisfied(c, w))
                        return 0;
                if (!c->connected || c->s.gen != w->gen)
                        return -ECONNRESET;
                if (clock_now_us() >= deadline)
                        return -ETIMEDOUT;

                if (c->sleeper) {
                        if (!looked) {
                                looked = true;
                                /* Only receivers get here (see above). */
                                if (own_sweep(c, w, rec))
                                        return 0;
                                continue;
                        }
                        cond_wait_until(c, deadline);
                        continue;
                }
                looked = true;
                r = sleeper_round(c, deadline);
                if (r < 0)
                        return r;
        }
}
