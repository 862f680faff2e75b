/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * channel.c - direct channels (WIRE_OP_CHANNEL_OPEN, _ATTACHED, _CLOSE):
 * a System V segment with two single-producer single-consumer rings for
 * one pair of clients (layout: shared/chanfmt.h), after which their
 * messages bypass ipcd.  ipcd checks that the pair may talk (the checks of
 * a send: policy_check_send; channels_per_uid charged to the opener's
 * uid, channels_total), creates and owns the segment, and tears it down
 * when either end closes it or leaves.
 *
 * Confidentiality per uid, with the kernel's own permission check: the
 * segment is mode 0600 and its owner uid is switched as the ends attach,
 * since shmat(2) checks permissions at attach time only.
 *
 *   1. OPEN: ipcd creates it (creator ipcd, so ipcd keeps access), owner =
 *      the opener's uid, mode 0600, group = ipcd's (RemoveIPC matches it);
 *      the grant answers the opener.  Only the opener's uid may attach.
 *   2. ATTACHED from the opener: ipcd checks that someone besides ipcd is
 *      attached, hands the segment to the acceptor's uid (IPC_SET) and
 *      offers it to the acceptor (a WIRE_NOTICE_CHANNEL notice in its
 *      queue).  From now on only the acceptor's uid may attach.
 *   3. ATTACHED from the acceptor: ipcd marks the segment IPC_RMID, so it
 *      goes with the last detach (a crash of everyone included) and
 *      nothing can attach it any more by permission but root.
 *
 * So at no time can a third uid map it.  Alternatives rejected: a group
 * per pair needs root; passing a memfd needs a socket (the reply channel
 * is a FIFO, which cannot carry descriptors), and pidfd_getfd(2) needs
 * ptrace rights over ipcd.
 *
 * ipcd's own mapping reads the counters for ipcdctl status (written by the
 * ends: shown, never trusted) and writes the state word when an end goes
 * (then wakes every futex waiter in it).  A re-exec keeps every channel
 * (the state's CHAN section, snapshot.h): the new image attaches each
 * segment again after checking it is the one the state names
 * (channel_adopt); the ring holder (reexec.c) keeps the segments attached
 * meanwhile.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ipcd/core/channel.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/pass.h"
#include "ipcd/core/answers.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/router.h"
#include "shared/chanfmt.h"
#include "shared/ipcstate.h"

static struct channel *channel_find(struct router *r, uint64_t id)
{
        for (struct channel *ch = r->channels; ch; ch = ch->next)
                if (ch->id == id)
                        return ch;
        return NULL;
}

static unsigned channels_of_uid(const struct router *r, uid_t uid)
{
        unsigned n = 0;

        for (const struct channel *ch = r->channels; ch; ch = ch->next)
                n += ch->charged_uid == uid;
        return n;
}

static void futex_wake_all(uint32_t *word)
{
        (void)syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Tell both ends it is over: state, then every waiter woken. */
static void channel_mark_closed(struct channel *ch)
{
        struct chan_shm_hdr *h = ch->base;
        struct chan_shm_dir *d = (struct chan_shm_dir *)((char *)ch->base + 64);

        uint32_t open = CHAN_STATE_OPEN;

        /* (CORRUPT, written by the end that found garbage, stays.) */
        __atomic_compare_exchange_n(&h->state, &open, CHAN_STATE_CLOSED, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
        futex_wake_all(&h->state);
        for (int i = 0; i < 2; i++) {
                __atomic_store_n(&d[i].rx_wait, 0, __ATOMIC_SEQ_CST);
                __atomic_store_n(&d[i].tx_wait, 0, __ATOMIC_SEQ_CST);
                futex_wake_all(&d[i].rx_wait);
                futex_wake_all(&d[i].tx_wait);
        }
}

static void channel_free(struct router *r, struct channel *ch)
{
        struct channel **pp;

        for (pp = &r->channels; *pp && *pp != ch; pp = &(*pp)->next)
                ;
        if (*pp)
                *pp = ch->next;
        r->nchannels--;
        channel_mark_closed(ch);
        (void)shmdt(ch->base);
        if (ch->phase != CHANNEL_OPEN) {
                (void)shmctl(ch->shmid, IPC_RMID, NULL);
                (void)ipcstate_record(r->mq.state_fd, IPCSTATE_SHM, ch->shmid, true);
        }
        free(ch);
}

/* Give the segment to uid (mode 0600, group ipcd's). */
static int channel_chown(struct channel *ch, uid_t uid, gid_t gid)
{
        struct shmid_ds ds;

        if (shmctl(ch->shmid, IPC_STAT, &ds) < 0)
                return -errno;
        ds.shm_perm.uid = uid;
        ds.shm_perm.gid = gid;
        ds.shm_perm.mode = 0600;
        if (shmctl(ch->shmid, IPC_SET, &ds) < 0)
                return -errno;
        return 0;
}

/* channel_bytes, rounded down to a power of two (the ends mask positions). */
static uint64_t channel_dir_bytes(const struct router *r)
{
        uint64_t b = r->lim.channel_bytes < 4096 ? 4096 : r->lim.channel_bytes;

        while (b & (b - 1))
                b &= b - 1;
        return b;
}

static int channel_create(struct router *r, struct client *s, struct client *dst,
                          struct channel **ret)
{
        uint64_t size = chan_seg_size(channel_dir_bytes(r));
        struct channel *ch = calloc(1, sizeof(*ch));
        struct chan_shm_hdr *h;
        int e;

        if (!ch)
                return -ENOMEM;
        ch->shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0600);
        if (ch->shmid < 0) {
                e = errno == ENOSPC || errno == ENOMEM ? ROUTER_E_QUOTA : -errno;
                free(ch);
                return e;
        }
        (void)ipcstate_record(r->mq.state_fd, IPCSTATE_SHM, ch->shmid, false);
        ch->base = shmat(ch->shmid, NULL, 0);
        e = ch->base == (void *)-1 ? -errno : channel_chown(ch, s->uid, r->mq.gid);
        if (e < 0) {
                if (ch->base != (void *)-1)
                        (void)shmdt(ch->base);
                (void)shmctl(ch->shmid, IPC_RMID, NULL);
                (void)ipcstate_record(r->mq.state_fd, IPCSTATE_SHM, ch->shmid, true);
                free(ch);
                return e;
        }
        ch->id = ++r->next_channel_id;
        ch->dir_bytes = channel_dir_bytes(r);
        ch->opener = s;
        ch->acceptor = dst;
        ch->charged_uid = s->uid;
        h = ch->base;
        *h = (struct chan_shm_hdr){ .magic = CHAN_MAGIC, .version = CHAN_VERSION,
                                    .dir_bytes = ch->dir_bytes, .id = ch->id };
        ch->next = r->channels;
        r->channels = ch;
        r->nchannels++;
        *ret = ch;
        return 0;
}

static void grant_fill(const struct channel *ch, const struct client *peer,
                       struct wire_channel_grant *g)
{
        *g = (struct wire_channel_grant){
                .shmid = ch->shmid,
                .channel_id = ch->id,
                .dir_bytes = ch->dir_bytes,
                .peer_id = peer->id,
                .peer_uid = (uint32_t)peer->uid,
                .peer_pid = peer->pid,
        };
        memcpy(g->peer_name, peer->name, sizeof(g->peer_name));
}

int op_channel_open(struct op_call *x)
{
        struct router *r = x->p->r;
        struct client *dst = router_client_by_name(r, x->dst, x->h->dst_len);
        struct wire_channel_grant g;
        struct channel *ch = NULL;
        int e;

        if (x->h->dst_len == 0 || x->h->arg != 0 || x->h->len != 0)
                return ROUTER_E_INVALID;
        if (!dst || dst->dying)
                return ROUTER_E_NOT_FOUND;
        if (dst == x->s)
                return ROUTER_E_INVALID;
        e = policy_check_send(r, x->s, dst, false); /* and the access rules */
        if (e != 0)
                return e;
        if (r->nchannels >= r->lim.channels_total ||
            channels_of_uid(r, x->s->uid) >= r->lim.channels_per_uid) {
                r->cnt.limit_hits++;
                return ROUTER_E_QUOTA;
        }
        e = channel_create(r, x->s, dst, &ch);
        if (e != 0 || !ch)
                return e ? e : -ENOMEM;
        grant_fill(ch, dst, &g);
        send_answer_data(r, x->s, WIRE_OUT_ACK, x->h->cookie, 0, &g, sizeof(g));
        x->answered = true;
        return 0;
}

/* The offer: a notice in the acceptor's stream, from the opener. */
static int channel_offer(struct router *r, struct channel *ch)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_out) + WIRE_NAME_MAX +
                              sizeof(struct wire_channel_grant) + 16];
        } m = { .mtype = WIRE_TYPE_NOTICE };
        const struct client *o = ch->opener;
        struct wire_out h = {
                .kind = WIRE_OUT_NOTICE,
                .status = WIRE_NOTICE_CHANNEL,
                .name_len = (uint8_t)strlen(o->name),
                .sender_id = o->id,
                .sender_uid = (uint32_t)o->uid,
                .sender_pid = o->pid,
                .cookie = ch->id,
                .len = sizeof(struct wire_channel_grant),
        };
        struct wire_channel_grant g;
        size_t off = 0;

        grant_fill(ch, o, &g);
        if (wire_out_put(m.mtext, sizeof(m.mtext), &off, &h, o->name, NULL, &g) < 0)
                return -EINVAL;
        return deliver(r, ch->acceptor, &(struct delivery){ .msg = &m.mtype, .size = off });
}

