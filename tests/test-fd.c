/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-fd - ipcd_fd() in an epoll(7) loop.
 *
 * It starts ipcd itself (tl_ipcd_start) so that it can restart it.
 *
 * Asserts: ipcd_fd() returns the same descriptor every time; once
 * ipcd_recv(c, m, 0, 0) has said -EAGAIN the descriptor stays quiet (no
 * wake-up in 200 ms with nothing sent: behaviour, since ipcd writes a
 * doorbell only for a delivery); it becomes readable for every single
 * message (the sender uses IPCD_ACK, so the delivery has happened when it
 * returns), and quiet again after the message is read; many messages at
 * once (batches, records waiting inside the handle) are all read in order
 * through the loop, and it is quiet afterwards; it wakes a thread blocked
 * in epoll_wait(); it works beside timed receives and calls on the same
 * handle; when ipcd stops, it becomes readable and ipcd_recv gives
 * -ECONNRESET; after ipcd is back, the same descriptor number follows the
 * new session (quiet, then readable for the next message); a forked
 * child gets -ECHILD.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

static int ep;
static pid_t ipcd_pid;

/* tl_ipcd_start(): our ipcd dies with us (PR_SET_PDEATHSIG), also when
 * a check fails; the harness only stops a daemon it started itself. */

/* Number of ready events within timeout_ms. */
static int ready(int timeout_ms)
{
        struct epoll_event e;
        int n;

        do
                n = epoll_wait(ep, &e, 1, timeout_ms);
        while (n < 0 && errno == EINTR);
        CHECK_MSG(n >= 0, "epoll_wait: %s", strerror(errno));
        return n;
}

/* Read until -EAGAIN; returns the number of user messages read, checking
 * that they carry types first, first+1, ... */
static unsigned drain(ipcd_client *c, long *next_type)
{
        unsigned n = 0;

        for (;;) {
                ipcd_msg m;
                int r = ipcd_recv(c, &m, 0, 0);

                if (r == -EAGAIN)
                        return n;
                CHECK_MSG(r == 0, "recv: %d (%s)", r, tl_errname(r));
                if (m.flags & IPCD_MSG_NOTICE) {
                        ipcd_msg_release(c, &m);
                        continue;
                }
                if (next_type) {
                        CHECK_MSG(m.type == *next_type, "type %ld, expected %ld", m.type,
                                  *next_type);
                        (*next_type)++;
                }
                ipcd_msg_release(c, &m);
                n++;
        }
}

struct waker {
        ipcd_client *snd;
        unsigned delay_ms;
};

static void *wake_later(void *arg)
{
        struct waker *w = arg;

        tl_sleep_ms(w->delay_ms);
        tl_send(w->snd, "fdc", 1, "late", 4, IPCD_ACK);
        return NULL;
}

static void *callee(void *arg)
{
        ipcd_client *c = arg;
        ipcd_msg m;

        CHECK_OK(ipcd_recv(c, &m, 0, 30000));
        CHECK(m.flags & IPCD_MSG_REQUEST);
        CHECK_R(ipcd_reply(c, &m, 2, "pong", 4), 0);
        ipcd_msg_release(c, &m);
        return NULL;
}

