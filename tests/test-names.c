/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-names - registration: names, errors, limits.
 *
 * Asserts: a taken name gives -EADDRINUSE (and the first owner keeps it
 * and keeps working); invalid names give -EINVAL without a round trip to
 * ipcd mattering (1-63 bytes of [A-Za-z0-9._/-]; 63 bytes and every
 * allowed character work); a name is free again once its owner closed;
 * IPCD_ACK to a missing name is -ENOENT, to a name that went away too;
 * ipcd_connect_at() and $IPCD_RUNTIME_DIR reach the same daemon; no daemon
 * gives -ECONNREFUSED; a process in another IPC namespace than ipcd's gets
 * -EXDEV (it could not use ipcd's queues); the per-uid client limit of the config
 * (max_clients_per_uid = 8, set by test-names.sh) gives -EDQUOT and a slot
 * is usable again after a close; refusals are counted in status.
 */
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define PER_UID_LIMIT 8

static void test_taken(void)
{
        ipcd_client *first = tl_connect("dup"), *second = NULL, *other;
        int r;

        r = ipcd_connect("dup", &second);
        CHECK_R(r, -EADDRINUSE);
        CHECK(second == NULL);
        /* the owner is unaffected */
        other = tl_connect("dup-peer");
        tl_send(other, "dup", 1, "still mine", 10, IPCD_ACK);
        tl_expect(first, 0, 1, "still mine", 10, "dup-peer");

        /* once closed, the name is free again (ipcd processes the close
         * asynchronously: allow it a moment, as a hang guard only) */
        ipcd_close(first);
        {
                uint64_t deadline = tl_now_ms() + 10000;
                int tries = 0;

                for (;;) {
                        r = ipcd_connect("dup", &second);
                        tries++;
                        if (r != -EADDRINUSE || tl_now_ms() > deadline)
                                break;
                        tl_sleep_ms(10);
                }
                CHECK_MSG(r == 0, "re-registering a closed name: %d (%s)", r, tl_errname(r));
                if (tries > 1)
                        tl_log("note: name free only after %d attempts following ipcd_close()",
                               tries);
        }
        tl_send(other, "dup", 2, "new owner", 9, IPCD_ACK);
        tl_expect(second, 0, 2, "new owner", 9, "dup-peer");
        ipcd_close(second);
        ipcd_close(other);
}

static void test_invalid(void)
{
        static const char *const bad[] = {
                "with space",
                "bang!",
                "star*",
                "new\nline",
                "tab\t",
                "caf\xc3\xa9",
                "REGISTER 1 0123456789abcdef0123456789abcdef 0123456789abcdef0123456789abcdef 1 x",
                "0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
        };
        char max[64];
        ipcd_client *c;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                c = NULL;
                CHECK_MSG(ipcd_connect(bad[i], &c) == -EINVAL && !c,
                          "ipcd_connect(\"%s\") did not give -EINVAL", bad[i]);
        }

        memset(max, 'n', 63);
        max[63] = '\0';
        c = tl_connect(max);
        CHECK_STREQ(ipcd_name(c), max);
        tl_send(c, max, 1, "63", 2, IPCD_ACK);
        tl_expect(c, 0, 1, "63", 2, max);
        ipcd_close(c);

        c = tl_connect("Az09._/-");
        tl_send(c, "Az09._/-", 1, "chars", 5, IPCD_ACK);
        tl_expect(c, 0, 1, "chars", 5, "Az09._/-");
        ipcd_close(c);
}

static void test_missing(void)
{
        ipcd_client *a = tl_connect("asker"), *gone;

        CHECK_R(ipcd_send(a, "never-registered", 1, "x", 1, IPCD_ACK), -ENOENT);

        gone = tl_connect("short-lived");
        tl_send(a, "short-lived", 1, "x", 1, IPCD_ACK);
        ipcd_close(gone);
        /* once ipcd has processed the close, the name is missing */
        {
                uint64_t deadline = tl_now_ms() + 10000;
                int r;

                do {
                        r = ipcd_send(a, "short-lived", 1, "x", 1, IPCD_ACK);
                        if (r == 0)
                                tl_sleep_ms(10);
                } while (r == 0 && tl_now_ms() < deadline);
                CHECK_R(r, -ENOENT);
        }
        ipcd_close(a);
}