static int channel_attached_opener(struct router *r, struct channel *ch)
{
        struct shmid_ds ds;
        int e;

        /* ipcd and the opener: it must map it before it is handed over. */
        if (shmctl(ch->shmid, IPC_STAT, &ds) < 0)
                return -errno;
        if (ds.shm_nattch < 2)
                return ROUTER_E_INVALID;
        e = channel_chown(ch, ch->acceptor->uid, r->mq.gid);
        if (e < 0)
                return e;
        ch->phase = CHANNEL_OFFERED;
        e = channel_offer(r, ch);
        if (e == ROUTER_E_GONE)
                e = ROUTER_E_NOT_FOUND;
        if (e != 0)
                channel_free(r, ch);
        return e;
}

int op_channel_attached(struct op_call *x)
{
        struct router *r = x->p->r;
        struct channel *ch = channel_find(r, x->h->arg);

        if (!ch)
                return ROUTER_E_NOT_FOUND;
        if (ch->phase == CHANNEL_GRANTED && ch->opener == x->s)
                return channel_attached_opener(r, ch);
        if (ch->phase == CHANNEL_OFFERED && ch->acceptor == x->s) {
                /* Both mapped it: it goes with the last detach. */
                if (shmctl(ch->shmid, IPC_RMID, NULL) < 0)
                        return -errno;
                (void)ipcstate_record(r->mq.state_fd, IPCSTATE_SHM, ch->shmid, true);
                ch->phase = CHANNEL_OPEN;
                return 0;
        }
        return ROUTER_E_INVALID;
}

