/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-channel - direct channels (issue 16): ipcd_channel_open/accept,
 * then messages through the segment, bypassing ipcd.
 *
 * Must hold (libipcd-client(3) "DIRECT CHANNELS"):
 *  - the acceptor learns of the channel through an IPCD_NOTICE_CHANNEL
 *    notice whose sender is the opener; a destination that does not
 *    exist is -ENOENT, one's own name -EINVAL;
 *  - order: every message arrives once, in the order sent, both ways,
 *    across many wraps of the ring, with the peer's identity as ipcd
 *    attested it (name, id, uid, pid) and IPCD_MSG_CHANNEL;
 *  - ipcdctl status lists the channel with the counters of its rings;
 *  - a close, or the death of either end, gives the other end what was
 *    sent before, then -ECONNRESET (receive and send);
 *  - a hostile peer scribbling on the segment (indices, lengths, types)
 *    gives -EBADMSG, never a crash or a read outside the ring (run under
 *    ASan in CI), and the other end learns of it too;
 *  - channels_per_uid: the next open is -EDQUOT;
 *  - no segment is left: after each channel ends, only the bulk ring's
 *    segment remains (the harness checks the namespace after ipcd).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/chanfmt.h"
#include "tlib.h"

#define NMSG 20000

static unsigned shm_base;

/* The offer in b's stream: accept it, check who offers. */
static ipcd_channel *accept_from(ipcd_client *b, ipcd_client *a, const char *aname)
{
        ipcd_channel *ch = NULL;
        ipcd_msg m;

        CHECK_OK(ipcd_recv(b, &m, 0, 10000));
        CHECK_MSG((m.flags & IPCD_MSG_NOTICE) && m.type == IPCD_NOTICE_CHANNEL,
                  "not an offer: flags %#x type %ld", m.flags, m.type);
        CHECK(strcmp(m.sender, aname) == 0);
        if (a)
                CHECK(m.sender_id == ipcd_id(a));
        CHECK(m.sender_uid == getuid());
        CHECK_OK(ipcd_channel_accept(b, &m, &ch));
        ipcd_msg_release(b, &m);
        return ch;
}

static void pair(ipcd_client *a, ipcd_client *b, ipcd_channel **ca, ipcd_channel **cb)
{
        CHECK_OK(ipcd_channel_open(a, ipcd_name(b), 0, ca));
        *cb = accept_from(b, a, ipcd_name(a));
}

/* ipcd removes segments when it processes the close: wait for it. */
static void wait_shm(unsigned n)
{
        for (int i = 0; i < 1000 && tl_sysv_count("shm") != n; i++)
                tl_sleep_ms(10);
        CHECK_EQ(tl_sysv_count("shm"), n);
}

struct sender {
        ipcd_channel *ch;
        unsigned n;
};

static void *send_thread(void *arg)
{
        struct sender *s = arg;
        uint8_t buf[300];

        for (unsigned i = 0; i < s->n; i++) {
                size_t len = 4 + i % 290;

                memset(buf, (int)(i & 0xff), len);
                memcpy(buf, &i, sizeof(i));
                CHECK_OK(ipcd_channel_send(s->ch, 1 + (long)(i % 7), buf, len, 0));
        }
        return NULL;
}

