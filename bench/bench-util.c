/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-util.c - clocks, statistics, output, CPU pinning and /proc readers for ipcd-bench. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double now_s(void)
{
        return (double)now_ns() / 1e9;
}

volatile uint64_t bench_sink;

uint64_t touch_bytes(const void *p, size_t n)
{
        const unsigned char *c = p;
        uint64_t sum = 0, w;
        size_t i = 0;

        for (; i + 8 <= n; i += 8) {
                memcpy(&w, c + i, 8);
                sum += w;
        }
        for (; i < n; i++)
                sum += c[i];
        return sum;
}

void bprintf(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* Text output: stdout and the results file alike. */
void out(struct bench *b, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fflush(stdout);
        if (b->txt) {
                va_start(ap, fmt);
                vfprintf(b->txt, fmt, ap);
                va_end(ap);
                fflush(b->txt);
        }
}

/* Progress and diagnostics: stderr only, with --verbose. */
void vlog(struct bench *b, const char *fmt, ...)
{
        va_list ap;

        if (!b->verbose)
                return;
        va_start(ap, fmt);
        fputs("ipcd-bench: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

/* One CSV field, with its comma unless it is the last one.  Commas and
 * newlines in free text (reasons for a skip) become ';' and ' '. */
static void csv_put(FILE *f, const char *s, bool comma)
{
        for (; *s; s++)
                fputc(*s == ',' ? ';' : *s == '\n' ? ' ' : *s, f);
        if (comma)
                fputc(',', f);
}

static void csv_field(FILE *f, const char *s)
{
        csv_put(f, s, true);
}

void csv_row(struct bench *b, const char *section, const char *test, const char *transport,
             const char *mode, size_t size, const char *metric, const char *unit,
             const struct stat3 *s, double ratio, const char *ratio_to)
{
        if (!b->csv)
                return;
        csv_field(b->csv, section);
        csv_field(b->csv, test);
        csv_field(b->csv, transport);
        csv_field(b->csv, mode);
        fprintf(b->csv, "%zu,", size);
        csv_field(b->csv, metric);
        csv_field(b->csv, unit);
        if (s && s->valid)
                fprintf(b->csv, "%.6g,%.6g,%.6g,", s->med, s->min, s->max);
        else
                fputs(",,,", b->csv);
        if (ratio > 0 && isfinite(ratio))
                fprintf(b->csv, "%.4g,", ratio);
        else
                fputc(',', b->csv);
        csv_put(b->csv, ratio_to ? ratio_to : "", false);
        fputc('\n', b->csv);
        fflush(b->csv);
}

static const char *const section_words[] = {
    "latency",   "throughput", "bulk",   "fanout", "calls",
    "isolation", "scale",      "python", "bridge", NULL,
};

static bool is_section_word(const char *w)
{
        for (size_t i = 0; section_words[i]; i++)
                if (strcmp(section_words[i], w) == 0)
                        return true;
        return false;
}

/* --only: a list of section names and/or transport names.  A section
 * runs when no section is named or it is; a transport runs when no
 * transport is named or it is. */
bool only_names_section(const struct bench *b, const char *section)
{
        bool any = false;

        if (!b->only)
                return true;
        for (char **w = b->only; *w; w++) {
                if (!is_section_word(*w))
                        continue;
                any = true;
                if (strcmp(*w, section) == 0)
                        return true;
        }
        return !any;
}

/* Is word in the --only list?  (The bridge section runs only when named.) */
bool only_lists(const struct bench *b, const char *word)
{
        for (char **w = b->only; w && *w; w++)
                if (strcmp(*w, word) == 0)
                        return true;
        return false;
}

bool only_wants(const struct bench *b, const char *section, const char *transport)
{
        bool any = false;

        if (!only_names_section(b, section))
                return false;
        if (!b->only || !transport)
                return true;
        for (char **w = b->only; *w; w++) {
                if (is_section_word(*w))
                        continue;
                any = true;
                /* "ipcd" also selects ipcd-ring and ipcd-call, "dbus" both buses */
                if (strcmp(*w, transport) == 0 ||
                    (strncmp(*w, transport, strlen(*w)) == 0 && transport[strlen(*w)] == '-'))
                        return true;
        }
        return !any;
}

static int cmp_double(const void *x, const void *y)
{
        double a = *(const double *)x, c = *(const double *)y;

        return (a > c) - (a < c);
}

/* Nearest-rank percentile of a sorted array, p in [0, 100]. */
double percentile_sorted(const double *v, size_t n, double p)
{
        size_t k;

        if (n == 0)
                return NAN;
        k = (size_t)ceil(p / 100.0 * (double)n);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return v[k - 1];
}

/* Median, min and max of n values (sorts v). */
struct stat3 stat3_of(double *v, size_t n)
{
        struct stat3 s = {0};

        if (n == 0)
                return s;
        qsort(v, n, sizeof(double), cmp_double);
        s.min = v[0];
        s.max = v[n - 1];
        s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        s.valid = true;
        return s;
}

int pin_self(int cpu)
{
        cpu_set_t set;
        long n = sysconf(_SC_NPROCESSORS_CONF);

        CPU_ZERO(&set);
        if (cpu >= 0)
                CPU_SET(cpu, &set);
        else
                for (long i = 0; i < n && i < CPU_SETSIZE; i++)
                        CPU_SET(i, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
                return negative_errno();
        return 0;
}

static void pin_tasks(pid_t pid, const cpu_set_t *set)
{
        char path[64];
        DIR *d;
        struct dirent *de;

        bprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        d = opendir(path);
        if (!d) {
                (void)sched_setaffinity(pid, sizeof(*set), set);
                return;
        }
        while ((de = readdir(d))) {
                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                (void)sched_setaffinity((pid_t)atoi(de->d_name), sizeof(*set), set);
        }
        closedir(d);
}

static pid_t ppid_of(pid_t pid)
{
        char path[64], buf[512], *p;
        FILE *f;
        int ppid = 0;

        bprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (!fgets(buf, sizeof(buf), f)) {
                fclose(f);
                return 0;
        }
        fclose(f);
        p = strrchr(buf, ')'); /* comm may contain spaces */
        if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
                return 0;
        return (pid_t)ppid;
}

/* Pin pid, every thread of it and every descendant process (a D-Bus
 * launcher and its broker).  cpu < 0: every CPU again. */
void pin_tree(pid_t pid, int cpu)
{
        cpu_set_t set;
        long n = sysconf(_SC_NPROCESSORS_CONF);
        DIR *d;
        struct dirent *de;

        if (pid <= 0)
                return;
        CPU_ZERO(&set);
        if (cpu >= 0)
                CPU_SET(cpu, &set);
        else
                for (long i = 0; i < n && i < CPU_SETSIZE; i++)
                        CPU_SET(i, &set);
        pin_tasks(pid, &set);
        d = opendir("/proc");
        if (!d)
                return;
        while ((de = readdir(d))) {
                pid_t child;

                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                child = (pid_t)atoi(de->d_name);
                if (child != pid && ppid_of(child) == pid)
                        pin_tree(child, cpu);
        }
        closedir(d);
}

int write_file(const char *path, const char *s)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n;
        size_t len = strlen(s);

        if (fd < 0)
                return negative_errno();
        n = write(fd, s, len);
        if (n < 0) {
                int r = negative_errno();

                close(fd);
                return r;
        }
        close(fd);
        return (size_t)n == len ? 0 : -EIO;
}

long read_long_file(const char *path)
{
        FILE *f = fopen(path, "re");
        long v = -1;

        if (!f)
                return -1;
        if (fscanf(f, "%ld", &v) != 1)
                v = -1;
        fclose(f);
        return v;
}

static int status_file_field(const char *path, const char *key, long *ret)
{
        char line[256];
        size_t klen = strlen(key);
        FILE *f = fopen(path, "re");

        if (!f)
                return negative_errno();
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        *ret = strtol(line + klen + 1, NULL, 10);
                        fclose(f);
                        return 0;
                }
        }
        fclose(f);
        return -ENOENT;
}

int status_field(pid_t pid, const char *key, long *ret)
{
        char path[64];

        bprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        return status_file_field(path, key, ret);
}

/* Voluntary + involuntary context switches of every thread of pid: how
 * often it was scheduled out, i.e. how often it woke up. */
int ctxt_switches(pid_t pid, uint64_t *ret)
{
        char path[64];
        DIR *d;
        struct dirent *de;
        uint64_t sum = 0;

        bprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        d = opendir(path);
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                char p[128];
                long v;

                if (!isdigit((unsigned char)de->d_name[0]))
                        continue;
                bprintf(p, sizeof(p), "/proc/%d/task/%s/status", (int)pid, de->d_name);
                if (status_file_field(p, "voluntary_ctxt_switches", &v) == 0)
                        sum += (uint64_t)v;
                if (status_file_field(p, "nonvoluntary_ctxt_switches", &v) == 0)
                        sum += (uint64_t)v;
        }
        closedir(d);
        *ret = sum;
        return 0;
}