static void test_where(void)
{
        char empty[] = "/tmp/ipcd-test-nodaemon.XXXXXX";
        char path[PATH_MAX];
        ipcd_client *c = NULL, *d;

        /* explicit directory, same daemon */
        CHECK_OK(ipcd_connect_at(tl_rundir(), "at-explicit", &c));
        d = tl_connect("at-env");
        tl_send(c, "at-env", 1, "same daemon", 11, IPCD_ACK);
        tl_expect(d, 0, 1, "same daemon", 11, "at-explicit");
        ipcd_close(c);
        ipcd_close(d);

        /* no daemon there: -ECONNREFUSED, promptly */
        c = NULL;
        CHECK_R(ipcd_connect_at("/nonexistent/ipcd", "x", &c), -ECONNREFUSED);
        CHECK(!c);
        CHECK(mkdtemp(empty));
        CHECK_R(ipcd_connect_at(empty, "x", &c), -ECONNREFUSED);
        /* a control FIFO with nobody reading it (a crashed daemon) */
        snprintf(path, sizeof(path), "%s/control", empty);
        CHECK(mkfifo(path, 0622) == 0);
        snprintf(path, sizeof(path), "%s/clients", empty);
        CHECK(mkdir(path, 01733) == 0);
        CHECK_R(ipcd_connect_at(empty, "x", &c), -ECONNREFUSED);
        CHECK(!c);
        unlink(strcat(strcpy(path, empty), "/control"));
        rmdir(strcat(strcpy(path, empty), "/clients"));
        CHECK(rmdir(empty) == 0);
}

static void test_limit(void)
{
        ipcd_client *c[PER_UID_LIMIT + 1] = { 0 }, *extra = NULL;
        struct tl_status st;
        uint64_t refused;
        char name[32];
        int r;

        tl_status(&st);
        refused = st.daemon.refused;
        CHECK_EQ(st.daemon.nclients, 0);
        tl_status_free(&st);

        for (int i = 0; i < PER_UID_LIMIT; i++) {
                snprintf(name, sizeof(name), "slot%d", i);
                c[i] = tl_connect(name);
        }
        r = ipcd_connect("one-too-many", &extra);
        CHECK_R(r, -EDQUOT);
        CHECK(!extra);
        r = ipcd_connect(NULL, &extra);
        CHECK_R(r, -EDQUOT);

        tl_status(&st);
        CHECK_EQ(st.daemon.nclients, PER_UID_LIMIT);
        CHECK_MSG(st.daemon.refused >= refused + 2, "refused %llu -> %llu",
                  (unsigned long long)refused, (unsigned long long)st.daemon.refused);
        CHECK(st.daemon.limit_hits >= 2);
        tl_status_free(&st);

        /* the ones inside the limit work */
        tl_send(c[0], "slot7", 1, "in", 2, IPCD_ACK);
        tl_expect(c[PER_UID_LIMIT - 1], 0, 1, "in", 2, "slot0");

        /* a slot frees up after a close */
        ipcd_close(c[3]);
        {
                uint64_t deadline = tl_now_ms() + 10000;

                do {
                        r = ipcd_connect("late", &extra);
                        if (r == -EDQUOT)
                                tl_sleep_ms(10);
                } while (r == -EDQUOT && tl_now_ms() < deadline);
                CHECK_R(r, 0);
        }
        ipcd_close(extra);
        for (int i = 0; i < PER_UID_LIMIT; i++)
                if (i != 3)
                        ipcd_close(c[i]);
        tl_wait_clients(0);
}

/* A process in another IPC namespace is refused with -EXDEV. */
static void test_other_namespace(void)
{
        pid_t pid;
        int status;

        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                ipcd_client *c = NULL;
                int r;

                if (unshare(CLONE_NEWIPC) < 0) {
                        tl_log("note: unshare(CLONE_NEWIPC): %s: -EXDEV not checked",
                               strerror(errno));
                        _exit(0);
                }
                r = ipcd_connect("elsewhere", &c);
                if (r != -EXDEV) {
                        tl_log("connect from another IPC namespace: %d (%s), expected EXDEV", r,
                               tl_errname(r));
                        _exit(1);
                }
                _exit(0);
        }
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "client in another IPC namespace (status %#x)", status);
        /* nothing of it is left registered */
        {
                struct tl_status st;

                tl_status(&st);
                CHECK(!tl_status_client(&st, "elsewhere"));
                tl_status_free(&st);
        }
}

int main(int argc, char **argv)
{
        tl_init(argc, argv);

        test_limit(); /* first: it counts every client of our uid */
        test_taken();
        test_invalid();
        test_missing();
        test_where();
        test_other_namespace();
        return 0;
}
