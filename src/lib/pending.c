/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pending.c - libipcd-client: receive buffers and the pending list (the
 * bottom layer: it calls no other file of the library).
 *
 * A queue message is received into a refcounted struct rxbuf; each record
 * of it that is not returned at once waits on the handle's pending list
 * (oldest first) holding one reference.  One spare buffer of max_qmsg
 * bytes is kept (atomic exchange), so that a receive costs no large
 * allocation and a failed IPC_NOWAIT look none at all; and the last small
 * buffer a small queue message was copied into (rx_small_take), with a
 * reference of the handle's: reused once its records are all released.  When ipcd_fd() is
 * in use, the eventfd in its epoll set is kept readable while the list is
 * not empty (pending_sync_fd_locked, wherever the list changes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/client.h"

/* ------------------------------------------------------------------ */
/* Buffers and the pending list.                                        */

void rxbuf_unref(struct rxbuf *b)
{
        if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
                free(b);
}

/* Small buffers come in powers of two from 512 bytes. */
static uint32_t small_capacity(size_t n)
{
        uint32_t cap = 512;

        while (cap < n)
                cap <<= 1;
        return cap;
}

/* The handle keeps a reference on the last small buffer (rx_small).  When
 * it is the only one left, every record in it was released: the buffer is
 * ours again.  (The application's release never touches the handle for
 * this, so a message may still be released after ipcd_close.) */
struct rxbuf *rx_small_take(ipcd_client *c, size_t n)
{
        uint32_t cap = small_capacity(n);
        struct rxbuf *b = __atomic_exchange_n(&c->rx_small, NULL, __ATOMIC_ACQ_REL);

        if (b && b->pool == cap && __atomic_load_n(&b->refs, __ATOMIC_ACQUIRE) == 1)
                return b; /* the handle's reference, now the caller's */
        rxbuf_unref(b); /* freed when its last record is released */
        b = malloc(sizeof(struct rxbuf) + cap);
        if (b)
                b->pool = cap;
        return b;
}

void rx_small_keep(ipcd_client *c, struct rxbuf *b)
{
        rxbuf_ref(b);
        rxbuf_unref(__atomic_exchange_n(&c->rx_small, b, __ATOMIC_ACQ_REL));
}

void rxbuf_ref(struct rxbuf *b)
{
        __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

/* The spare buffer, if it has the size this session needs, or a new one. */
struct rxbuf *rx_spare_take(ipcd_client *c, size_t size)
{
        struct rxbuf *b = __atomic_exchange_n(&c->rx_spare, NULL, __ATOMIC_ACQ_REL);

        /* A spare buffer carries its capacity in size. */
        if (b && b->size == size)
                return b;
        free(b);
        b = malloc(sizeof(struct rxbuf) + size);
        if (b)
                b->pool = 0;
        return b;
}

void rx_spare_put(ipcd_client *c, struct rxbuf *b, size_t size)
{
        b->size = (uint32_t)size;
        free(__atomic_exchange_n(&c->rx_spare, b, __ATOMIC_ACQ_REL));
}

void rx_spare_free(ipcd_client *c)
{
        free(__atomic_exchange_n(&c->rx_spare, NULL, __ATOMIC_ACQ_REL));
        rxbuf_unref(__atomic_exchange_n(&c->rx_small, NULL, __ATOMIC_ACQ_REL));
}


void pending_append(ipcd_client *c, struct rxrec *r)
{
        r->next = NULL;
        *c->pending_tail = r;
        c->pending_tail = &r->next;
        fd_pending_changed(c); /* ipcd_fd(): readable now */
}

static void pending_unlink(ipcd_client *c, struct rxrec **pp)
{
        struct rxrec *r = *pp;

        *pp = r->next;
        if (c->pending_tail == &r->next)
                c->pending_tail = pp;
        r->next = NULL;
        fd_pending_changed(c);
}

/* Nodes kept for reuse, so that a record costs no malloc/free. */
#define REC_CACHE_MAX 256

struct rxrec *pending_node_locked(ipcd_client *c)
{
        struct rxrec *r = c->rec_cache;

        if (!r)
                return malloc(sizeof(*r));
        c->rec_cache = r->next;
        c->nrec_cache--;
        return r;
}

static void node_put_locked(ipcd_client *c, struct rxrec *r)
{
        if (c->nrec_cache >= REC_CACHE_MAX) {
                free(r);
                return;
        }
        r->next = c->rec_cache;
        c->rec_cache = r;
        c->nrec_cache++;
}

static struct rxrec *take_node(ipcd_client *c, long filter)
{
        struct rxrec **best = NULL;

        for (struct rxrec **pp = &c->pending; *pp; pp = &(*pp)->next) {
                if (!filter_match(filter, (*pp)->mtype))
                        continue;
                if (filter >= 0) {
                        best = pp;
                        break;
                }
                /* Negative filter: the lowest type, oldest first within it. */
                if (!best || (*pp)->mtype < (*best)->mtype)
                        best = pp;
        }
        if (!best)
                return NULL;
        {
                struct rxrec *r = *best;

                pending_unlink(c, best);
                return r;
        }
}

bool pending_take(ipcd_client *c, long filter, struct rxrec *out)
{
        struct rxrec *r = take_node(c, filter);

        if (!r)
                return false;
        *out = *r;
        node_put_locked(c, r);
        return true;
}

bool pending_has(ipcd_client *c, long filter)
{
        for (struct rxrec *r = c->pending; r; r = r->next)
                if (filter_match(filter, r->mtype))
                        return true;
        return false;
}

void pending_free_all(ipcd_client *c)
{
        struct rxrec *r;

        while ((r = c->pending)) {
                c->pending = r->next;
                rxbuf_unref(r->buf);
                free(r);
        }
        c->pending_tail = &c->pending;
        while ((r = c->rec_cache)) {
                c->rec_cache = r->next;
                free(r);
        }
        c->nrec_cache = 0;
}

void pending_add_notice(ipcd_client *c, int code, uint64_t arg, const char *text)
{
        size_t len = strlen(text);
        struct rxbuf *b = malloc(sizeof(*b) + len + 1);
        struct rxrec *r = calloc(1, sizeof(*r));

        if (!b || !r) {
                free(b);
                free(r);
                return;
        }
        b->refs = 1;
        b->size = (uint32_t)len;
        b->pool = 0;
        b->instance = 0;
        b->mtype = WIRE_TYPE_NOTICE;
        memcpy(b->mtext, text, len + 1);
        r->buf = b;
        r->mtype = WIRE_TYPE_NOTICE;
        r->h = (struct wire_out){.kind = WIRE_OUT_NOTICE, .status = code, .cookie = arg,
                                 .len = (uint32_t)len, .sender_pid = 0};
        r->name = r->topic = "";
        r->payload = b->mtext;
        pending_append(c, r);
}


/* ipcd_fd(): the eventfd is readable while records are pending or a
 * kick is due (fd.c); lock held. */
void pending_sync_fd_locked(ipcd_client *c)
{
        bool want = c->pending || c->fd_kick;
        uint64_t v = 1;

        if (want == c->ev_on)
                return;
        if (want) {
                /* Fails only when the count would overflow: readable anyway. */
                (void)!write(c->event_fd, &v, sizeof(v));
                c->ev_on = true;
        } else {
                /* Resets the count to 0: not readable. */
                (void)!read(c->event_fd, &v, sizeof(v));
                c->ev_on = false;
        }
}