static void test_order(ipcd_client *a, ipcd_client *b)
{
        ipcd_channel *ca, *cb;
        struct sender s;
        pthread_t th;
        struct tl_status st;
        ipcd_msg m;

        CHECK_R(ipcd_channel_open(a, "nobody-here", 0, &ca), -ENOENT);
        CHECK_R(ipcd_channel_open(a, ipcd_name(a), 0, &ca), -EINVAL);
        pair(a, b, &ca, &cb);
        CHECK(ipcd_channel_id(ca) == ipcd_channel_id(cb));
        CHECK_EQ(tl_sysv_count("shm"), shm_base + 1);
        ipcd_channel_set_spin(cb, 5);
        s = (struct sender){ ca, NMSG };
        CHECK(pthread_create(&th, NULL, send_thread, &s) == 0);
        for (unsigned i = 0; i < NMSG; i++) {
                unsigned got;

                CHECK_OK(ipcd_channel_recv(cb, &m, 10000));
                CHECK_EQ(m.len, 4 + i % 290);
                CHECK_EQ(m.type, 1 + (long)(i % 7));
                memcpy(&got, m.data, sizeof(got));
                CHECK_EQ(got, i);
                CHECK(((const uint8_t *)m.data)[m.len - 1] == (i & 0xff) || m.len <= 4);
                CHECK(m.flags == IPCD_MSG_CHANNEL);
                CHECK(strcmp(m.sender, ipcd_name(a)) == 0 && m.sender_id == ipcd_id(a));
                CHECK(m.sender_uid == getuid() && m.sender_pid == getpid());
                ipcd_msg_release(b, &m); /* allowed, does nothing */
        }
        pthread_join(th, NULL);
        CHECK_R(ipcd_channel_recv(cb, &m, 0), -EAGAIN);
        CHECK_R(ipcd_channel_recv(cb, &m, 20), -ETIMEDOUT);
        /* The other way, with the acceptor's identity. */
        CHECK_OK(ipcd_channel_send(cb, 42, "pong", 4, 0));
        CHECK_OK(ipcd_channel_recv(ca, &m, 10000));
        CHECK(m.type == 42 && m.len == 4 && memcmp(m.data, "pong", 4) == 0);
        CHECK(strcmp(m.sender, ipcd_name(b)) == 0 && m.sender_id == ipcd_id(b));
        CHECK_R(ipcd_channel_send(ca, 0, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_channel_send(ca, 1, NULL, ipcd_channel_max_msg(ca) + 1, 0), -EINVAL);
        {
                static uint8_t big[1 << 20];

                CHECK_R(ipcd_channel_send(ca, 1, big, ipcd_channel_max_msg(ca) + 1, 0),
                        -EMSGSIZE);
                CHECK_OK(ipcd_channel_send(ca, 1, big, ipcd_channel_max_msg(ca), 0));
                CHECK_OK(ipcd_channel_recv(cb, &m, 1000));
                CHECK(m.len == ipcd_channel_max_msg(ca));
        }
        /* ipcdctl status sees it, counters read from the rings (a reader
         * publishes them at least when it finds its ring empty). */
        CHECK_R(ipcd_channel_recv(ca, &m, 0), -EAGAIN);
        CHECK_R(ipcd_channel_recv(cb, &m, 0), -EAGAIN);
        tl_status(&st);
        CHECK_EQ(st.n_channels, 1);
        CHECK(st.channels[0].id == ipcd_channel_id(ca) && st.channels[0].state == 1);
        CHECK(st.channels[0].opener_id == ipcd_id(a) && st.channels[0].acceptor_id == ipcd_id(b));
        CHECK(st.channels[0].sent[0] == NMSG + 1 && st.channels[0].received[0] == NMSG + 1);
        CHECK(st.channels[0].sent[1] == 1 && st.channels[0].received[1] == 1);
        tl_status_free(&st);

        /* A close: what was sent first, then -ECONNRESET, both ways. */
        CHECK_OK(ipcd_channel_send(ca, 7, "last", 4, 0));
        ipcd_channel_close(ca);
        CHECK_OK(ipcd_channel_recv(cb, &m, 1000));
        CHECK(m.type == 7 && m.len == 4);
        CHECK_R(ipcd_channel_recv(cb, &m, -1), -ECONNRESET);
        CHECK_R(ipcd_channel_send(cb, 1, "x", 1, 0), -ECONNRESET);
        ipcd_channel_close(cb);
        wait_shm(shm_base);
}

/* A child process as one end, killed with SIGKILL. */
static void test_death(ipcd_client *b, bool child_opens)
{
        int go[2], ready[2];
        ipcd_channel *cb = NULL;
        ipcd_msg m;
        pid_t pid;
        char x;

        CHECK(pipe(go) == 0 && pipe(ready) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *c = tl_connect("ch-child");
                ipcd_channel *cc = NULL;

                if (child_opens) {
                        CHECK_OK(ipcd_channel_open(c, ipcd_name(b), 0, &cc));
                        for (int i = 0; i < 3; i++)
                                CHECK_OK(ipcd_channel_send(cc, 1 + i, "hi", 2, 0));
                } else {
                        CHECK(write(ready[1], "r", 1) == 1);
                        cc = accept_from(c, NULL, ipcd_name(b));
                }
                CHECK(write(ready[1], "x", 1) == 1);
                (void)!read(go[0], &x, 1);
                raise(SIGKILL);
        }
        if (child_opens) {
                CHECK(read(ready[0], &x, 1) == 1);
                cb = accept_from(b, NULL, "ch-child");
                for (int i = 0; i < 3; i++) {
                        CHECK_OK(ipcd_channel_recv(cb, &m, 10000));
                        CHECK(m.type == 1 + i && strcmp(m.sender, "ch-child") == 0);
                        CHECK(m.sender_pid == pid);
                }
        } else {
                CHECK(read(ready[0], &x, 1) == 1); /* connected */
                CHECK_OK(ipcd_channel_open(b, "ch-child", 0, &cb));
                CHECK(read(ready[0], &x, 1) == 1); /* accepted */
                CHECK_OK(ipcd_channel_send(cb, 5, "to-child", 8, 0));
        }
        CHECK(write(go[1], "g", 1) == 1);
        CHECK(waitpid(pid, NULL, 0) == pid);
        if (child_opens)
                CHECK_R(ipcd_channel_recv(cb, &m, -1), -ECONNRESET);
        else {
                int r;

                /* Sends succeed until ipcd has seen the death. */
                for (int i = 0; (r = ipcd_channel_send(cb, 1, "x", 1, IPCD_NONBLOCK)) != -ECONNRESET;
                     i++) {
                        CHECK_MSG(r == 0 || r == -EAGAIN, "send: %s", tl_errname(r));
                        CHECK(i < 100000);
                        tl_sleep_ms(1);
                }
                CHECK_R(ipcd_channel_recv(cb, &m, -1), -ECONNRESET);
        }
        ipcd_channel_close(cb);
        close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
        tl_wait_clients(2);
        wait_shm(shm_base);
}

/* The peer's view of the segment, mapped by id as any process of its uid could. */
static uint8_t *map_channel(uint64_t id)
{
        struct tl_status st;
        void *p = NULL;

        tl_status(&st);
        for (size_t i = 0; i < st.n_channels; i++)
                if (st.channels[i].id == id)
                        p = shmat(st.channels[i].shmid, NULL, 0);
        tl_status_free(&st);
        CHECK(p && p != (void *)-1);
        return p;
}

enum scribble { BAD_HEAD, BAD_LEN, BAD_WRAP, BAD_TYPE, BAD_TAIL, NSCRIBBLE };

static void test_hostile_one(ipcd_client *a, ipcd_client *b, enum scribble k)
{
        ipcd_channel *ca, *cb;
        struct chan_shm_dir *d;
        struct chan_rec *rec;
        uint8_t *seg;
        ipcd_msg m;

        pair(a, b, &ca, &cb);
        seg = map_channel(ipcd_channel_id(ca));
        d = (struct chan_shm_dir *)(seg + 64); /* direction 0: a -> b */
        CHECK_OK(ipcd_channel_send(ca, 3, "good", 4, 0));
        CHECK_OK(ipcd_channel_recv(cb, &m, 1000));
        CHECK_OK(ipcd_channel_send(ca, 3, "next", 4, 0));
        rec = (struct chan_rec *)(seg + CHAN_DATA_OFF + 16); /* the second record */
        switch (k) {
        case BAD_HEAD: /* far beyond the ring */
                __atomic_store_n(&d->head, d->head + (1ULL << 40), __ATOMIC_SEQ_CST);
                break;
        case BAD_LEN: /* a length larger than the ring */
                rec->len = 0xfffffff0u;
                break;
        case BAD_WRAP: /* a wrap whose skip is more than was written */
                rec->type = CHAN_REC_WRAP;
                break;
        case BAD_TYPE:
                rec->type = 0x7fffffffu;
                break;
        case BAD_TAIL: /* the consumer claims to have read what was never written */
                __atomic_store_n(&d->tail, d->head + (1ULL << 40), __ATOMIC_SEQ_CST);
                /* The writer reads the tail again when its last view of it
                 * says the ring is full: it finds the garbage then. */
                {
                        int r = 0;

                        for (size_t i = 0; i <= 2 * ipcd_channel_max_msg(ca) && r == 0; i++)
                                r = ipcd_channel_send(ca, 3, "more", 4, IPCD_NONBLOCK);
                        CHECK_R(r, -EBADMSG);
                }
                CHECK_R(ipcd_channel_send(ca, 3, "more", 4, 0), -EBADMSG);
                /* The reader gets what was validly written, then the news. */
                CHECK_OK(ipcd_channel_recv(cb, &m, 1000));
                CHECK(m.len == 4 && memcmp(m.data, "next", 4) == 0);
                {
                        int r;

                        while ((r = ipcd_channel_recv(cb, &m, 1000)) == 0)
                                CHECK(m.len == 4 && memcmp(m.data, "more", 4) == 0);
                        CHECK_R(r, -EBADMSG);
                }
                goto out;
        default:
                break;
        }
        CHECK_R(ipcd_channel_recv(cb, &m, 1000), -EBADMSG);
        CHECK_R(ipcd_channel_recv(cb, &m, 1000), -EBADMSG); /* sticky */
        /* The writer learns that its channel is over. */
        CHECK_R(ipcd_channel_send(ca, 3, "more", 4, 0), -EBADMSG);
out:
        CHECK(shmdt(seg) == 0);
        ipcd_channel_close(ca);
        ipcd_channel_close(cb);
        wait_shm(shm_base);
}

static void test_limits(ipcd_client *a, ipcd_client *b)
{
        ipcd_channel *ch[8], *extra;
        ipcd_msg m;

        /* channels_per_uid = 8 (default): all offered, none accepted. */
        for (int i = 0; i < 8; i++)
                CHECK_OK(ipcd_channel_open(a, ipcd_name(b), 0, &ch[i]));
        CHECK_R(ipcd_channel_open(a, ipcd_name(b), 0, &extra), -EDQUOT);
        CHECK_R(ipcd_channel_open(b, ipcd_name(a), 0, &extra), -EDQUOT); /* same uid */
        /* Not accepted yet: sends wait in the ring. */
        CHECK_OK(ipcd_channel_send(ch[0], 1, "early", 5, 0));
        for (int i = 0; i < 8; i++) {
                CHECK_OK(ipcd_recv(b, &m, 0, 10000));
                CHECK(m.type == IPCD_NOTICE_CHANNEL);
                if (i == 0) {
                        ipcd_channel *cb;
                        ipcd_msg d;

                        CHECK_OK(ipcd_channel_accept(b, &m, &cb));
                        CHECK_R(ipcd_channel_accept(b, &m, &extra), -EINVAL); /* twice */
                        CHECK_OK(ipcd_channel_recv(cb, &d, 1000));
                        CHECK(d.len == 5 && memcmp(d.data, "early", 5) == 0);
                        ipcd_channel_close(cb);
                }
                ipcd_msg_release(b, &m);
        }
        CHECK_EQ(tl_sysv_count("shm"), shm_base + 8);
        for (int i = 0; i < 8; i++)
                ipcd_channel_close(ch[i]);
        wait_shm(shm_base);
        CHECK_OK(ipcd_channel_open(a, ipcd_name(b), 0, &extra));
        ipcd_channel_close(extra);
        CHECK_OK(ipcd_recv(b, &m, 0, 10000)); /* its offer */
        CHECK_R(ipcd_channel_accept(b, &m, &ch[0]), -ECONNRESET); /* closed meanwhile */
        ipcd_msg_release(b, &m);
        wait_shm(shm_base);
}

int main(int argc, char **argv)
{
        ipcd_client *a, *b;

        tl_init(argc, argv);
        a = tl_connect("ch-a");
        b = tl_connect("ch-b");
        shm_base = tl_sysv_count("shm"); /* the bulk ring */
        test_order(a, b);
        test_death(b, true);
        test_death(b, false);
        for (int k = 0; k < NSCRIBBLE; k++)
                test_hostile_one(a, b, (enum scribble)k);
        test_limits(a, b);
        tl_expect_empty(a);
        tl_expect_empty(b);
        ipcd_close(a);
        ipcd_close(b);
        return 0;
}
