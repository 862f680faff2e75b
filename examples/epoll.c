/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * epoll.c - an ipcd client in an epoll(7) event loop.
 *
 *   epoll NAME
 *
 * Registers as NAME and waits in one epoll_wait(2) for two things: lines
 * on standard input ("PEER TEXT" sends TEXT to PEER) and messages from
 * ipcd (printed).  ipcd_fd() gives the descriptor to watch; it is
 * level-triggered and readable while ipcd_recv(c, &m, 0, 0) may return a
 * message, so the loop receives until -EAGAIN and then waits again.  The
 * same descriptor works with GLib (g_unix_fd_add) or libuv (uv_poll_t).
 *
 * Build: cc epoll.c $(pkg-config --cflags --libs libipcd-client)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <ipcd.h>

/* Receive everything there is now; < 0 on a fatal error. */
static int drain(ipcd_client *c)
{
        for (;;) {
                ipcd_msg m;
                int r = ipcd_recv(c, &m, 0, 0); /* never blocks */

                if (r == -EAGAIN)
                        return 0; /* nothing more: back to epoll_wait */
                if (r < 0)
                        return r; /* -ECONNRESET: ipcd went away */
                if (m.flags & IPCD_MSG_NOTICE)
                        printf("notice: %.*s\n", (int)m.len, (const char *)m.data);
                else
                        printf("%s: %.*s\n", m.sender[0] ? m.sender : "(anonymous)", (int)m.len,
                               (const char *)m.data);
                fflush(stdout);
                ipcd_msg_release(c, &m);
        }
}

/* "PEER TEXT", a line from standard input without its newline. */
static void send_line(ipcd_client *c, char *line)
{
        char *text = strchr(line, ' ');
        int r;

        if (!text || text == line) {
                fprintf(stderr, "type: PEER TEXT\n");
                return;
        }
        *text++ = '\0';
        r = ipcd_send(c, line, 1, text, strlen(text), IPCD_NONBLOCK);
        if (r < 0)
                fprintf(stderr, "send to %s: %s\n", line, strerror(-r));
}

int main(int argc, char **argv)
{
        struct epoll_event ev = {.events = EPOLLIN};
        char in[512];
        size_t used = 0;
        ipcd_client *c;
        int ep, ifd, r;

        if (argc != 2) {
                fprintf(stderr, "usage: epoll NAME\n");
                return 2;
        }
        r = ipcd_connect(argv[1], &c);
        if (r < 0) {
                fprintf(stderr, "connect: %s\n", strerror(-r));
                return 1;
        }
        ifd = ipcd_fd(c); /* owned by the handle: do not close it */
        if (ifd < 0) {
                fprintf(stderr, "ipcd_fd: %s\n", strerror(-ifd));
                ipcd_close(c);
                return 1;
        }

        ep = epoll_create1(EPOLL_CLOEXEC);
        ev.data.fd = ifd;
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ifd, &ev) < 0) {
                perror("epoll");
                ipcd_close(c);
                return 1;
        }
        ev.data.fd = STDIN_FILENO;
        (void)epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev); /* EPERM if a file: fine */

        for (;;) {
                struct epoll_event got[4];
                int n = epoll_wait(ep, got, 4, -1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        perror("epoll_wait");
                        break;
                }
                for (int i = 0; i < n; i++) {
                        if (got[i].data.fd == ifd) {
                                r = drain(c);
                                if (r < 0) {
                                        fprintf(stderr, "receive: %s\n", strerror(-r));
                                        goto out;
                                }
                        } else {
                                /* read(2), not stdio: a buffered line would
                                 * not wake epoll again. */
                                ssize_t k = read(STDIN_FILENO, in + used, sizeof(in) - 1 - used);
                                char *nl;

                                if (k <= 0)
                                        goto out; /* end of input */
                                used += (size_t)k;
                                in[used] = '\0';
                                while ((nl = strchr(in, '\n'))) {
                                        *nl = '\0';
                                        send_line(c, in);
                                        used -= (size_t)(nl + 1 - in);
                                        memmove(in, nl + 1, used + 1);
                                }
                                if (used == sizeof(in) - 1)
                                        used = 0; /* a line too long: dropped */
                        }
                }
        }
out:
        close(ep);
        ipcd_close(c);
        return 0;
}