int main(int argc, char **argv)
{
        struct epoll_event e = {.events = EPOLLIN};
        ipcd_client *c, *snd;
        long next;
        int fd, status, r;

        tl_init(argc, argv);
        ipcd_pid = tl_ipcd_start();
        c = tl_connect("fdc");
        snd = tl_connect("snd");

        /* something already waiting before ipcd_fd() is called */
        tl_send(snd, "fdc", 1, "early", 5, IPCD_ACK);

        CHECK_R(ipcd_fd(NULL), -EINVAL);
        fd = ipcd_fd(c);
        CHECK_MSG(fd >= 0, "ipcd_fd: %d (%s)", fd, tl_errname(fd));
        CHECK_EQ(ipcd_fd(c), fd);
        ep = epoll_create1(EPOLL_CLOEXEC);
        CHECK(ep >= 0);
        e.data.fd = fd;
        CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == 0);

        /* the early message: readable, read, quiet */
        CHECK_EQ(ready(30000), 1);
        next = 1;
        CHECK_EQ(drain(c, &next), 1);
        CHECK_EQ(ready(0), 0);
        /* quiet while nothing is sent */
        CHECK_EQ(ready(200), 0);

        /* one wake-up per message */
        for (long i = 0; i < 50; i++) {
                tl_send(snd, "fdc", 10 + i, &i, sizeof(i), IPCD_ACK);
                CHECK_MSG(ready(30000) == 1, "no wake-up for message %ld", i);
                next = 10 + i;
                CHECK_EQ(drain(c, &next), 1);
                CHECK_MSG(ready(0) == 0, "readable after message %ld was read", i);
        }

        /* many at once: everything through the loop, in order, then quiet */
        {
                unsigned got = 0;

                for (long i = 0; i < 300; i++)
                        tl_send(snd, "fdc", 100 + i, &i, sizeof(i), i == 299 ? IPCD_ACK : 0);
                next = 100;
                while (got < 300) {
                        CHECK_MSG(ready(30000) == 1, "no wake-up with %u of 300 read", got);
                        got += drain(c, &next);
                }
                CHECK_EQ(got, 300);
                CHECK_EQ(ready(0), 0);
        }

        /* one message per wake-up (level-triggered), the rest of a batch
         * waiting inside the handle after a timed receive took the first */
        {
                ipcd_msg m;

                for (long i = 0; i < 6; i++)
                        tl_send(snd, "fdc", 6, &i, sizeof(i), i == 5 ? IPCD_ACK : 0);
                CHECK_OK(tl_recv(c, &m, 0, 30000));
                CHECK_EQ(m.type, 6);
                CHECK_EQ(*(const long *)m.data, 0);
                ipcd_msg_release(c, &m);
                for (long i = 1; i < 6; i++) {
                        CHECK_MSG(ready(30000) == 1, "no wake-up for message %ld of the batch", i);
                        CHECK_OK(tl_recv(c, &m, 0, 0));
                        CHECK_EQ(*(const long *)m.data, i);
                        ipcd_msg_release(c, &m);
                }
                CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
                CHECK_EQ(ready(0), 0);
        }

        /* a thread blocked in epoll_wait is woken */
        {
                struct waker w = {.snd = snd, .delay_ms = 100};
                pthread_t t;

                CHECK(pthread_create(&t, NULL, wake_later, &w) == 0);
                CHECK_EQ(ready(30000), 1);
                CHECK(pthread_join(t, NULL) == 0);
                CHECK_EQ(drain(c, NULL), 1);
                CHECK_EQ(ready(0), 0);
        }

        /* calls and timed receives on the same handle */
        {
                ipcd_client *srv = tl_connect("fd-srv");
                pthread_t t;
                ipcd_msg m;

                CHECK(pthread_create(&t, NULL, callee, srv) == 0);
                CHECK_R(ipcd_call(c, "fd-srv", 1, "ping", 4, &m, 30000), 0);
                CHECK_EQ(m.type, 2);
                ipcd_msg_release(c, &m);
                CHECK(pthread_join(t, NULL) == 0);
                ipcd_close(srv);
                CHECK_R(ipcd_recv(c, &m, 0, 50), -ETIMEDOUT);
                tl_send(snd, "fdc", 3, "x", 1, IPCD_ACK);
                CHECK_EQ(ready(30000), 1);
                CHECK_EQ(drain(c, NULL), 1);
                CHECK_EQ(ready(0), 0);
                CHECK_EQ(ready(100), 0);
        }

        /* a forked child cannot use it */
        {
                pid_t pid = fork();

                CHECK(pid >= 0);
                if (pid == 0)
                        _exit(ipcd_fd(c) == -ECHILD ? 0 : 1);
                CHECK(waitpid(pid, &status, 0) == pid);
                CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %#x", status);
        }

        /* ipcd stops: readable, -ECONNRESET */
        status = tl_ipcd_stop(ipcd_pid, SIGTERM);
        ipcd_pid = 0;
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ipcd exit %#x", status);
        CHECK_EQ(ready(30000), 1);
        CHECK_R(ipcd_recv(c, &(ipcd_msg){0}, 0, 0), -ECONNRESET);

        /* back: the same descriptor follows the new session */
        ipcd_pid = tl_ipcd_start();
        r = ipcd_recv(c, &(ipcd_msg){0}, 0, 0); /* reconnects */
        CHECK_MSG(r == -EAGAIN, "recv after the restart: %d (%s)", r, tl_errname(r));
        CHECK_EQ(ipcd_fd(c), fd);
        CHECK_EQ(ready(0), 0);
        CHECK_EQ(ready(200), 0);
        r = ipcd_send(snd, "fdc", 5, "again", 5, IPCD_ACK);
        if (r == -ECONNRESET) /* snd meets the restart only now */
                r = ipcd_send(snd, "fdc", 5, "again", 5, IPCD_ACK);
        CHECK_R(r, 0);
        CHECK_EQ(ready(30000), 1);
        next = 5;
        CHECK_EQ(drain(c, &next), 1);
        CHECK_EQ(ready(0), 0);

        ipcd_close(snd);
        ipcd_close(c);
        close(ep);
        status = tl_ipcd_stop(ipcd_pid, SIGTERM);
        ipcd_pid = 0;
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ipcd exit %#x", status);
        return 0;
}
