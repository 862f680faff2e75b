/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nats.c - the direct NATS pair of section 9 (bridge.c): what a user gets
 * with libnats alone, through the nats-server the bench started.  A
 * publishes on d.x.N and B subscribes to it; B answers on d.y.N, to which
 * A subscribes (synchronous subscriptions, NextMsg).  "nats": libnats's
 * default options, as ipcd-bridge's connection (publishes are buffered and
 * written by libnats's flusher thread); "nats-asap": SendAsap, each
 * publish written at once.  Built only with libnats (--with-nats).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "bench.h"

struct nats_ep {
        struct lossy_link link;
        natsConnection *nc;
        natsSubscription *sub;
        char out[64];
};

static int nats_errno(natsStatus s)
{
        switch (s) {
        case NATS_OK:
                return 0;
        case NATS_TIMEOUT:
                return -ETIMEDOUT;
        case NATS_NO_MEMORY:
                return -ENOMEM;
        case NATS_NO_SERVER:
                return -ECONNREFUSED;
        case NATS_CONNECTION_CLOSED:
        case NATS_CONNECTION_DISCONNECTED:
                return -ECONNRESET;
        default:
                return -EIO;
        }
}

static int nats_setup(struct pair *p)
{
        if (!bridge_nats_url()[0]) {
                bprintf(p->why, sizeof(p->why), "nats-server not running");
                return 1;
        }
        return 0;
}

static int nats_put(void *ep, const void *buf, size_t len)
{
        struct nats_ep *e = ep;

        return nats_errno(natsConnection_Publish(e->nc, e->out, buf, (int)len));
}

static ssize_t nats_get(void *ep, void *buf, size_t len, int timeout_ms)
{
        struct nats_ep *e = ep;

        for (;;) {
                natsMsg *m = NULL;
                natsStatus s = natsSubscription_NextMsg(&m, e->sub, timeout_ms);
                int n;

                if (s == NATS_SLOW_CONSUMER)
                        continue; /* messages were dropped: counted as lost by run.c */
                if (s != NATS_OK)
                        return nats_errno(s);
                n = natsMsg_GetDataLength(m);
                if (n > 0)
                        memcpy(buf, natsMsg_GetData(m), MIN((size_t)n, len));
                natsMsg_Destroy(m);
                return (ssize_t)MIN((size_t)(n > 0 ? n : 0), len);
        }
}

static int nats_open(struct pair *p, int side, void **ret)
{
        _cleanup_free_ struct nats_ep *e = calloc(1, sizeof(*e));
        natsOptions *o = NULL;
        char in[64];
        natsStatus s;

        if (!e)
                return -ENOMEM;
        bprintf(in, sizeof(in), "d.%c.%u", side == SIDE_A ? 'y' : 'x', p->seq);
        bprintf(e->out, sizeof(e->out), "d.%c.%u", side == SIDE_A ? 'x' : 'y', p->seq);
        s = natsOptions_Create(&o);
        if (s == NATS_OK)
                s = natsOptions_SetURL(o, bridge_nats_url());
        if (s == NATS_OK && p->t->arg) /* nats-asap */
                s = natsOptions_SetSendAsap(o, true);
        if (s == NATS_OK)
                s = natsConnection_Connect(&e->nc, o);
        natsOptions_Destroy(o);
        if (s == NATS_OK)
                s = natsConnection_SubscribeSync(&e->sub, e->nc, in);
        if (s == NATS_OK) /* the server has the subscription once it answered */
                s = natsConnection_FlushTimeout(e->nc, 10000);
        if (s != NATS_OK) {
                natsSubscription_Destroy(e->sub);
                natsConnection_Destroy(e->nc);
                return nats_errno(s);
        }
        e->link = (struct lossy_link){.put = nats_put, .get = nats_get, .ep = e};
        *ret = TAKE_PTR(e);
        return 0;
}

static int nats_send(void *ep, const void *buf, size_t len, int flags)
{
        struct nats_ep *e = ep;

        return lossy_send(&e->link, buf, len);
}

static ssize_t nats_recv(void *ep, void *buf, size_t len)
{
        struct nats_ep *e = ep;

        return lossy_recv(&e->link, buf, len);
}

static void nats_close(void *ep)
{
        struct nats_ep *e = ep;

        (void)natsConnection_FlushTimeout(e->nc, 1000); /* the last acknowledgement */
        natsSubscription_Destroy(e->sub);
        natsConnection_Destroy(e->nc);
        free(e);
}

const struct transport transport_nats = {
    .name = "nats",
    .label = "NATS direct (libnats pub/sub)",
    .setup = nats_setup,
    .open = nats_open,
    .send = nats_send,
    .recv = nats_recv,
    .close = nats_close,
};

/* The same with natsOptions_SetSendAsap(): each publish is written at
 * once instead of by libnats's flusher thread, which waits 1 ms for more
 * publishes before it writes (natsCondition_TimedWait in conn.c's
 * _flusher): a round trip of two publishes pays that twice. */
const struct transport transport_nats_asap = {
    .name = "nats-asap",
    .label = "NATS direct, SendAsap",
    .setup = nats_setup,
    .open = nats_open,
    .send = nats_send,
    .recv = nats_recv,
    .close = nats_close,
    .arg = "asap",
};
