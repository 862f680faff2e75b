/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-uid - a client of another uid (a forked child that became nobody).
 *
 * Asserts: it registers, and what it sends is stamped with its own uid
 * (65534) and pid; what it receives from root is stamped uid 0; its client
 * queue and its uid's inbound queue are its own (owner uid 65534, mode
 * 0600, a separate inbound queue from root's); it cannot read root's
 * client queue (msgrcv: EACCES), nor write root's inbound queue, nor even
 * stat them; it cannot claim a pid that is not its own (-EPERM) or a name
 * root holds (-EADDRINUSE).  Skips when not root or when the IPC
 * namespace lives in a user namespace that does not map nobody.
 */
#include <grp.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define NOBODY 65534

struct info {
        int root_qc, root_qu;
        pid_t root_pid;
};

static void child(const struct info *info, int ready_fd, int go_fd)
{
        ipcd_client *c;
        struct msqid_ds ds;
        struct tl_raw raw;
        char buf[256];
        ipcd_msg m;
        long mtype_buf[64];
        char x;

        CHECK_MSG(setgroups(0, NULL) == 0, "setgroups: %s", strerror(errno));
        CHECK_MSG(setgid(NOBODY) == 0, "setgid: %s", strerror(errno));
        CHECK_MSG(setuid(NOBODY) == 0, "setuid: %s", strerror(errno));
        CHECK_EQ(getuid(), NOBODY);

        /* root's queues are closed to us */
        errno = 0;
        CHECK_MSG(msgrcv(info->root_qc, mtype_buf, sizeof(mtype_buf) - sizeof(long), 0,
                         IPC_NOWAIT) < 0 &&
                          errno == EACCES,
                  "msgrcv on root's client queue: %s (expected EACCES)", strerror(errno));
        errno = 0;
        CHECK_MSG(msgctl(info->root_qc, IPC_STAT, &ds) < 0 && errno == EACCES,
                  "IPC_STAT on root's client queue: %s (expected EACCES)", strerror(errno));
        mtype_buf[0] = WIRE_MTYPE_IN;
        errno = 0;
        CHECK_MSG(msgsnd(info->root_qu, mtype_buf, 64, IPC_NOWAIT) < 0 && errno == EACCES,
                  "msgsnd to root's inbound queue: %s (expected EACCES)", strerror(errno));
        errno = 0;
        CHECK_MSG(msgrcv(info->root_qu, mtype_buf, sizeof(mtype_buf) - sizeof(long), 0,
                         IPC_NOWAIT) < 0 &&
                          errno == EACCES,
                  "msgrcv on root's inbound queue: %s (expected EACCES)", strerror(errno));

        /* claiming root's pid: refused */
        CHECK_R(tl_raw_register(&raw, "liar", info->root_pid, 30000), -EPERM);
        /* root's name: taken */
        {
                ipcd_client *dup = NULL;

                CHECK_R(ipcd_connect("uid-root", &dup), -EADDRINUSE);
        }

        c = tl_connect("uid-nobody");
        snprintf(buf, sizeof(buf), "%d", (int)getpid());
        tl_send(c, "uid-root", 11, buf, strlen(buf), IPCD_ACK);

        CHECK_OK(tl_recv(c, &m, 0, 30000));
        CHECK_EQ(m.type, 12);
        CHECK_STREQ(m.sender, "uid-root");
        CHECK_EQ(m.sender_uid, 0);
        CHECK_EQ(m.sender_pid, info->root_pid);
        ipcd_msg_release(c, &m);

        /* let the parent look at our queues while we are registered */
        CHECK(write(ready_fd, "r", 1) == 1);
        CHECK(read(go_fd, &x, 1) == 1);

        /* our own queue is readable to us: nothing stray in it */
        tl_expect_empty(c);
        ipcd_close(c);
        _exit(0);
}

