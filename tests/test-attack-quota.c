/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-attack-quota - issue 10, finding 3: the per-uid client quota is
 * bypassed by removing one's own inbound queue.
 *
 * Attack, by uid 65534 (the queue Qu of its clients is its own, so
 * IPC_RMID is allowed): register clients (by hand, each keeping its reply
 * FIFO open, so each stays alive) until ipcd says -EDQUOT, remove Qu with
 * IPC_RMID, and repeat for ROUNDS rounds.  After removing Qu, the attacker
 * keeps trying for a while (RETRY_TRIES x RETRY_MS: ipcd only learns of
 * the removal when its data thread sees EIDRM), a bounded effort, not a
 * timing assertion.  With max_clients_per_uid = LIMIT and max_clients =
 * GLOBAL (test-attack-quota.sh), the issue saw the uid's count climb by
 * the limit every round, up to the global cap, which locks out everybody.
 *
 * Must hold: after every registration round, STATUS lists at most LIMIT
 * clients of uid 65534 (per-uid counts do not depend on the queue's
 * entry; a uid whose queue vanishes may lose its clients, never its
 * limits), and afterwards, with the attacker's clients still alive, root
 * and uid 65533 can still register.  Prints the peak count.
 */
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define NOBODY 65534
#define OTHER 65533
#define LIMIT 8   /* max_clients_per_uid in test-attack-quota.sh */
#define GLOBAL 40 /* max_clients in test-attack-quota.sh: 5 rounds' worth */
#define ROUNDS 6
#define RETRY_TRIES 20
#define RETRY_MS 50
#define MAX_RAW (ROUNDS * (LIMIT + 1))

static struct tl_raw raws[MAX_RAW];

/* The attacker: writes one line per round to out_fd, "got peak", then
 * "done", and waits for a byte on in_fd before its clients leave. */
static _Noreturn void attacker(int out_fd, int in_fd)
{
        unsigned n = 0, peak = 0;
        char buf[256], x;

        tl_become(NOBODY, NULL, 0);
        for (unsigned round = 0; round < ROUNDS; round++) {
                unsigned got = 0, tries = 0;
                struct tl_status st;
                int r = 0, qid = -1, rm = 0;

                while (n < MAX_RAW) {
                        r = tl_raw_register(&raws[n], NULL, 0, 10000);
                        if (r == 0) {
                                qid = raws[n].reg.inbound_qid;
                                n++;
                                got++;
                                continue;
                        }
                        CHECK_MSG(r == -EDQUOT || r == -EAGAIN, "registration: %s",
                                  tl_errname(r));
                        /* Refused: ipcd may not have seen the last round's
                         * IPC_RMID yet.  Try a while before giving up. */
                        if (got > 0 || ++tries >= RETRY_TRIES)
                                break;
                        tl_sleep_ms(RETRY_MS);
                }
                tl_status(&st);
                if (tl_status_uid_clients(&st, NOBODY) > peak)
                        peak = tl_status_uid_clients(&st, NOBODY);
                snprintf(buf, sizeof(buf),
                         "round %u: uid %d registered %u more (then %s); STATUS lists %u "
                         "clients of uid %d, %u in all\n",
                         round + 1, NOBODY, got, tl_errname(r), tl_status_uid_clients(&st, NOBODY),
                         NOBODY, (unsigned)st.n_clients);
                tl_status_free(&st);
                CHECK(write(out_fd, buf, strlen(buf)) == (ssize_t)strlen(buf));
                if (qid >= 0) {
                        /* our own inbound queue: we own it, so we may */
                        rm = msgctl(qid, IPC_RMID, NULL) == 0 ? 0 : -errno;
                        CHECK_MSG(rm == 0, "IPC_RMID of our own inbound queue %d: %s", qid,
                                  strerror(-rm));
                }
        }
        snprintf(buf, sizeof(buf), "%u\n", peak);
        CHECK(write(out_fd, buf, strlen(buf)) == (ssize_t)strlen(buf));
        CHECK(read(in_fd, &x, 1) >= 0);
        for (unsigned i = 0; i < n; i++)
                tl_raw_close(&raws[i]);
        _exit(0);
}

/* Whether uid (root: 0) can register now; prints the outcome. */
static int try_register(uid_t uid)
{
        int status, r;
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *c = NULL;

                if (uid != 0)
                        tl_become(uid, NULL, 0);
                r = ipcd_connect(NULL, &c);
                if (r == 0)
                        ipcd_close(c);
                _exit(r == 0 ? 0 : -r);
        }
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status), "child of uid %u died (%#x)", (unsigned)uid, status);
        r = -WEXITSTATUS(status);
        printf("with the attacker's clients alive, uid %u registers: %s\n", (unsigned)uid,
               tl_errname(r));
        return r;
}

int main(int argc, char **argv)
{
        int to_parent[2], to_child[2], status, r_root, r_other;
        unsigned peak = 0;
        char buf[256];
        FILE *from_child;
        pid_t pid;

        tl_init(argc, argv);
        tl_require_uids(OTHER, 2);

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
        from_child = fdopen(to_parent[0], "r");
        CHECK(from_child);
        for (unsigned i = 0; i < ROUNDS; i++) {
                CHECK_MSG(fgets(buf, sizeof(buf), from_child), "the attacker died in round %u",
                          i + 1);
                printf("%s", buf);
        }
        CHECK_MSG(fgets(buf, sizeof(buf), from_child) && sscanf(buf, "%u", &peak) == 1,
                  "the attacker died");
        printf("peak: %u clients of uid %d alive (max_clients_per_uid %d, max_clients %d, "
               "%d rounds)\n",
               peak, NOBODY, LIMIT, GLOBAL, ROUNDS);

        /* the attacker's clients are still alive: can others register? */
        r_root = try_register(0);
        r_other = try_register(OTHER);

        CHECK(write(to_child[1], "x", 1) == 1);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attacker failed (%#x)",
                  status);
        fclose(from_child);
        close(to_child[1]);
        tl_wait_clients(0);

        CHECK_MSG(peak <= LIMIT,
                  "uid %d had %u clients alive, over its max_clients_per_uid %d, by removing "
                  "its own inbound queue",
                  NOBODY, peak, LIMIT);
        CHECK_MSG(r_root == 0, "root could not register after the attack: %s",
                  tl_errname(r_root));
        CHECK_MSG(r_other == 0, "uid %d could not register after the attack: %s", OTHER,
                  tl_errname(r_other));
        return 0;
}
