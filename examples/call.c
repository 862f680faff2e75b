/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * call.c - request/reply with ipcd.
 *
 *   call serve NAME [COUNT]        answer requests to NAME: the text upper-cased
 *   call NAME TEXT                 call NAME with TEXT, print the reply
 *
 * The library matches the reply to the call; other messages that arrive
 * meanwhile stay in the queue for ipcd_recv().  If NAME does not exist
 * the call fails at once with ENOENT; if the server dies before it
 * answers, with ECONNRESET; if it is just slow, with ETIMEDOUT.
 *
 * Build: cc call.c $(pkg-config --cflags --libs libipcd-client)
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipcd.h>

#define TYPE_UPPER 7

static int serve(ipcd_client *c, long count)
{
        for (long i = 0; count <= 0 || i < count;) {
                char out[4096];
                ipcd_msg m;
                size_t n;
                int r;

                r = ipcd_recv(c, &m, 0, -1);
                if (r < 0) {
                        fprintf(stderr, "receive: %s\n", strerror(-r));
                        return 1;
                }
                if (m.flags & IPCD_MSG_REQUEST) {
                        n = m.len < sizeof(out) ? m.len : sizeof(out);
                        for (size_t k = 0; k < n; k++)
                                out[k] = (char)toupper(((const unsigned char *)m.data)[k]);
                        /* Once per request; the caller may have given up. */
                        r = ipcd_reply(c, &m, m.type, out, n);
                        if (r < 0)
                                fprintf(stderr, "reply: %s\n", strerror(-r));
                        i++;
                }
                ipcd_msg_release(c, &m);
        }
        return 0;
}

static int call(ipcd_client *c, const char *name, const char *text)
{
        ipcd_msg reply;
        int r;

        r = ipcd_call(c, name, TYPE_UPPER, text, strlen(text), &reply, 2000);
        if (r < 0) {
                fprintf(stderr, "call %s: %s\n", name, strerror(-r));
                return 1;
        }
        printf("%s (pid %d) answered type %ld: %.*s\n", reply.sender, (int)reply.sender_pid,
               reply.type, (int)reply.len, (const char *)reply.data);
        ipcd_msg_release(c, &reply);
        return 0;
}

int main(int argc, char **argv)
{
        bool server = argc >= 3 && strcmp(argv[1], "serve") == 0;
        ipcd_client *c;
        int r, ret;

        if (argc < 3) {
                fprintf(stderr, "usage: call serve NAME [COUNT]\n"
                                "       call NAME TEXT\n");
                return 2;
        }
        r = ipcd_connect(server ? argv[2] : NULL, &c);
        if (r < 0) {
                fprintf(stderr, "connect: %s\n", strerror(-r));
                return 1;
        }
        if (server)
                ret = serve(c, argc > 3 ? strtol(argv[3], NULL, 10) : 0);
        else
                ret = call(c, argv[1], argv[2]);
        ipcd_close(c);
        return ret;
}
