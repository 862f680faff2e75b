/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-attack-history - issue 10, finding 6: history is anyone's to wipe
 * or hoard.
 *
 * Wipe: root sets depth 4 on "news/root" and publishes 3 messages; a
 * client of uid 65534 sets depth 0 on the same topic.  Must hold: a late
 * subscriber still gets the 3 messages (a topic keeps the largest depth a
 * live client asked for; no one lowers another's contribution).
 *
 * Hoard: with history_total = HIST_TOTAL, a client of uid 65534 reserves
 * depth 64 on as many topics as ipcd gives it, then leaves.  Must hold:
 * root's ipcd_set_history then succeeds (a client's contributions go when
 * it leaves).  Prints how much the hoarder got.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define NOBODY 65534
#define HIST_TOTAL 1024 /* also in test-attack-history.sh */

static int child_wipe(void)
{
        ipcd_client *c;
        int r;

        tl_become(NOBODY, NULL, 0);
        c = tl_connect("wiper");
        r = ipcd_set_history(c, "news/root", 0);
        if (r >= 0)
                printf("uid %d: set_history(news/root, 0) returned %d (the depth in effect)\n",
                       NOBODY, r);
        else
                printf("uid %d: set_history(news/root, 0) returned %s\n", NOBODY, tl_errname(r));
        ipcd_close(c);
        return 0;
}

static int child_hoard(void)
{
        ipcd_client *c;
        unsigned got = 0;
        char t[32];
        int r = 0;

        tl_become(NOBODY, NULL, 0);
        c = tl_connect("hoarder");
        for (unsigned i = 0; i < 2 * HIST_TOTAL / 64; i++) {
                snprintf(t, sizeof(t), "hoard/%u", i);
                r = ipcd_set_history(c, t, 64);
                if (r < 0)
                        break;
                got += (unsigned)r;
        }
        printf("uid %d reserved %u of history_total %d (then %s), and leaves\n", NOBODY, got,
               HIST_TOTAL, tl_errname(r));
        ipcd_close(c);
        return 0;
}

static void run_child(int (*fn)(void))
{
        int status;
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (pid == 0)
                _exit(fn());
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (%#x)", status);
}

int main(int argc, char **argv)
{
        ipcd_client *owner, *late;
        unsigned n = 0;
        int r;

        tl_init(argc, argv);
        tl_require_uids(NOBODY, 1);

        /* wipe */
        owner = tl_connect("owner");
        CHECK_OK(ipcd_set_history(owner, "news/root", 4));
        for (int i = 1; i <= 3; i++)
                CHECK_OK(ipcd_publish(owner, "news/root", i, "kept", 4, 0));
        tl_sync(owner);
        run_child(child_wipe);
        late = tl_connect("late");
        CHECK_OK(ipcd_subscribe(late, "news/root"));
        for (;;) {
                ipcd_msg m;

                r = tl_recv(late, &m, 0, 500);
                if (r < 0)
                        break;
                n++;
                ipcd_msg_release(late, &m);
        }
        printf("history of news/root after uid %d set depth 0: %u of 3 messages\n", NOBODY, n);
        ipcd_close(late);

        /* hoard */
        run_child(child_hoard);
        tl_wait_clients(1);
        r = ipcd_set_history(owner, "mine", 8);
        printf("root's set_history(mine, 8) after the hoarder left: %s\n", tl_errname(r));
        /* both attacks have run (and printed their figures): now assert */
        CHECK_MSG(n == 3, "a late subscriber got %u of 3 history messages: uid %d wiped root's "
                  "history", n, NOBODY);
        CHECK_MSG(r >= 0, "root's set_history after the hoarder left: %s", tl_errname(r));
        ipcd_close(owner);
        tl_wait_clients(0);
        return 0;
}