int main(int argc, char **argv)
{
        int to_parent[2], to_child[2];
        struct info info;
        struct tl_status st;
        const struct wire_status_client *sr, *sn;
        struct tl_sysv qc, qu;
        ipcd_client *root;
        ipcd_msg m;
        pid_t pid;
        char x;
        int status;

        tl_init(argc, argv);
        if (geteuid() != 0)
                tl_skip("needs root to become nobody");
        {
                /* in a user namespace, nobody must be mapped */
                FILE *f = fopen("/proc/self/uid_map", "re");
                unsigned a, b, n;
                bool mapped = false;

                while (f && fscanf(f, "%u %u %u", &a, &b, &n) == 3)
                        if (a <= NOBODY && NOBODY < a + n)
                                mapped = true;
                if (f)
                        fclose(f);
                if (!mapped)
                        tl_skip("uid %d is not mapped in this user namespace", NOBODY);
        }

        root = tl_connect("uid-root");
        tl_status(&st);
        sr = tl_status_client(&st, "uid-root");
        CHECK(sr);
        info.root_qc = sr->qid;
        info.root_qu = sr->inbound_qid;
        info.root_pid = getpid();
        tl_status_free(&st);

        CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(to_parent[0]);
                close(to_child[1]);
                child(&info, to_parent[1], to_child[0]);
        }
        close(to_parent[1]);
        close(to_child[0]);

        /* stamped by ipcd with nobody's uid and the child's pid */
        CHECK_OK(tl_recv(root, &m, 0, 60000));
        CHECK_EQ(m.type, 11);
        CHECK_STREQ(m.sender, "uid-nobody");
        CHECK_EQ(m.sender_uid, NOBODY);
        CHECK_EQ(m.sender_pid, pid);
        ipcd_msg_release(root, &m);
        tl_send(root, "uid-nobody", 12, "hello nobody", 12, IPCD_ACK);

        CHECK(read(to_parent[0], &x, 1) == 1);
        tl_status(&st);
        sn = tl_status_client(&st, "uid-nobody");
        sr = tl_status_client(&st, "uid-root");
        CHECK(sn && sr);
        CHECK_EQ(sn->uid, NOBODY);
        CHECK_EQ(sn->pid, pid);
        CHECK_MSG(sn->inbound_qid != sr->inbound_qid, "nobody shares root's inbound queue");
        CHECK_EQ(st.n_queues, 2);
        /* nobody's client queue: owner nobody, group ipcd's (ours), 0600 */
        CHECK(tl_sysv_find("msg", sn->qid, &qc));
        CHECK_EQ(qc.uid, NOBODY);
        CHECK_EQ(qc.gid, getgid());
        CHECK_EQ(qc.perms, 0600);
        CHECK_EQ(qc.cuid, 0);
        /* nobody's inbound queue likewise */
        CHECK(tl_sysv_find("msg", sn->inbound_qid, &qu));
        CHECK_EQ(qu.uid, NOBODY);
        CHECK_EQ(qu.perms, 0600);
        /* root's own client queue is 0600 too */
        CHECK(tl_sysv_find("msg", sr->qid, &qc));
        CHECK_EQ(qc.perms, 0600);
        tl_status_free(&st);

        CHECK(write(to_child[1], "g", 1) == 1);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody child failed (%#x)",
                  status);

        /* once nobody's last client is gone, its inbound queue goes too */
        {
                uint64_t deadline = tl_now_ms() + 10000;

                for (;;) {
                        tl_status(&st);
                        if (st.n_queues == 1 && !tl_status_client(&st, "uid-nobody"))
                                break;
                        CHECK_MSG(tl_now_ms() < deadline,
                                  "nobody's client or inbound queue still there after 10 s");
                        tl_status_free(&st);
                        tl_sleep_ms(10);
                }
                CHECK_EQ(st.queues[0].uid, 0);
                tl_status_free(&st);
        }
        ipcd_close(root);
        return 0;
}
