/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-attack-status - issue 10, finding 7: STATUS amplifies memory.
 *
 * Attack, by uid 65534: history depth 1 on N_TOPICS topics with names of
 * the longest length (so each STATUS answer lists N_TOPICS topic records,
 * about 1 MB), one message published to each; then N_PARKED STATUS
 * requests whose reply FIFOs it keeps open but never reads
 * (tl_status_park), so that ipcd must hold the rest of each answer
 * somewhere.  A last STATUS, read to its end, makes sure ipcd has handled
 * every request before the figures are taken.  The issue saw 65536 topics
 * and 100 such requests take ipcd from 3 MB to 130 MB.
 *
 * Must hold: ipcd's peak resident size (VmHWM of /proc/PID/status, which
 * no timing of the sampling can miss) stays under RSS_BOUND_KIB while the
 * answers are parked (a larger bound under ThreadSanitizer: see
 * RSS_TSAN_SCALE): parked replies are bounded per uid and in total, and
 * STATUS output beyond a size is truncated or streamed.  Prints VmRSS
 * before the attack, after the topics, and with the replies parked, and
 * the peak.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define NOBODY 65534
#define N_TOPICS 8192 /* "a few thousand": each answer is about 1 MB */
#define N_PARKED 100
/* The bound on ipcd's RSS during the attack: an idle ipcd is about 3 MB,
 * the N_TOPICS topics with their history a few MB more, and the issue asks
 * for parked replies bounded to a few MiB in all by default: 32 MiB leaves
 * room for all of that and for allocator slack, and is well below what
 * ipcd reaches without a bound (N_PARKED answers of about 1 MB each). */
#define RSS_BOUND_PLAIN_KIB (32 * 1024)
/* ThreadSanitizer (configure --enable-tsan builds ipcd and this test
 * alike) maps shadow memory for every page ipcd touches, several times
 * the page's size, and counts in its VmRSS: an idle ipcd is about 12 MB
 * there, 8192 topics about 33 MB.  The bound scales by 4; it still fails
 * without a bound on parked replies, whose N_PARKED answers of about 1 MB
 * alone take more than 100 MB before any shadow. */
#if defined(__SANITIZE_THREAD__)
#define RSS_TSAN_SCALE 4
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RSS_TSAN_SCALE 4
#endif
#endif
#ifndef RSS_TSAN_SCALE
#define RSS_TSAN_SCALE 1
#endif
#define RSS_BOUND_KIB (RSS_BOUND_PLAIN_KIB * RSS_TSAN_SCALE)

static void topic_name(char *buf, size_t size, unsigned i)
{
        /* WIRE_NAME_MAX - 1 bytes: the longest topic name */
        snprintf(buf, size, "amplify/%0*u", WIRE_NAME_MAX - 1 - (int)strlen("amplify/"), i);
}

static void say(int fd, char what)
{
        CHECK(write(fd, &what, 1) == 1);
}

static void hear(int fd, char want)
{
        char x = 0;

        CHECK_MSG(read(fd, &x, 1) == 1 && x == want, "the other side died (waited for '%c')",
                  want);
}

static _Noreturn void attacker(int out_fd, int in_fd)
{
        static struct tl_parked parked[N_PARKED];
        struct tl_raw sync;
        unsigned n_parked = 0;
        ipcd_client *c;
        char t[WIRE_NAME_MAX];
        int r = 0, r2;

        tl_become(NOBODY, NULL, 0);
        c = tl_connect("amplifier");
        for (unsigned i = 0; i < N_TOPICS; i++) {
                topic_name(t, sizeof(t), i);
                r = ipcd_set_history(c, t, 1);
                CHECK_MSG(r >= 0, "set_history %s: %s", t, tl_errname(r));
                r = ipcd_publish(c, t, 1, "h", 1, 0);
                CHECK_MSG(r == 0, "publish %s: %s", t, tl_errname(r));
        }
        tl_sync(c);
        say(out_fd, 't');
        hear(in_fd, 'p');

        for (unsigned i = 0; i < N_PARKED; i++) {
                r = tl_status_park(&parked[n_parked]);
                if (r < 0)
                        break;
                n_parked++;
        }
        /* ipcd handles control requests in order: once this registration
         * is answered, every parked request has been handled.  (Not a
         * STATUS: with its parked replies at their limit, ipcd drops an
         * answer that does not fit into the FIFO at once.) */
        r2 = tl_raw_register(&sync, NULL, 0, 30000);
        CHECK_MSG(r2 == 0, "registration after the STATUS requests: %s", tl_errname(r2));
        tl_raw_close(&sync);
        printf("uid %d: %u of %d STATUS requests sent and left unread (then %s)\n", NOBODY,
               n_parked, N_PARKED, tl_errname(r));
        fflush(stdout);
        say(out_fd, 'd');
        hear(in_fd, 'q');
        for (unsigned i = 0; i < n_parked; i++)
                tl_parked_close(&parked[i]);
        ipcd_close(c);
        _exit(0);
}

int main(int argc, char **argv)
{
        int to_parent[2], to_child[2], status;
        long rss0, rss_topics, rss_parked, hwm;
        struct tl_status st;
        pid_t pid, ipcd;

        tl_init(argc, argv);
        tl_require_uids(NOBODY, 1);
        tl_status(&st);
        ipcd = st.daemon.pid;
        tl_status_free(&st);
        rss0 = tl_rss_kib(ipcd);
        CHECK_MSG(rss0 > 0, "VmRSS of ipcd (pid %d): %s", (int)ipcd, tl_errname((int)rss0));

        CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(to_parent[0]);
                close(to_child[1]);
                attacker(to_parent[1], to_child[0]);
        }
        close(to_parent[1]);
        close(to_child[0]);

        hear(to_parent[0], 't');
        rss_topics = tl_rss_kib(ipcd);
        say(to_child[1], 'p');
        hear(to_parent[0], 'd');
        rss_parked = tl_rss_kib(ipcd);
        hwm = tl_proc_kib(ipcd, "VmHWM");
        CHECK(rss_topics > 0 && rss_parked > 0 && hwm > 0);
        printf("ipcd VmRSS: %ld KiB idle, %ld KiB with %d topics, %ld KiB with %d STATUS "
               "replies parked; peak (VmHWM) %ld KiB; bound %d KiB\n",
               rss0, rss_topics, N_TOPICS, rss_parked, N_PARKED, hwm, RSS_BOUND_KIB);

        say(to_child[1], 'q');
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attacker failed (%#x)",
                  status);
        close(to_parent[0]);
        close(to_child[1]);
        tl_wait_clients(0);
        /* ipcd still answers */
        tl_status(&st);
        tl_status_free(&st);

        CHECK_MSG(hwm < RSS_BOUND_KIB,
                  "ipcd's resident size reached %ld KiB (bound %d KiB) with %d unread STATUS "
                  "replies of uid %d",
                  hwm, RSS_BOUND_KIB, N_PARKED, NOBODY);
        return 0;
}