int op_channel_close(struct op_call *x)
{
        struct channel *ch = channel_find(x->p->r, x->h->arg);

        if (ch && (ch->opener == x->s || ch->acceptor == x->s))
                channel_free(x->p->r, ch);
        return 0;
}

void channel_client_gone(struct router *r, struct client *c)
{
        struct channel *ch = r->channels, *next;

        for (; ch; ch = next) {
                next = ch->next;
                if (ch->opener == c || ch->acceptor == c)
                        channel_free(r, ch);
        }
}

void channel_status(struct router *r, struct wire_status_channel *out, size_t cap, size_t *n)
{
        *n = 0;
        for (struct channel *ch = r->channels; ch && *n < cap; ch = ch->next) {
                const struct chan_shm_dir *d =
                        (const struct chan_shm_dir *)((const char *)ch->base + 64);
                struct wire_status_channel *sc = &out[(*n)++];

                *sc = (struct wire_status_channel){
                        .id = ch->id,
                        .shmid = ch->shmid,
                        .state = ch->phase == CHANNEL_OPEN,
                        .opener_id = ch->opener->id,
                        .acceptor_id = ch->acceptor->id,
                        .opener_uid = (uint32_t)ch->opener->uid,
                        .acceptor_uid = (uint32_t)ch->acceptor->uid,
                        .dir_bytes = ch->dir_bytes,
                };
                for (int i = 0; i < 2; i++) {
                        sc->sent[i] = __atomic_load_n(&d[i].sent, __ATOMIC_RELAXED);
                        sc->received[i] = __atomic_load_n(&d[i].received, __ATOMIC_RELAXED);
                }
        }
}

