/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hello.c - the smallest useful ipcd client.
 *
 *   hello [NAME [PEER]]
 *
 * Registers as NAME (default "hello"), sends "hello PEER, this is NAME" to
 * PEER (default: itself), waits for one message and prints it with the
 * sender identity that ipcd stamped on it.  Run "hello alice bob" and
 * "hello bob alice" at the same time to see two clients talk both ways.
 *
 * Build: cc hello.c $(pkg-config --cflags --libs libipcd-client)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ipcd.h>

int main(int argc, char **argv)
{
        const char *name = argc > 1 ? argv[1] : "hello";
        const char *peer = argc > 2 ? argv[2] : name;
        ipcd_client *c;
        ipcd_msg m;
        char text[160];
        int r;

        r = ipcd_connect(name, &c); /* $IPCD_RUNTIME_DIR or /run/ipcd */
        if (r < 0) {
                fprintf(stderr, "%s: connect: %s\n", name, strerror(-r));
                return 1;
        }
        printf("%s: connected, id %llu\n", name, (unsigned long long)ipcd_id(c));

        /* IPCD_ACK: return once ipcd has delivered it, or with the reason it
         * could not (-ENOENT: no client of that name yet, so try again). */
        snprintf(text, sizeof(text), "hello %s, this is %s", peer, name);
        for (int i = 0; i < 50; i++) {
                r = ipcd_send(c, peer, 1, text, strlen(text), IPCD_ACK);
                if (r != -ENOENT)
                        break;
                nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
        }
        if (r < 0) {
                fprintf(stderr, "%s: send to %s: %s\n", name, peer, strerror(-r));
                ipcd_close(c);
                return 1;
        }

        r = ipcd_recv(c, &m, 0, 5000); /* any type, wait up to 5 s */
        if (r < 0) {
                fprintf(stderr, "%s: receive: %s\n", name, strerror(-r));
                ipcd_close(c);
                return 1;
        }
        printf("%s: got type %ld from %s (uid %u, pid %d): %.*s\n", name, m.type,
               m.sender[0] ? m.sender : "an anonymous client", (unsigned)m.sender_uid,
               (int)m.sender_pid, (int)m.len, (const char *)m.data);
        ipcd_msg_release(c, &m);

        ipcd_close(c);
        return 0;
}
