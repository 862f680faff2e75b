/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-attack-lanes - issue 10, finding 8: lanes of a ring can be hoarded.
 *
 * Attack: two unprivileged uids, 65534 and 65533, each in the ring's group
 * (as any user allowed to use the ring is; test-attack-lanes.sh gives the
 * ring a group of its own, not ipcd's, so they stay unprivileged), take as
 * many lanes of a ring the size of the default one (64 MiB in lanes of
 * 8 MiB: 8 lanes) as ipcd gives them:
 * client after client, each allocates a small buffer in the ring
 * (ipcd_buf_alloc with IPCD_NONBLOCK, which makes ipcd grant the client a
 * lane) and keeps it, never sending it, until ipcd refuses.  The issue saw
 * them take all 8 lanes (4 each, lanes_per_uid) and root's bulk sends
 * fail.
 *
 * Must hold: while both hold what they got, root's bulk send (ipcd_send of
 * a payload over the inline limit, IPCD_ACK, to itself; the library waits
 * for a lane as long as it does for any full lane) succeeds and the
 * payload arrives intact: no uid holds more than its share while others
 * wait (lanes_per_uid fits the ring for several uids, or idle lanes are
 * reclaimed).  Prints the lanes each uid got and how long root's send
 * took.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define NOBODY 65534
#define OTHER 65533
#define MAX_HOARD 32 /* clients per hoarder at most: far above any lane limit */

struct hoarder {
        uid_t uid;
        pid_t pid;
        int to_parent, to_child;
        unsigned got;
        int err;
};

static _Noreturn void hoard(uid_t uid, gid_t ring_gid, int out_fd, int in_fd)
{
        ipcd_client *cs[MAX_HOARD];
        unsigned got = 0;
        char buf[64], x;
        int r = 0;

        tl_become(uid, &ring_gid, 1);
        while (got < MAX_HOARD) {
                void *p;

                cs[got] = tl_connect(NULL);
                if (got == 0) /* unprivileged, really */
                        CHECK_R(ipcd_monitor(cs[0], "*"), -EACCES);
                r = ipcd_buf_alloc(cs[got], 64, IPCD_NONBLOCK, &p);
                if (r < 0) {
                        ipcd_close(cs[got]);
                        break;
                }
                memset(p, 'h', 64); /* ours, held, never sent */
                got++;
        }
        snprintf(buf, sizeof(buf), "%u %d\n", got, r);
        CHECK(write(out_fd, buf, strlen(buf)) == (ssize_t)strlen(buf));
        CHECK(read(in_fd, &x, 1) >= 0);
        for (unsigned i = 0; i < got; i++)
                ipcd_close(cs[i]); /* frees the buffers */
        _exit(0);
}

static void hoarder_start(struct hoarder *h, gid_t ring_gid)
{
        int to_parent[2], to_child[2];
        char buf[64];
        ssize_t n;

        CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
        h->pid = fork();
        CHECK(h->pid >= 0);
        if (h->pid == 0) {
                close(to_parent[0]);
                close(to_child[1]);
                hoard(h->uid, ring_gid, to_parent[1], to_child[0]);
        }
        close(to_parent[1]);
        close(to_child[0]);
        h->to_parent = to_parent[0];
        h->to_child = to_child[1];
        n = read(h->to_parent, buf, sizeof(buf) - 1);
        CHECK_MSG(n > 0, "hoarder of uid %u died", (unsigned)h->uid);
        buf[n] = '\0';
        CHECK(sscanf(buf, "%u %d", &h->got, &h->err) == 2);
        printf("uid %u took %u lanes (then %s)\n", (unsigned)h->uid, h->got, tl_errname(h->err));
}

static void hoarder_stop(struct hoarder *h)
{
        int status;

        CHECK(write(h->to_child, "q", 1) == 1);
        CHECK(waitpid(h->pid, &status, 0) == h->pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hoarder of uid %u failed (%#x)",
                  (unsigned)h->uid, status);
        close(h->to_parent);
        close(h->to_child);
}

int main(int argc, char **argv)
{
        struct hoarder hs[2] = { { .uid = NOBODY }, { .uid = OTHER } };
        struct tl_status st;
        ipcd_client *root;
        uint8_t *big;
        uint64_t t0, dt;
        gid_t ring_gid;
        size_t len;
        ipcd_msg m;
        int r, rr = 0;
        bool intact = false;

        tl_init(argc, argv);
        tl_require_uids(OTHER, 2);
        tl_status(&st);
        CHECK_MSG(st.n_rings >= 1, "no ring: the default ring is missing");
        ring_gid = st.rings[0].gid;
        CHECK_MSG(ring_gid != 0, "the ring's group is root's (test-attack-lanes.sh sets users)");
        printf("ring %s: %u lanes of %llu bytes, group %u\n", st.rings[0].name,
               st.rings[0].lanes, (unsigned long long)st.rings[0].lane_size,
               (unsigned)ring_gid);
        tl_status_free(&st);

        for (size_t i = 0; i < 2; i++) {
                hoarder_start(&hs[i], ring_gid);
                CHECK_MSG(hs[i].got > 0, "uid %u got no lane at all: %s (setup)",
                          (unsigned)hs[i].uid, tl_errname(hs[i].err));
        }
        tl_status(&st);
        printf("lanes used: %u of %u\n", st.rings[0].lanes_used, st.rings[0].lanes);
        tl_status_free(&st);

        /* root's bulk send, while both hold their lanes */
        root = tl_connect("lanes-root");
        len = ipcd_max_inline(root) + 1000;
        big = malloc(len);
        CHECK(big);
        for (size_t i = 0; i < len; i++)
                big[i] = (uint8_t)(i * 7 + 3);
        t0 = tl_now_ms();
        r = ipcd_send(root, "lanes-root", 1, big, len, IPCD_ACK);
        dt = tl_now_ms() - t0;
        printf("root's bulk send of %zu bytes with both uids holding their lanes: %s after %llu "
               "ms\n",
               len, tl_errname(r), (unsigned long long)dt);
        if (r == 0) {
                rr = tl_recv(root, &m, 1, 10000);
                if (rr >= 0) {
                        intact = (m.flags & IPCD_MSG_BULK) && m.len == len &&
                                 memcmp(m.data, big, len) == 0;
                        ipcd_msg_release(root, &m);
                }
        }

        for (size_t i = 0; i < 2; i++)
                hoarder_stop(&hs[i]);
        free(big);
        ipcd_close(root);
        tl_wait_clients(0);

        CHECK_MSG(r == 0,
                  "root's bulk send failed (%s) while uids %d and %d held %u and %u lanes",
                  tl_errname(r), NOBODY, OTHER, hs[0].got, hs[1].got);
        CHECK_MSG(rr >= 0, "root's bulk message did not arrive: %s", tl_errname(rr));
        CHECK_MSG(intact, "root's bulk message arrived altered");
        return 0;
}
