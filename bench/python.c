/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * python.c - section 8 of ipcd-bench: the Python binding (issue 15).
 *
 * python/bench.py measures, between two fresh Python processes, the
 * 64-byte round trip and one-way rate through the binding and through
 * pyzmq, against the ipcd this bench started (the same binary and config
 * as the C rows).  It runs twice: every process on CPU 0 (ipcd pinned
 * there too, as in section 1's "same CPU"), round trip only; then
 * unpinned, round trip and one-way.  This file starts it, reads the lines
 * it prints (their format is in bench.py's docstring) and reports each
 * figure with its ratios to pyzmq and to the C ipcd rows of sections 1
 * and 2 of this run.
 *
 * The interpreter, the script and the build tree's package directory
 * come from configure (BENCH_PYTHON empty: the binding is not built);
 * IPCD_BENCH_PYTHON and IPCD_BENCH_PY override the first two.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifndef BENCH_PYTHON
#define BENCH_PYTHON ""
#define BENCH_PY_SCRIPT ""
#define BENCH_PY_PATH ""
#endif

#define PY_MAX_REPS 32

enum { PY_IPCD, PY_ZMQ, PY_N };
enum { PY_SAME, PY_UNPINNED, PY_MODES };

static const char *const py_name[PY_N] = {"ipcd", "pyzmq"};
static const char *const py_csv[PY_N] = {"python-ipcd", "python-zmq"};
static const char *const py_mode[PY_MODES] = {"same-cpu", "unpinned"};

struct py_series {
        double v[PY_MAX_REPS];
        unsigned n, failed;
        uint64_t sent, received;
        char why[256];
};

struct py_results {
        struct py_series rtt[PY_MODES][PY_N], oneway[PY_N];
        char skip[PY_N][256]; /* transport not measured, and why */
        char versions[256];
        char why[256]; /* the whole section failed */
};

static void series_add(struct py_series *s, double v)
{
        if (s->n < PY_MAX_REPS)
                s->v[s->n++] = v;
}

/* One line of bench.py's output. */
static void parse_line(struct py_results *res, int mode, char *line)
{
        char *save = NULL, *kind = strtok_r(line, " ", &save), *t = strtok_r(NULL, " ", &save);
        char *rest = save ? save : (char *)"";
        int i;

        if (!kind || !t)
                return;
        if (strcmp(kind, "info") == 0) {
                size_t n = strlen(res->versions);

                if (strstr(res->versions, t) == NULL)
                        bprintf(res->versions + n, sizeof(res->versions) - n, "%s%s %s",
                                n ? ", " : "", t, rest);
                return;
        }
        if (strcmp(kind, "fail") == 0) { /* fail TEST TRANSPORT REASON */
                char *tr = strtok_r(NULL, " ", &save);

                for (i = 0; tr && i < PY_N; i++)
                        if (strcmp(tr, py_name[i]) == 0) {
                                struct py_series *s = strcmp(t, "rtt") == 0 ? &res->rtt[mode][i]
                                                                            : &res->oneway[i];

                                s->failed++;
                                bprintf(s->why, sizeof(s->why), "%s", save ? save : "failed");
                        }
                return;
        }
        for (i = 0; i < PY_N; i++)
                if (strcmp(t, py_name[i]) == 0)
                        break;
        if (i == PY_N)
                return;
        if (strcmp(kind, "skip") == 0)
                bprintf(res->skip[i], sizeof(res->skip[i]), "skipped: %s", rest);
        else if (strcmp(kind, "rtt") == 0)
                series_add(&res->rtt[mode][i], atof(rest));
        else if (strcmp(kind, "oneway") == 0) {
                unsigned long long sent = 0, received = 0;
                double rate = 0;

                if (sscanf(rest, "%lf %llu %llu", &rate, &sent, &received) == 3) {
                        series_add(&res->oneway[i], rate);
                        res->oneway[i].sent += sent;
                        res->oneway[i].received += received;
                }
        }
}

static pid_t spawn_script(struct bench *b, const char *python, const char *script, bool same_cpu,
                          int out_fd)
{
        char reps[16], t[32], warm[32], log[512];
        pid_t pid;

        bprintf(reps, sizeof(reps), "%u", b->reps);
        bprintf(t, sizeof(t), "%g", b->rep_s);
        bprintf(warm, sizeof(warm), "%g", b->warm_s);
        bprintf(log, sizeof(log), "%s/python.log", b->tmpdir);
        pid = fork();
        if (pid != 0)
                return pid;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void)pin_self(same_cpu ? 0 : -1);
        setenv("IPCD_RUNTIME_DIR", b->ipcd_rundir, 1);
        if (BENCH_PY_PATH[0]) {
                const char *old = getenv("PYTHONPATH");
                char path[4096];

                bprintf(path, sizeof(path), "%s%s%s", BENCH_PY_PATH, old && old[0] ? ":" : "",
                        old ? old : "");
                setenv("PYTHONPATH", path, 1);
        }
        dup2(out_fd, STDOUT_FILENO);
        {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                if (fd >= 0)
                        dup2(fd, STDERR_FILENO);
        }
        if (same_cpu)
                execl(python, python, script, "--reps", reps, "--time", t, "--warm", warm,
                      "--cpu", "0", "--tests", "rtt", (char *)NULL);
        else
                execl(python, python, script, "--reps", reps, "--time", t, "--warm", warm,
                      "--tests", "rtt,oneway", (char *)NULL);
        _exit(127);
}

/* Run bench.py once and parse what it prints; 0 or -errno (res->why). */
static int run_script(struct bench *b, const char *python, const char *script, int mode,
                      struct py_results *res)
{
        /* per repetition: 2 transports x 2 tests, each a warm-up, a
         * measurement and a fork; generously */
        double budget = 60 + b->reps * 4 * (b->rep_s + b->warm_s + 3), end = now_s() + budget;
        char buf[8192];
        size_t len = 0;
        int p[2], st = 0, r = 0;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid = spawn_script(b, python, script, mode == PY_SAME, p[1]);
        safe_close(p[1]);
        if (pid < 0) {
                r = negative_errno();
                safe_close(p[0]);
                return r;
        }
        for (;;) {
                struct pollfd pfd = {.fd = p[0], .events = POLLIN};
                double left = end - now_s();
                ssize_t n;
                char *nl;

                if (left <= 0) {
                        r = -ETIMEDOUT;
                        break;
                }
                if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
                        continue;
                n = read(p[0], buf + len, sizeof(buf) - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t)n;
                buf[len] = 0;
                while ((nl = strchr(buf, '\n'))) {
                        *nl = 0;
                        vlog(b, "python %s: %s", py_mode[mode], buf);
                        parse_line(res, mode, buf);
                        len -= (size_t)(nl + 1 - buf);
                        memmove(buf, nl + 1, len + 1);
                }
                if (len == sizeof(buf) - 1)
                        len = 0; /* a line that long is nothing of ours */
        }
        safe_close(p[0]);
        if (r < 0) {
                kill_wait(pid);
                bprintf(res->why, sizeof(res->why), "bench.py timed out after %.0f s", budget);
                return r;
        }
        if (wait_child(pid, 10, &st) < 0) {
                kill_wait(pid);
                st = -1;
        }
        if (st != 0) {
                char log[512], last[160] = "";
                FILE *f;

                bprintf(log, sizeof(log), "%s/python.log", b->tmpdir);
                f = fopen(log, "re");
                while (f && fgets(buf, sizeof(buf), f))
                        if (buf[0] != '\n')
                                bprintf(last, sizeof(last), "%s", buf);
                if (f)
                        fclose(f);
                last[strcspn(last, "\n")] = 0;
                bprintf(res->why, sizeof(res->why), "%s %s failed (%s %d): %s", python, script,
                        st == -1 ? "no exit" : WIFEXITED(st) ? "exit status" : "signal",
                        st == -1 ? 0 : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                        last[0] ? last : "no message (--keep keeps python.log)");
                return -EIO;
        }
        return 0;
}

static struct stat3 series_stat(struct py_series *s)
{
        double v[PY_MAX_REPS];

        memcpy(v, s->v, sizeof(double) * s->n);
        return stat3_of(v, s->n);
}

static void ratio_cell(char *buf, size_t size, double num, double den)
{
        if (isfinite(num) && isfinite(den) && den > 0)
                bprintf(buf, size, "%.2fx", num / den);
        else
                bprintf(buf, size, "-");
}

/* The cell of one figure: "median [min..max]", or why there is none. */
static const char *cell(struct py_series *s, const char *skip, bool rate, struct stat3 *st,
                        char *buf, size_t size)
{
        char a[24], c[24], d[24];

        *st = (struct stat3){0};
        if (skip[0])
                return "skipped";
        if (s->n == 0)
                return s->failed ? "failed" : "-";
        *st = series_stat(s);
        if (rate)
                bprintf(buf, size, "%s [%s..%s]", fmt_rate(st->med, a, sizeof(a)),
                        fmt_rate(st->min, c, sizeof(c)), fmt_rate(st->max, d, sizeof(d)));
        else
                fmt_stat(st, 1, buf, size);
        return buf;
}

static void csv_pair(struct bench *b, const char *test, int i, const char *mode, const char *metric,
                     const char *unit, const struct stat3 *st, const char *skip, double zmq_med,
                     double c_med)
{
        if (skip[0] || !st->valid) {
                csv_row(b, "python", test, py_csv[i], mode, 64, metric, unit, NULL, 0,
                        skip[0] ? skip : "not measured");
                return;
        }
        if (i == PY_IPCD) {
                csv_row(b, "python", test, py_csv[i], mode, 64, metric, unit, st,
                        isfinite(zmq_med) ? st->med / zmq_med : 0, "python-zmq");
                csv_row(b, "python", test, py_csv[i], mode, 64, metric, unit, st,
                        isfinite(c_med) ? st->med / c_med : 0, "ipcd");
        } else {
                csv_row(b, "python", test, py_csv[i], mode, 64, metric, unit, st, 0, "");
        }
}

static void report_rtt(struct bench *b, struct py_results *res, const double c_rtt[PY_MODES])
{
        static const char *const label[PY_N] = {"Python, ipcd binding", "Python, pyzmq PAIR ipc://"};
        struct stat3 st[PY_MODES][PY_N];
        char cells[PY_MODES][PY_N][64], r1[PY_MODES][16], r2[PY_MODES][16];

        out(b, "-- round trip, 64 B (microseconds: median of the repetitions' medians [min..max]) --\n");
        out(b, "  %-34s %-24s %s\n", "transport", "same CPU", "unpinned");
        for (int i = 0; i < PY_N; i++) {
                const char *c0 = cell(&res->rtt[PY_SAME][i], res->skip[i], false, &st[PY_SAME][i],
                                      cells[PY_SAME][i], sizeof(cells[0][0]));
                const char *c1 = cell(&res->rtt[PY_UNPINNED][i], res->skip[i], false,
                                      &st[PY_UNPINNED][i], cells[PY_UNPINNED][i],
                                      sizeof(cells[0][0]));

                out(b, "  %-34s %-24s %s\n", label[i], c0, c1);
        }
        for (int m = 0; m < PY_MODES; m++) {
                double ipcd = st[m][PY_IPCD].valid ? st[m][PY_IPCD].med : NAN;
                double zmq = st[m][PY_ZMQ].valid ? st[m][PY_ZMQ].med : NAN;

                ratio_cell(r1[m], sizeof(r1[m]), ipcd, zmq);
                ratio_cell(r2[m], sizeof(r2[m]), ipcd, c_rtt[m]);
                for (int i = 0; i < PY_N; i++)
                        csv_pair(b, "rtt", i, py_mode[m], "p50", "us", &st[m][i], res->skip[i], zmq,
                                 c_rtt[m]);
        }
        out(b, "  %-34s %-24s %s\n", "binding / pyzmq", r1[PY_SAME], r1[PY_UNPINNED]);
        out(b, "  %-34s %-24s %s\n", "binding / C ipcd (section 1)", r2[PY_SAME], r2[PY_UNPINNED]);
        for (int m = 0; m < PY_MODES; m++)
                for (int i = 0; i < PY_N; i++)
                        if (res->rtt[m][i].failed)
                                out(b, "  (%s %s: %u repetition(s) failed: %s)\n", label[i],
                                    py_mode[m], res->rtt[m][i].failed, res->rtt[m][i].why);
}

static void report_oneway(struct bench *b, struct py_results *res, double c_oneway)
{
        static const char *const label[PY_N] = {"Python, ipcd binding",
                                                "Python, pyzmq PUSH/PULL ipc://"};
        struct stat3 st[PY_N];
        char cells[PY_N][96], r1[16], r2[16];

        out(b, "-- one-way, 64 B, unpinned (messages per second [min..max]) --\n");
        for (int i = 0; i < PY_N; i++) {
                struct py_series *s = &res->oneway[i];
                const char *c = cell(s, res->skip[i], true, &st[i], cells[i], sizeof(cells[i]));
                char lost[64] = "";

                if (s->n && s->sent > s->received)
                        bprintf(lost, sizeof(lost), "  lost %llu of %llu",
                                (unsigned long long)(s->sent - s->received),
                                (unsigned long long)s->sent);
                else if (s->n)
                        bprintf(lost, sizeof(lost), "  lost 0");
                out(b, "  %-34s %s%s\n", label[i], c, lost);
                if (s->failed)
                        out(b, "  (%u repetition(s) failed: %s)\n", s->failed, s->why);
        }
        ratio_cell(r1, sizeof(r1), st[PY_IPCD].valid ? st[PY_IPCD].med : NAN,
                   st[PY_ZMQ].valid ? st[PY_ZMQ].med : NAN);
        ratio_cell(r2, sizeof(r2), st[PY_IPCD].valid ? st[PY_IPCD].med : NAN, c_oneway);
        for (int i = 0; i < PY_N; i++)
                csv_pair(b, "oneway", i, "unpinned", "rate", "msgs/s", &st[i], res->skip[i],
                         st[PY_ZMQ].valid ? st[PY_ZMQ].med : NAN, c_oneway);
        out(b, "  %-34s %s\n", "binding / pyzmq", r1);
        out(b, "  %-34s %s\n", "binding / C ipcd (section 2)", r2);
}

int bench_python(struct bench *b, const double c_rtt_us[2], double c_oneway)
{
        const char *python = getenv("IPCD_BENCH_PYTHON"), *script = getenv("IPCD_BENCH_PY");
        _cleanup_free_ struct py_results *res = calloc(1, sizeof(*res));
        int r = 0;

        if (!res)
                return -ENOMEM;
        if (!python || !python[0])
                python = BENCH_PYTHON;
        if (!script || !script[0])
                script = BENCH_PY_SCRIPT;
        out(b, "\n== 8. Python binding, 64 B: ipcd through the binding against pyzmq ==\n");
        if (!python[0]) {
                bprintf(res->why, sizeof(res->why),
                        "skipped: the Python binding is not built (configure --enable-python; "
                        "Debian: python3-dev)");
        } else if (!drv_ipcd_available(b)) {
                bprintf(res->why, sizeof(res->why), "%s", b->ipcd_why);
        } else {
                for (int m = 0; m < PY_MODES && r == 0; m++) {
                        if (m == PY_SAME)
                                pin_tree(b->ipcd_pid, 0);
                        vlog(b, "python %s", py_mode[m]);
                        r = run_script(b, python, script, m, res);
                        if (m == PY_SAME)
                                pin_tree(b->ipcd_pid, -1);
                }
        }
        if (res->why[0]) {
                out(b, "  %s\n", res->why);
                csv_row(b, "python", "rtt", "python-ipcd", "", 64, "p50", "us", NULL, 0, res->why);
                return r < 0 ? r : 1;
        }
        out(b, "%s; A and B are two Python processes, the same ipcd as the C rows.\n",
            res->versions[0] ? res->versions : "python");
        out(b, "ipcd: Client.send / Client.recv (which waits in 100 ms slices, for Ctrl-C);\n"
               "pyzmq: PAIR (round trip) and PUSH/PULL (one-way) sockets over ipc://.\n");
        for (int i = 0; i < PY_N; i++)
                if (res->skip[i][0])
                        out(b, "  %s: %s\n", py_name[i], res->skip[i]);
        report_rtt(b, res, c_rtt_us);
        report_oneway(b, res, c_oneway);
        out(b, "  (round trip: above 1 is slower than the reference; one-way: above 1 is "
               "faster)\n");
        return 0;
}