/* waitpid with a deadline; -ETIMEDOUT leaves the child running. */
int wait_child(pid_t pid, double timeout_s, int *status)
{
        double end = now_s() + timeout_s;

        for (;;) {
                pid_t r = waitpid(pid, status, WNOHANG);

                if (r == pid)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return negative_errno();
                if (now_s() > end)
                        return -ETIMEDOUT;
                usleep(2000);
        }
}

void kill_wait(pid_t pid)
{
        int st;

        if (pid <= 0)
                return;
        if (waitpid(pid, &st, WNOHANG) == pid)
                return;
        kill(pid, SIGTERM);
        if (wait_child(pid, 3.0, &st) == 0)
                return;
        kill(pid, SIGKILL);
        (void)waitpid(pid, &st, 0);
}

const char *fmt_rate(double v, char *buf, size_t size)
{
        if (!isfinite(v) || v <= 0)
                bprintf(buf, size, "-");
        else if (v >= 1e6)
                bprintf(buf, size, "%.2fM", v / 1e6);
        else if (v >= 1e3)
                bprintf(buf, size, "%.1fk", v / 1e3);
        else
                bprintf(buf, size, "%.0f", v);
        return buf;
}

const char *fmt_stat(const struct stat3 *s, int prec, char *buf, size_t size)
{
        if (!s->valid)
                bprintf(buf, size, "-");
        else
                bprintf(buf, size, "%.*f [%.*f..%.*f]", prec, s->med, prec, s->min, prec, s->max);
        return buf;
}
