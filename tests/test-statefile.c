/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-statefile - RUNDIR/ipcd.state stays small, and start-up after a
 * crash cleans up in one pass (issue 10, finding 4).
 *
 * Starts its own ipcd.  Three clients stay connected while 4 processes
 * make 100 000 connect/close cycles in all ($STATEFILE_CYCLES overrides
 * the number).  Asserts: the state file is then small (at most 16 KiB; it
 * grew by about 80 bytes per cycle before); after SIGKILL the crashed
 * instance's objects are still there, and 100 000 dead entries appended to
 * its state file (as an append-only file would have held) do not stop the
 * next ipcd: it starts, answers STATUS, and every object of the crashed
 * instance is gone.  No timing is asserted (the tlib hang guard only).
 */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define WORKERS 4
#define MAX_OBJECTS 4096

static _Noreturn void worker(unsigned cycles)
{
        for (unsigned i = 0; i < cycles; i++) {
                ipcd_client *c = NULL;
                int r = ipcd_connect(NULL, &c);

                if (r < 0) {
                        fprintf(stderr, "test-statefile: cycle %u: ipcd_connect: %s\n", i,
                                strerror(-r));
                        _exit(1);
                }
                ipcd_close(c);
        }
        _exit(0);
}

static off_t state_size(void)
{
        char path[PATH_MAX];
        struct stat st;

        snprintf(path, sizeof(path), "%s/ipcd.state", tl_rundir());
        CHECK_MSG(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
        return st.st_size;
}

struct objects {
        int msg[MAX_OBJECTS], sem[MAX_OBJECTS], shm[MAX_OBJECTS];
        unsigned nmsg, nsem, nshm;
};

static void objects_get(struct objects *o)
{
        o->nmsg = tl_sysv_ids("msg", o->msg, MAX_OBJECTS);
        o->nsem = tl_sysv_ids("sem", o->sem, MAX_OBJECTS);
        o->nshm = tl_sysv_ids("shm", o->shm, MAX_OBJECTS);
}

static unsigned objects_left(const struct objects *o)
{
        unsigned n = 0;

        for (unsigned i = 0; i < o->nmsg; i++)
                n += (unsigned)tl_sysv_find("msg", o->msg[i], NULL);
        for (unsigned i = 0; i < o->nsem; i++)
                n += (unsigned)tl_sysv_find("sem", o->sem[i], NULL);
        for (unsigned i = 0; i < o->nshm; i++)
                n += (unsigned)tl_sysv_find("shm", o->shm[i], NULL);
        return n;
}

int main(int argc, char **argv)
{
        const char *env = getenv("STATEFILE_CYCLES");
        unsigned cycles = env ? (unsigned)strtoul(env, NULL, 10) : 100000;
        ipcd_client *stay[3];
        struct objects *before = calloc(1, sizeof(*before));
        struct tl_status st;
        char path[PATH_MAX];
        pid_t ipcd, pids[WORKERS];
        off_t size;
        FILE *f;

        tl_init(argc, argv);
        CHECK(before);
        ipcd = tl_ipcd_start();
        for (unsigned i = 0; i < ELEMENTSOF(stay); i++) {
                char name[16];

                snprintf(name, sizeof(name), "stay-%u", i);
                stay[i] = tl_connect(name);
        }

        for (unsigned w = 0; w < WORKERS; w++) {
                pids[w] = fork();
                CHECK(pids[w] >= 0);
                if (pids[w] == 0)
                        worker(cycles / WORKERS + (w < cycles % WORKERS));
        }
        for (unsigned w = 0; w < WORKERS; w++) {
                int status;

                CHECK(waitpid(pids[w], &status, 0) == pids[w]);
                CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "worker %u failed (%#x)", w, status);
        }
        tl_wait_clients(ELEMENTSOF(stay));
        tl_status(&st);
        CHECK_MSG(st.daemon.registrations >= cycles, "%llu registrations, expected %u",
                  (unsigned long long)st.daemon.registrations, cycles);
        tl_status_free(&st);
        size = state_size();
        tl_log("%u connect/close cycles: ipcd.state is %lld bytes", cycles, (long long)size);
        CHECK_MSG(size <= 16384, "ipcd.state is %lld bytes after %u cycles", (long long)size,
                  cycles);

        /* A crash: everything stays behind (ipcd's sentinel, which would
         * remove it at once, dies first: the start-up clean-up is tested). */
        tl_ipcd_kill_sentinel(ipcd);
        CHECK(kill(ipcd, SIGKILL) == 0);
        CHECK(waitpid(ipcd, NULL, 0) == ipcd);
        objects_get(before);
        CHECK_MSG(before->nmsg > 0 && before->nsem > 0,
                  "nothing left after SIGKILL? (%u msg, %u sem, %u shm)", before->nmsg,
                  before->nsem, before->nshm);
        /* What an append-only file would have held: 100 000 dead entries. */
        snprintf(path, sizeof(path), "%s/ipcd.state", tl_rundir());
        f = fopen(path, "ae");
        CHECK(f);
        for (unsigned i = 0; i < 50000; i++)
                fprintf(f, "+msg %u\n+sem %u\n-msg %u\n-sem %u\n", 1u << 30 | i, 1u << 30 | i,
                        1u << 30 | i, 1u << 30 | i);
        CHECK(fclose(f) == 0);
        tl_log("killed ipcd; %u msg, %u sem, %u shm left; ipcd.state is %lld bytes", before->nmsg,
               before->nsem, before->nshm, (long long)state_size());

        /* The next ipcd answers, and the crashed one's objects are gone. */
        ipcd = tl_ipcd_start();
        tl_log("restarted ipcd answers STATUS");
        CHECK_EQ(objects_left(before), 0);
        tl_status(&st);
        CHECK_EQ(st.daemon.pid, ipcd);
        tl_status_free(&st);

        for (unsigned i = 0; i < ELEMENTSOF(stay); i++)
                ipcd_close(stay[i]);
        CHECK_EQ(WEXITSTATUS(tl_ipcd_stop(ipcd, SIGTERM)), 0);
        free(before);
        return 0;
}
