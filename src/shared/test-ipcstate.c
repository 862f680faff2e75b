/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-ipcstate - RUNDIR/ipcd.state: it stays proportional to the objects
 * alive through 100 000 create/remove cycles (compaction by rewrite, the
 * descriptor number unchanged, the path always the file written to); a
 * crash in the middle of a rewrite leaves the old file complete and
 * readable, and the next open removes the half-written one; clean-up of a
 * file of 100 000 entries removes exactly the live objects that are ours
 * (not those recorded as removed, not those with a key) in one pass.
 * Runs in a private IPC namespace (re-exec under unshare) for the part
 * that creates and removes real objects, and skips that part otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/ipcstate.h"
#include "shared/util.h"
#include "shared/test-util.h"

static char dir[] = "/tmp/test-ipcstate.XXXXXX";
static char state_path[256], new_path[256];

/* What the file says is alive, by a parser of the test's own: for each
 * kind (0 msg, 1 sem, 2 shm) a bitmap of ids below MAXID. */
#define MAXID 200000
static unsigned char alive[3][MAXID];

static int kind_index(const char *k)
{
        return strcmp(k, "msg") == 0 ? 0 : strcmp(k, "sem") == 0 ? 1 : strcmp(k, "shm") == 0 ? 2 : -1;
}

/* Read the file into alive[]; returns its lines, -1 if unreadable or a
 * line is malformed. */
static long read_state(void)
{
        char line[128], kname[8], sign;
        long n = 0;
        int id, k;
        FILE *f = fopen(state_path, "re");

        memset(alive, 0, sizeof(alive));
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                if (sscanf(line, "%c%7s %d", &sign, kname, &id) != 3 || (sign != '+' && sign != '-') ||
                    (k = kind_index(kname)) < 0 || id < 0 || id >= MAXID || !strchr(line, '\n')) {
                        fclose(f);
                        return -1;
                }
                alive[k][id] = sign == '+';
                n++;
        }
        fclose(f);
        return n;
}

static unsigned count_alive(int k)
{
        unsigned n = 0;

        for (int i = 0; i < MAXID; i++)
                n += alive[k][i];
        return n;
}

static void test_compaction(void)
{
        struct stat a, b;
        size_t nlive = 0, nlines = 0, max_lines = 0;
        int fd = ipcstate_open(dir);
        long lines;

        CHECK(fd >= 0);
        for (int i = 0; i < 20; i++)
                CHECK(ipcstate_record(fd, IPCSTATE_MSG, 1000 + i, false) == 0);
        /* 100 000 objects come and go, as registrations do. */
        for (int i = 0; i < 100000; i++) {
                CHECK(ipcstate_record(fd, IPCSTATE_MSG, 100000 + (i % 5000), false) == 0);
                CHECK(ipcstate_record(fd, IPCSTATE_SEM, i % 7000, false) == 0);
                CHECK(ipcstate_record(fd, IPCSTATE_MSG, 100000 + (i % 5000), true) == 0);
                CHECK(ipcstate_record(fd, IPCSTATE_SEM, i % 7000, true) == 0);
                CHECK(ipcstate_stats(fd, &nlive, &nlines) == 0);
                if (nlines > max_lines)
                        max_lines = nlines;
        }
        CHECK(ipcstate_record(fd, IPCSTATE_SHM, 7, false) == 0);
        CHECK(ipcstate_stats(fd, &nlive, &nlines) == 0);
        CHECK(nlive == 21);
        /* Never more than about twice the live set (plus the slack). */
        printf("400 020 events, 21 alive: at most %zu lines in the file\n", max_lines);
        CHECK(max_lines <= 2 * 22 + 256 + 1);
        /* The path is the file the descriptor writes to. */
        CHECK(stat(state_path, &a) == 0 && fstat(fd, &b) == 0);
        CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        CHECK(a.st_size < 4096);
        lines = read_state();
        CHECK(lines == (long)nlines);
        CHECK(count_alive(0) == 20 && count_alive(1) == 0 && count_alive(2) == 1);
        for (int i = 0; i < 20; i++)
                CHECK(alive[0][1000 + i]);
        CHECK(alive[2][7]);
        CHECK(access(new_path, F_OK) < 0 && errno == ENOENT);
        /* Removing what was never recorded changes nothing alive. */
        CHECK(ipcstate_record(fd, IPCSTATE_SHM, 99, true) == 0);
        CHECK(ipcstate_stats(fd, &nlive, &nlines) == 0 && nlive == 21);
        CHECK(ipcstate_close(fd) == -1);
        CHECK(ipcstate_stats(fd, &nlive, &nlines) == -ENOENT);
        CHECK(ipcstate_record(-1, IPCSTATE_SHM, 1, false) == 0);
}

