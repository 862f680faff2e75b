/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-reload - SIGHUP applies every key or names it (issue 10, finding 9).
 *
 * Starts its own ipcd (its log in a file the test reads).  Asserts:
 *  - adding clients_group = "root" and SIGHUP: the control FIFO becomes
 *    0620 with group root; uid 65534 (not a member) can no longer
 *    register: not with a new connection, and not through a control FIFO
 *    descriptor it opened before the reload (ipcd refuses it, EACCES);
 *    root still registers;
 *  - removing it and SIGHUP: 0622 with ipcd's group again, nobody
 *    registers again;
 *  - changing rings and SIGHUP: the log says "rings: needs a restart",
 *    again at the next reload (the running rings stay as they are);
 *  - a limit (max_clients_per_uid) applies at once.
 * Skips when not root or when nobody is not mapped.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/ctlchan.h"
#include "tlib.h"


static char log_path[PATH_MAX];
static pid_t ipcd;

static void write_config(const char *extra)
{
        const char *path = getenv("IPCD_TEST_CONFIG");
        FILE *f;

        CHECK_MSG(path && *path, "IPCD_TEST_CONFIG is not set");
        f = fopen(path, "we");
        CHECK(f);
        fprintf(f, "registration_rate = 100000;\nregistration_burst = 100000;\n%s\n", extra);
        CHECK(fclose(f) == 0);
}

/* Lines of ipcd's log containing s. */
static unsigned log_count(const char *s)
{
        char line[1024];
        unsigned n = 0;
        FILE *f = fopen(log_path, "re");

        CHECK(f);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, s))
                        n++;
        fclose(f);
        return n;
}

/* SIGHUP, and wait (hang guard) until ipcd logged the reload's end. */
static void reload(void)
{
        unsigned before = log_count("configuration reloaded");
        uint64_t deadline = tl_now_ms() + 30000;

        CHECK(kill(ipcd, SIGHUP) == 0);
        while (log_count("configuration reloaded") == before) {
                CHECK_MSG(log_count("reload failed") == 0, "the reload failed (see the log)");
                CHECK_MSG(tl_now_ms() < deadline, "no reload logged within 30 s");
                tl_sleep_ms(10);
        }
}

static void check_fifo(mode_t mode, gid_t gid)
{
        char path[PATH_MAX];
        struct stat st;

        snprintf(path, sizeof(path), "%s/control", tl_rundir());
        CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode));
        CHECK_MSG((st.st_mode & 07777) == mode, "control FIFO mode %04o, expected %04o",
                  (unsigned)(st.st_mode & 07777), (unsigned)mode);
        CHECK_EQ(st.st_gid, gid);
}

static void wait_byte(int fd, char want)
{
        char x = 0;

        CHECK_MSG(read(fd, &x, 1) == 1 && x == want, "sync: got '%c', expected '%c'", x, want);
}

/* nobody: registers; opens a channel; after the first reload is refused on
 * it and on a new connection; after the second registers again. */
static _Noreturn void nobody(int to_parent, int from_parent)
{
        union {
                struct wire_rec_error err;
                struct wire_rec_registered reg;
        } body;
        struct wire_ctl req = { .cmd = WIRE_CTL_REGISTER, .pid = getpid() };
        struct ctlchan ch;
        ipcd_client *c = NULL;
        int r;

        tl_become_nobody();

        CHECK_OK(ipcd_connect(NULL, &c));
        ipcd_close(c);
        /* A channel opened while anyone may write the FIFO. */
        CHECK_OK(ctlchan_open(&ch, tl_rundir()));
        CHECK(write(to_parent, "1", 1) == 1);

        wait_byte(from_parent, 'g');
        CHECK_OK(ctlchan_send(&ch, &req, 10000));
        r = ctlchan_read(&ch, &body, sizeof(body), 20000);
        CHECK_MSG(r == WIRE_REC_ERROR, "REGISTER through an old descriptor: answer %d (%s)", r,
                  r < 0 ? tl_errname(r) : "a record");
        CHECK_R(body.err.error, -EACCES);
        ctlchan_close(&ch, 0);
        c = NULL;
        r = ipcd_connect(NULL, &c);
        CHECK_MSG(r < 0, "nobody registered although not in clients_group");
        tl_log("nobody after clients_group = \"root\": %s, then ipcd_connect %s",
               tl_errname(body.err.error), tl_errname(r));
        CHECK(write(to_parent, "2", 1) == 1);

        wait_byte(from_parent, 'h');
        CHECK_OK(ipcd_connect(NULL, &c));
        ipcd_close(c);
        _exit(0);
}

int main(int argc, char **argv)
{
        int to_parent[2], to_child[2], saved, lfd, status;
        struct tl_status st;
        ipcd_client *root, *extra[3];
        pid_t pid;

        tl_init(argc, argv);
        tl_skip_unless_nobody();

        /* ipcd's stderr into a file of ours: the test reads its log. */
        CHECK_MSG(getenv("IPCD_TEST_TMP"), "IPCD_TEST_TMP is not set");
        snprintf(log_path, sizeof(log_path), "%s/reload-ipcd.log", getenv("IPCD_TEST_TMP"));
        write_config("");
        lfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        CHECK(lfd >= 0);
        saved = dup(2);
        CHECK(saved >= 0 && dup2(lfd, 2) == 2);
        ipcd = tl_ipcd_start();
        CHECK(dup2(saved, 2) == 2);
        close(saved);
        close(lfd);
        check_fifo(0622, getegid());

        /* ---- clients_group applies live ---- */
        CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(to_parent[0]);
                close(to_child[1]);
                nobody(to_parent[1], to_child[0]);
        }
        close(to_parent[1]);
        close(to_child[0]);
        wait_byte(to_parent[0], '1');

        write_config("clients_group = \"root\";");
        reload();
        check_fifo(0620, 0);
        CHECK_MSG(log_count("clients_group: changed") == 1, "clients_group's change not logged");
        root = tl_connect("reload-root");
        CHECK(write(to_child[1], "g", 1) == 1);
        wait_byte(to_parent[0], '2');

        write_config("");
        reload();
        check_fifo(0622, getegid());
        CHECK(write(to_child[1], "h", 1) == 1);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody child failed (%#x)",
                  status);

        /* ---- rings: named as needing a restart ---- */
        write_config("rings = ( { name = \"other\"; size = 1048576; lane_size = 65536; } );");
        reload();
        CHECK_MSG(log_count("rings: needs a restart") == 1, "rings' change not named in the log");
        reload();
        CHECK_MSG(log_count("rings: needs a restart") == 2, "rings not named at the next reload");
        tl_status(&st);
        CHECK_EQ(st.n_rings, 1);
        CHECK_STREQ(st.rings[0].name, "default");
        tl_status_free(&st);

        /* ---- a limit applies at once ---- */
        write_config("max_clients_per_uid = 2;");
        reload();
        extra[0] = tl_connect("reload-2");
        extra[1] = NULL;
        CHECK_R(ipcd_connect("reload-3", &extra[1]), -EDQUOT);
        ipcd_close(extra[0]);
        ipcd_close(root);

        CHECK_EQ(WEXITSTATUS(tl_ipcd_stop(ipcd, SIGTERM)), 0);
        {
                /* ipcd's log, for the test's own log */
                char line[1024];
                FILE *f = fopen(log_path, "re");

                while (f && fgets(line, sizeof(line), f))
                        if (!strstr(line, "registered") && !strstr(line, " left:"))
                                fputs(line, stderr);
                if (f)
                        fclose(f);
        }
        return 0;
}