/* The segment the state names, as the phase left it: ours (created by
 * ipcd's uid, private), of the size for dir_bytes, mode 0600 and group
 * ipcd's, owned by the uid the phase handed it to, marked for removal
 * exactly when open, and its header naming the channel.  0, or -EINVAL
 * with *why (of size whylen) said. */
static int channel_segment_check(const struct router *r, const struct channel *ch,
                                 const struct shmid_ds *ds, char *why, size_t whylen)
{
        uid_t owner = ch->phase == CHANNEL_GRANTED ? ch->opener->uid : ch->acceptor->uid;
        bool dest = (ds->shm_perm.mode & SHM_DEST) != 0;

        if (ds->shm_perm.cuid != geteuid() || ds->shm_perm.__key != IPC_PRIVATE)
                snprintf(why, whylen, "not ipcd's segment");
        else if (ds->shm_segsz != chan_seg_size(ch->dir_bytes))
                snprintf(why, whylen, "%zu bytes, %llu expected", (size_t)ds->shm_segsz,
                         (unsigned long long)chan_seg_size(ch->dir_bytes));
        else if (ds->shm_perm.uid != owner || ds->shm_perm.gid != r->mq.gid ||
                 (ds->shm_perm.mode & 0777) != 0600)
                snprintf(why, whylen, "owner %u, group %u, mode %o: not as handed over",
                         (unsigned)ds->shm_perm.uid, (unsigned)ds->shm_perm.gid,
                         (unsigned)(ds->shm_perm.mode & 0777));
        else if (dest != (ch->phase == CHANNEL_OPEN))
                snprintf(why, whylen, "%s for removal", dest ? "marked" : "not marked");
        else
                return 0;
        return -EINVAL;
}

static bool channel_header_is(const struct channel *ch)
{
        const struct chan_shm_hdr *h = ch->base;

        return h->magic == CHAN_MAGIC && h->version == CHAN_VERSION &&
               h->dir_bytes == ch->dir_bytes && h->id == ch->id;
}

int channel_adopt(struct router *r, const struct channel *from, char *why, size_t whylen)
{
        struct channel *ch = malloc(sizeof(*ch)), **tail;
        struct shmid_ds ds;
        int e;

        if (!ch)
                return -ENOMEM;
        *ch = *from;
        ch->next = NULL;
        ch->base = (void *)-1;
        if (shmctl(ch->shmid, IPC_STAT, &ds) < 0) {
                snprintf(why, whylen, "the segment is gone (%s)", strerror(errno));
                free(ch);
                return -EINVAL;
        }
        /* Attached before the other checks, so a segment of ours whose
         * header names the channel is closed and woken even when the rest
         * does not match (its ends then get -ECONNRESET). */
        if (ds.shm_perm.cuid == geteuid() && ds.shm_perm.__key == IPC_PRIVATE &&
            ds.shm_segsz >= sizeof(struct chan_shm_hdr) + 2 * sizeof(struct chan_shm_dir))
                ch->base = shmat(ch->shmid, NULL, 0);
        if (ch->base == (void *)-1) {
                snprintf(why, whylen, "not ipcd's segment, or it cannot be attached");
                free(ch);
                return -EINVAL;
        }
        if (!channel_header_is(ch)) {
                snprintf(why, whylen, "its header names another channel");
                e = -EINVAL;
        } else
                e = channel_segment_check(r, ch, &ds, why, whylen);
        if (e < 0) {
                if (channel_header_is(ch)) {
                        channel_mark_closed(ch);
                        if (!(ds.shm_perm.mode & SHM_DEST))
                                (void)shmctl(ch->shmid, IPC_RMID, NULL);
                }
                (void)shmdt(ch->base);
                free(ch);
                return e;
        }
        for (tail = &r->channels; *tail; tail = &(*tail)->next)
                ;
        *tail = ch;
        r->nchannels++;
        return 0;
}

void channel_detach_all(struct router *r, bool close)
{
        struct channel *ch, *next;

        for (ch = r->channels; ch; ch = next) {
                next = ch->next;
                if (close)
                        channel_mark_closed(ch);
                (void)shmdt(ch->base);
                free(ch);
        }
        r->channels = NULL;
        r->nchannels = 0;
}