static _Noreturn void crash(void)
{
        _exit(42);
}

static void test_crash_mid_rewrite(void)
{
        int status, fd;
        pid_t pid;
        unsigned sems;

        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                fd = ipcstate_open(dir);
                if (fd < 0)
                        _exit(1);
                ipcstate_before_rename = crash;
                for (int i = 1; i <= 50; i++)
                        ipcstate_record(fd, IPCSTATE_MSG, i, false);
                for (int i = 0;; i++) {
                        ipcstate_record(fd, IPCSTATE_SEM, 500 + i, false);
                        ipcstate_record(fd, IPCSTATE_SEM, 500 + i, true);
                }
        }
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
        /* The rewrite got as far as its new file ... */
        CHECK(access(new_path, F_OK) == 0);
        /* ... and the state file is the old one, complete. */
        CHECK(read_state() > 50);
        CHECK(count_alive(0) == 50);
        for (int i = 1; i <= 50; i++)
                CHECK(alive[0][i]);
        sems = count_alive(1);
        CHECK(sems <= 1); /* the one being recorded when it stopped */
        CHECK(count_alive(2) == 0);
        /* The next instance removes the half-written file. */
        fd = ipcstate_open(dir);
        CHECK(fd >= 0);
        CHECK(access(new_path, F_OK) < 0 && errno == ENOENT);
        CHECK(read_state() == 0);
        ipcstate_close(fd);
}

/* Clean-up with real objects: only in a private IPC namespace. */
static void test_cleanup(void)
{
        int q_live, q_removed, q_keyed, sem_live, shm_live;
        unsigned removed = 99;
        FILE *f;

        q_live = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        q_removed = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        q_keyed = msgget(0x1d5e7e57, IPC_CREAT | 0600);
        sem_live = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        shm_live = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        CHECK(q_live >= 0 && q_removed >= 0 && q_keyed >= 0 && sem_live >= 0 && shm_live >= 0);

        /* A crashed instance's file: 100 000 dead entries around them. */
        f = fopen(state_path, "we");
        CHECK(f != NULL);
        if (!f)
                return;
        for (int i = 0; i < 50000; i++)
                fprintf(f, "+msg %d\n+sem %d\n", 1000000 + i, 1000000 + i);
        fprintf(f, "+msg %d\n+msg %d\n+msg %d\n+sem %d\n+shm %d\n", q_live, q_removed, q_keyed,
                sem_live, shm_live);
        for (int i = 0; i < 50000; i++)
                fprintf(f, "-msg %d\n", 1000000 + i);
        fprintf(f, "-msg %d\ngarbage\n+msg 12", q_removed);
        CHECK(fclose(f) == 0);

        CHECK(ipcstate_cleanup(dir, geteuid(), &removed) == 0);
        CHECK(removed == 3);
        CHECK(msgctl(q_live, IPC_STAT, &(struct msqid_ds){ 0 }) < 0 && errno == EINVAL);
        CHECK(semctl(sem_live, 0, IPC_STAT, &(struct semid_ds){ 0 }) < 0 && errno == EINVAL);
        CHECK(shmctl(shm_live, IPC_STAT, &(struct shmid_ds){ 0 }) < 0 && errno == EINVAL);
        /* Recorded as removed, or made with a key: not ipcd's to remove. */
        CHECK(msgctl(q_removed, IPC_STAT, &(struct msqid_ds){ 0 }) == 0);
        CHECK(msgctl(q_keyed, IPC_STAT, &(struct msqid_ds){ 0 }) == 0);
        /* Another creator uid: nothing. */
        CHECK(ipcstate_cleanup(dir, geteuid() + 1, &removed) == 0 && removed == 0);
        msgctl(q_removed, IPC_RMID, NULL);
        msgctl(q_keyed, IPC_RMID, NULL);
        /* No file: nothing to do, no error. */
        unlink(state_path);
        CHECK(ipcstate_cleanup(dir, geteuid(), &removed) == 0 && removed == 0);
}

/* Lines of the file, and how many are name lines. */
static long count_lines(long *nnames)
{
        char line[256];
        long n = 0;
        FILE *f = fopen(state_path, "re");

        *nnames = 0;
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                n++;
                if (strncmp(line + 1, "name ", 5) == 0)
                        (*nnames)++;
        }
        fclose(f);
        return n;
}

static bool names_has(const struct ipcstate_name *v, size_t n, uid_t uid, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (v[i].uid == uid && strcmp(v[i].name, name) == 0)
                        return true;
        return false;
}

