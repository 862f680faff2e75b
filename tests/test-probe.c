/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-probe - a helper the shell tests drive (not a test itself).
 *
 *   test-probe status            print ipcd's status (STATUS by hand); 1 if none
 *   test-probe hold NAME|-       connect, print "ready", block in ipcd_recv(-1);
 *                                exit 0 once it returns -ECONNRESET
 *   test-probe idle NAME         connect, print "ready", never read (until killed)
 *   test-probe send NAME DST TYPE TEXT [COUNT]
 *                                connect as NAME (or "-"), send TEXT COUNT times
 *                                (the last one with IPCD_ACK: 0 or -EAGAIN
 *                                when the destination is full), close
 *   test-probe recv NAME TYPE TEXT
 *                                connect, receive one message, check it
 *   test-probe exchange          two clients talk both ways, check it
 */
#include <signal.h>
#include <unistd.h>

#include "tlib.h"

static int cmd_status(void)
{
        struct tl_status st;
        int r = tl_status_get(&st, 5000);

        if (r < 0) {
                fprintf(stderr, "test-probe: status: %s\n", tl_errname(r));
                return 1;
        }
        tl_status_print(&st, stdout);
        tl_status_free(&st);
        return 0;
}

static const char *arg_name(const char *s)
{
        return strcmp(s, "-") == 0 ? NULL : s;
}

static int cmd_hold(const char *name)
{
        ipcd_client *c = tl_connect(arg_name(name));
        ipcd_msg m;
        int r;

        printf("ready %llu\n", (unsigned long long)ipcd_id(c));
        for (;;) {
                r = ipcd_recv(c, &m, 0, -1);
                if (r < 0)
                        break;
                ipcd_msg_release(c, &m);
        }
        printf("recv: %s\n", tl_errname(r));
        ipcd_close(c);
        return r == -ECONNRESET ? 0 : 1;
}

static int cmd_idle(const char *name)
{
        ipcd_client *c = tl_connect(arg_name(name));

        printf("ready %llu\n", (unsigned long long)ipcd_id(c));
        alarm(0);
        for (;;)
                pause();
        return 0;
}

static int cmd_send(const char *name, const char *dst, long type, const char *text, long count)
{
        ipcd_client *c = tl_connect(arg_name(name));

        int r;

        for (long i = 0; i + 1 < count; i++)
                tl_send(c, dst, type, text, strlen(text), 0);
        /* the last one acknowledged: when it returns, ipcd has handled all;
         * -EAGAIN only says that the destination is full */
        r = ipcd_send(c, dst, type, text, strlen(text), IPCD_ACK);
        CHECK_MSG(r == 0 || r == -EAGAIN, "send to %s: %d (%s)", dst, r, tl_errname(r));
        ipcd_close(c);
        return 0;
}

static int cmd_recv(const char *name, long type, const char *text)
{
        ipcd_client *c = tl_connect(arg_name(name));

        tl_expect(c, 0, type, text, strlen(text), NULL);
        ipcd_close(c);
        return 0;
}

static int cmd_exchange(void)
{
        ipcd_client *a = tl_connect("probe-a"), *b = tl_connect("probe-b");

        tl_send(a, "probe-b", 1, "ping", 4, IPCD_ACK);
        tl_expect(b, 0, 1, "ping", 4, "probe-a");
        tl_send(b, "probe-a", 2, "pong", 4, IPCD_ACK);
        tl_expect(a, 0, 2, "pong", 4, "probe-b");
        ipcd_close(a);
        ipcd_close(b);
        return 0;
}

int main(int argc, char **argv)
{
        tl_init(argc, argv);
        alarm(60);
        if (argc == 2 && strcmp(argv[1], "status") == 0)
                return cmd_status();
        if (argc == 3 && strcmp(argv[1], "hold") == 0)
                return cmd_hold(argv[2]);
        if (argc == 3 && strcmp(argv[1], "idle") == 0)
                return cmd_idle(argv[2]);
        if ((argc == 6 || argc == 7) && strcmp(argv[1], "send") == 0)
                return cmd_send(argv[2], argv[3], atol(argv[4]), argv[5],
                                argc == 7 ? atol(argv[6]) : 1);
        if (argc == 5 && strcmp(argv[1], "recv") == 0)
                return cmd_recv(argv[2], atol(argv[3]), argv[4]);
        if (argc == 2 && strcmp(argv[1], "exchange") == 0)
                return cmd_exchange();
        fprintf(stderr, "usage: test-probe status | hold NAME | idle NAME | send NAME DST TYPE TEXT [N] | "
                        "recv NAME TYPE TEXT | exchange\n");
        return 2;
}
