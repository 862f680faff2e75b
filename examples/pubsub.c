/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pubsub.c - publish/subscribe with ipcd.
 *
 *   pubsub sub PATTERN [COUNT]     print what is published on PATTERN
 *                                  (a topic, or "sensors/" followed by "*")
 *   pubsub pub TOPIC TEXT...       publish each TEXT on TOPIC
 *
 * The publisher keeps the topic's last 8 messages as history, so a
 * subscriber that starts later still gets them first.  Each publish uses
 * IPCD_ACK and prints how many subscribers it reached.  The subscriber
 * asks to be told (a notice) if it ever falls so far behind that ipcd has
 * to drop messages for it.
 *
 * Build: cc pubsub.c $(pkg-config --cflags --libs libipcd-client)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ipcd.h>

#define TYPE_TEXT 1

static int subscriber(ipcd_client *c, const char *pattern, long count)
{
        int r;

        /* Drop the oldest waiting messages when behind, and say how many. */
        r = ipcd_set_overflow(c, IPCD_OVERFLOW_DROP_OLD, 0, IPCD_NOTIFY_DROPS);
        if (r < 0)
                fprintf(stderr, "set_overflow: %s\n", strerror(-r));
        r = ipcd_subscribe(c, pattern); /* in force once it returns */
        if (r < 0) {
                fprintf(stderr, "subscribe %s: %s\n", pattern, strerror(-r));
                return 1;
        }
        for (long i = 0; count <= 0 || i < count;) {
                ipcd_msg m;

                r = ipcd_recv(c, &m, 0, -1);
                if (r < 0) {
                        fprintf(stderr, "receive: %s\n", strerror(-r));
                        return 1;
                }
                if (m.flags & IPCD_MSG_NOTICE)
                        printf("notice %ld: %.*s\n", m.type, (int)m.len, (const char *)m.data);
                else {
                        printf("%s from %s (uid %u): %.*s\n", m.topic,
                               m.sender[0] ? m.sender : "(anonymous)", (unsigned)m.sender_uid,
                               (int)m.len, (const char *)m.data);
                        i++;
                }
                fflush(stdout);
                ipcd_msg_release(c, &m);
        }
        return 0;
}

static int publisher(ipcd_client *c, const char *topic, int n, char **texts)
{
        int r = ipcd_set_history(c, topic, 8); /* the depth in effect */

        if (r < 0)
                fprintf(stderr, "set_history: %s\n", strerror(-r));
        for (int i = 0; i < n; i++) {
                r = ipcd_publish(c, topic, TYPE_TEXT, texts[i], strlen(texts[i]), IPCD_ACK);
                if (r < 0) {
                        fprintf(stderr, "publish: %s\n", strerror(-r));
                        return 1;
                }
                printf("published \"%s\" on %s to %d subscriber(s)\n", texts[i], topic, r);
        }
        return 0;
}

int main(int argc, char **argv)
{
        ipcd_client *c;
        int r, ret;

        if (argc < 3 || (strcmp(argv[1], "sub") != 0 && strcmp(argv[1], "pub") != 0)) {
                fprintf(stderr, "usage: pubsub sub PATTERN [COUNT]\n"
                                "       pubsub pub TOPIC TEXT...\n");
                return 2;
        }
        r = ipcd_connect(NULL, &c); /* anonymous; $IPCD_RUNTIME_DIR or /run/ipcd */
        if (r < 0) {
                fprintf(stderr, "connect: %s\n", strerror(-r));
                return 1;
        }
        if (argv[1][0] == 's')
                ret = subscriber(c, argv[2], argc > 3 ? strtol(argv[3], NULL, 10) : 0);
        else
                ret = publisher(c, argv[2], argc - 3, argv + 3);
        ipcd_close(c);
        return ret;
}