/*
 * Names (issue 10, finding 5): each registered name is recorded with its
 * uid, the last line wins, compaction keeps the live ones, a crash
 * clean-up's rewrite keeps only them, and malformed name lines are
 * ignored.
 */
static void test_names(void)
{
        struct ipcstate_name *v = NULL;
        long lines, nnames;
        size_t n = 0;
        unsigned removed = 0;
        char name[64];
        int fd, wfd;

        fd = ipcstate_open(dir);
        CHECK(fd >= 0);
        CHECK(ipcstate_record_name(fd, 0, "svc", false) == 0);
        CHECK(ipcstate_record_name(fd, 65534, "other", false) == 0);
        CHECK(ipcstate_record_name(fd, 0, "", false) == 0); /* anonymous: nothing */
        for (unsigned i = 0; i < 20000; i++) {
                snprintf(name, sizeof(name), "cycle-%u", i);
                CHECK(ipcstate_record_name(fd, 1000, name, false) == 0);
                CHECK(ipcstate_record(fd, IPCSTATE_MSG, (int)i, false) == 0);
                CHECK(ipcstate_record(fd, IPCSTATE_MSG, (int)i, true) == 0);
                CHECK(ipcstate_record_name(fd, 1000, name, true) == 0);
        }
        CHECK(ipcstate_record(fd, IPCSTATE_MSG, 7, false) == 0);
        lines = count_lines(&nnames);
        /* compacted: the 3 live lines plus what accrued since the rewrite */
        CHECK(lines >= 3 && lines < 2000);
        CHECK(ipcstate_names(dir, &v, &n) == 0);
        CHECK(n == 2 && names_has(v, n, 0, "svc") && names_has(v, n, 65534, "other"));
        free(v);
        v = NULL;
        /* a crash: the fd is dropped without the clean unlink */
        ipcstate_close(fd);

        /* junk a writer could not have made is ignored */
        wfd = open(state_path, O_WRONLY | O_APPEND);
        CHECK(wfd >= 0);
        CHECK(write(wfd, "+name 5 bad name!\n+name x y\n+name 6\n-name 65534 other\n+name 7 cut",
                    strlen("+name 5 bad name!\n+name x y\n+name 6\n-name 65534 other\n+name 7 cut")) > 0);
        close(wfd);
        CHECK(ipcstate_names(dir, &v, &n) == 0);
        CHECK(n == 1 && names_has(v, n, 0, "svc"));
        free(v);
        v = NULL;
        /* objects clean-up leaves the names alone (they are not objects) */
        CHECK(ipcstate_cleanup(dir, geteuid(), &removed) == 0);
        /* the sentinel's rewrite: names only */
        CHECK(ipcstate_forget_objects(dir) == 0);
        lines = count_lines(&nnames);
        CHECK(lines == 1 && nnames == 1);
        CHECK(access(new_path, F_OK) < 0);
        CHECK(ipcstate_names(dir, &v, &n) == 0);
        CHECK(n == 1 && names_has(v, n, 0, "svc"));
        free(v);
        /* a new instance starts a new file */
        fd = ipcstate_open(dir);
        CHECK(fd >= 0);
        CHECK(ipcstate_names(dir, &v, &n) == 0 && n == 0);
        free(v);
        ipcstate_close(fd);
        unlink(state_path);
}

int main(int argc, char **argv)
{
        const char *host = getenv("IPCSTATE_TEST_HOST_NS");
        uint64_t ns = 0;
        bool private_ns;

        (void)argc;
        if (!host) {
                char buf[32];

                if (util_ipc_ns(0, &ns) == 0) {
                        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)ns);
                        setenv("IPCSTATE_TEST_HOST_NS", buf, 1);
                        execlp("unshare", "unshare", "--ipc", argv[0], (char *)NULL);
                }
                /* No unshare: run here, without the real objects. */
                host = "0";
        }
        private_ns = util_ipc_ns(0, &ns) == 0 && strtoull(host, NULL, 10) != 0 &&
                     ns != strtoull(host, NULL, 10);

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        snprintf(state_path, sizeof(state_path), "%s/ipcd.state", dir);
        snprintf(new_path, sizeof(new_path), "%s/ipcd.state.new", dir);

        test_compaction();
        test_crash_mid_rewrite();
        test_names();
        if (private_ns)
                test_cleanup();
        else
                printf("note: not in a private IPC namespace: clean-up of real objects not tested\n");

        unlink(state_path);
        unlink(new_path);
        rmdir(dir);
        return test_result("test-ipcstate");
}
