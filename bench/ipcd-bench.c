/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipcd-bench - measure ipcd against its baselines and peers, side by side
 * in one run, and print every figure with its ratio to the reference
 * measured in that same run (absolute times on a shared 2-core VM are
 * noise; ratios are what carry over).  See README.md, "Benchmark".
 *
 * Sections (issue 6): 1 round-trip latency, 2 one-way throughput (plain
 * and with sender batching, IPCD_MORE), 3 bulk, 4 fan-out, 5 calls,
 * 6 isolation, 7 scale; 8 the Python binding against pyzmq (issue 15);
 * then the targets.  9, only with --bridge (issue 14): topics across two
 * IPC namespaces through ipcd-bridge and NATS, against NATS alone.  A feature the daemon answers
 * with an error is reported with that error instead of a figure.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MSGMNB_BENCH 1048576L /* per-queue bytes in the private namespace */
#define MSGMAX_BENCH 65536L   /* largest message in it */

enum { MODE_SAME, MODE_UNPINNED, N_MODES };

static const char *const mode_key[N_MODES] = {"same-cpu", "unpinned"};

/* Section 1: ipcd first (the reference of the "vs ipcd" column), the
 * floor second (the reference of "vs floor"). */
static const struct transport *const lat_transports[] = {
    &transport_ipcd, &transport_floor, &transport_floor_batch, &transport_sysv,
    &transport_pipe, &transport_unix,  &transport_dbus_broker, &transport_dbus_daemon,
    &transport_chan_spin, &transport_shm_spin, &transport_chan_futex, &transport_shm_futex,
};
#define N_LAT ELEMENTSOF(lat_transports)

static const struct transport *const thr_transports[] = {
    &transport_ipcd,      &transport_floor,       &transport_floor_batch,
    &transport_ipcd_more, &transport_floor_more,  &transport_sysv,
    &transport_unix,      &transport_dbus_broker, &transport_zmq,
    &transport_chan,
};
#define N_THR ELEMENTSOF(thr_transports)

static const size_t thr_sizes[] = {64, 1024};
#define N_SIZES ELEMENTSOF(thr_sizes)

#define MAX_REPS 32

static struct lat_result lat[N_MODES][N_LAT];
static bool lat_ran[N_MODES][N_LAT], lat_skip[N_MODES][N_LAT];
static unsigned lat_n[N_MODES][N_LAT], lat_fail[N_MODES][N_LAT];
static double lat_v[N_MODES][N_LAT][3][MAX_REPS]; /* p50, p99, p99.9 per repetition */
static struct thr_result thr[N_SIZES][N_THR];
static bool thr_ran[N_SIZES][N_THR], thr_skip[N_SIZES][N_THR];
static unsigned thr_n[N_SIZES][N_THR], thr_fail[N_SIZES][N_THR];
static double thr_v[N_SIZES][N_THR][MAX_REPS];
static double calls_p50[N_MODES] = {NAN, NAN};

static pid_t worker;

static void forward_term(int sig)
{
        if (worker > 0)
                kill(worker, SIGTERM);
}

static bool on_tmpfs(const char *path)
{
        struct statfs sf;

        return statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

static size_t lat_index(const char *name)
{
        for (size_t i = 0; i < N_LAT; i++)
                if (strcmp(lat_transports[i]->name, name) == 0)
                        return i;
        abort();
}

static size_t thr_index(const char *name)
{
        for (size_t i = 0; i < N_THR; i++)
                if (strcmp(thr_transports[i]->name, name) == 0)
                        return i;
        abort();
}

static void help(void)
{
        printf("Usage: ipcd-bench [OPTIONS]\n"
               "Measure ipcd against its baselines (two-hop floor, System V queue, pipe,\n"
               "Unix socket) and peers (D-Bus through dbus-broker and dbus-daemon, ZeroMQ)\n"
               "in one run; every figure is printed with its ratio to the reference.\n\n"
               "  --quick          short run (smoke test; figures are rough)\n"
               "  --only LIST      comma-separated sections and/or transports:\n"
               "                   latency throughput bulk fanout calls isolation scale python\n"
               "                   ipcd ipcd-more ipcd-ring ipcd-ring-ack ipcd-call floor\n"
               "                   floor-batch floor-more sysv pipe unix unix-stream memcpy\n"
               "                   dbus-broker dbus-daemon zmq chan chan-spin chan-futex\n"
               "                   shm-spin shm-futex; with --bridge: ipcd-bridge nats\n"
               "                   (a prefix before '-' selects all: ipcd, floor, unix, dbus)\n"
               "  --bridge         section 9 (not in the default run; same as the section\n"
               "                   word bridge in --only): topics between two IPC namespaces\n"
               "                   through ipcd-bridge and a nats-server it starts, against a\n"
               "                   direct NATS pair; exits 77 when it cannot run (no libnats,\n"
               "                   nats-server or ipcd-bridge, or not root)\n"
               "  --out DIR        write DIR/latest.txt and DIR/latest.csv\n"
               "  --csv FILE       write the CSV here (default with --out: DIR/latest.csv)\n"
               "  --reps N         measured repetitions (default 5, --quick 2)\n"
               "  --time SEC       seconds per repetition (default 0.5, --quick 0.1)\n"
               "  --no-unshare     stay in the current IPC namespace\n"
               "  --keep           keep the scratch directory (logs, configs)\n"
               "  -v, --verbose    progress on stderr\n"
               "  -h, --help\n\n"
               "Environment: IPCD = the ipcd binary (default: ../src/ipcd/ipcd next to\n"
               "this program); IPCD_BRIDGE = ipcd-bridge (default: ../src/bridge/ipcd-bridge);\n"
               "NATS_SERVER = nats-server (default: from PATH, /usr/sbin).  Root is needed for\n"
               "a private IPC namespace with big queues, for dbus-broker-launch where\n"
               "journald is not running, and for --bridge (a second IPC namespace).\n");
}

static char **split_list(const char *s, char **old)
{
        size_t n = 0, m;
        char *copy, *tok, *save = NULL;
        char **v;

        if (old)
                while (old[n])
                        n++;
        m = n;
        v = realloc(old, (n + strlen(s) + 2) * sizeof(char *));
        if (!v)
                return old;
        copy = strdup(s);
        if (!copy)
                return v;
        for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
                v[m++] = strdup(tok);
        v[m] = NULL;
        free(copy);
        return v;
}

/* The --only list, freed at exit (LeakSanitizer checks after this). */
static char **only_words;

static void free_only_words(void)
{
        for (char **w = only_words; w && *w; w++)
                free(*w);
        free(only_words);
        only_words = NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)remove(path);
        return 0;
}

static void cpu_model(char *buf, size_t size)
{
        char line[512];
        FILE *f = fopen("/proc/cpuinfo", "re");

        bprintf(buf, size, "unknown CPU");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char *colon = strchr(line, ':');

                if (strncmp(line, "model name", 10) != 0 || !colon)
                        continue;
                colon += 1 + strspn(colon + 1, " \t");
                colon[strcspn(colon, "\n")] = 0;
                bprintf(buf, size, "%s", colon);
                break;
        }
        fclose(f);
}

/* A private IPC namespace: our objects cannot collide with anything, and
 * root may raise kernel.msgmnb/msgmax there (and only there) so that
 * queue sizes are not what is measured. */
static void setup_namespace(struct bench *b)
{
        long mnb0 = read_long_file("/proc/sys/kernel/msgmnb");
        long max0 = read_long_file("/proc/sys/kernel/msgmax");
        char v[32];
        int r1, r2;

        b->msgmnb = mnb0;
        b->msgmax = max0;
        if (b->no_unshare) {
                bprintf(b->ns_note, sizeof(b->ns_note),
                        "the caller's (--no-unshare); kernel.msgmnb %ld, kernel.msgmax %ld", mnb0,
                        max0);
                return;
        }
        if (unshare(CLONE_NEWIPC) < 0) {
                bprintf(b->ns_note, sizeof(b->ns_note),
                        "the caller's (unshare(CLONE_NEWIPC): %m; run as root for a private one); "
                        "kernel.msgmnb %ld, kernel.msgmax %ld",
                        mnb0, max0);
                return;
        }
        b->private_ipc_ns = true;
        bprintf(v, sizeof(v), "%ld", MSGMAX_BENCH);
        r2 = write_file("/proc/sys/kernel/msgmax", v);
        bprintf(v, sizeof(v), "%ld", MSGMNB_BENCH);
        r1 = write_file("/proc/sys/kernel/msgmnb", v);
        b->msgmnb = read_long_file("/proc/sys/kernel/msgmnb");
        b->msgmax = read_long_file("/proc/sys/kernel/msgmax");
        if (r1 == 0 && r2 == 0)
                bprintf(b->ns_note, sizeof(b->ns_note),
                        "private (unshare CLONE_NEWIPC); raised in it: kernel.msgmnb %ld -> %ld "
                        "bytes per queue, kernel.msgmax %ld -> %ld",
                        mnb0, b->msgmnb, max0, b->msgmax);
        else
                bprintf(b->ns_note, sizeof(b->ns_note),
                        "private (unshare CLONE_NEWIPC); could not raise its limits (%s): "
                        "kernel.msgmnb %ld, kernel.msgmax %ld",
                        strerror(-(r1 ? r1 : r2)), b->msgmnb, b->msgmax);
}

static const char *loadavg(char *buf, size_t size)
{
        FILE *f = fopen("/proc/loadavg", "re");
        double l1 = 0, l5 = 0, l15 = 0;

        if (!f || fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) != 3)
                bprintf(buf, size, "unknown");
        else
                bprintf(buf, size, "%.2f %.2f %.2f", l1, l5, l15);
        if (f)
                fclose(f);
        return buf;
}

static void header(struct bench *b)
{
        struct utsname u;
        char cpu[256], date[64];
        time_t t = time(NULL);
        struct tm tm;

        uname(&u);
        cpu_model(cpu, sizeof(cpu));
        gmtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);

        out(b, "ipcd-bench %s: ipcd and its baselines in one run%s\n", PACKAGE_VERSION,
            b->quick ? " (--quick: rough figures)" : "");
        out(b, "Date: %s.  Machine: %s, %d CPUs, Linux %s %s\n", date, cpu, b->ncpus, u.release,
            u.machine);
        out(b, "IPC namespace: %s\n", b->ns_note);
        out(b, "Scratch and ipcd runtime directory: %s (%s)\n", b->tmpdir,
            on_tmpfs(b->tmpdir) ? "tmpfs"
                                : "not tmpfs: registration figures include the file system");
        out(b, "Load average at the start: %s (other work on the machine widens [min..max])\n",
            loadavg(date, sizeof(date)));
        out(b,
            "Method: %u repetitions of %.2f s, each after a %.2f s warm-up; a figure is the\n"
            "median of the repetitions [min..max]; sections 1 and 2 interleave the repetitions\n"
            "of their transports; every ratio is between figures of this run.\n",
            b->reps, b->rep_s, b->warm_s);
}

static void lat_section(struct bench *b)
{
        unsigned nran = 0;

        out(b, "\n== 1. Round-trip latency, 64 B payload (microseconds) ==\n");
        out(b, "A sends, B answers with the same payload; ipcd: by name through the broker.\n");
        /* Repetitions interleaved: repetition k of every transport runs
         * before repetition k+1 of any, so that a change in the machine's
         * load during the run shifts all of them alike, not one. */
        for (unsigned rep = 0; rep < b->reps; rep++)
                for (int m = 0; m < N_MODES; m++)
                        for (size_t i = 0; i < N_LAT; i++) {
                                const struct transport *t = lat_transports[i];
                                struct lat_result one;
                                unsigned saved = b->reps;
                                int r;

                                if (!only_wants(b, "latency", t->name) || lat_skip[m][i])
                                        continue;
                                if (t->spins && m == MODE_SAME) {
                                        lat_skip[m][i] = lat_ran[m][i] = true;
                                        bprintf(lat[m][i].why, sizeof(lat[m][i].why),
                                                "(spins: measured on two CPUs only)");
                                        continue;
                                }
                                vlog(b, "latency %s %s, repetition %u", t->name, mode_key[m],
                                     rep + 1);
                                if (!lat_ran[m][i])
                                        nran++;
                                lat_ran[m][i] = true;
                                b->reps = 1;
                                r = run_latency(b, t, m == MODE_SAME, 64, &one);
                                b->reps = saved;
                                if (r == 1) { /* not available: say so once */
                                        lat_skip[m][i] = true;
                                        bprintf(lat[m][i].why, sizeof(lat[m][i].why), "%s",
                                                one.why);
                                        continue;
                                }
                                if (r < 0 || !one.ok) {
                                        lat_fail[m][i]++;
                                        bprintf(lat[m][i].why, sizeof(lat[m][i].why), "%s",
                                                one.why);
                                        continue;
                                }
                                lat_v[m][i][0][lat_n[m][i]] = one.p50.med;
                                lat_v[m][i][1][lat_n[m][i]] = one.p99.med;
                                lat_v[m][i][2][lat_n[m][i]] = one.p999.med;
                                lat_n[m][i]++;
                                lat[m][i].samples += one.samples;
                        }
        for (int m = 0; m < N_MODES; m++)
                for (size_t i = 0; i < N_LAT; i++) {
                        unsigned n = lat_n[m][i];

                        if (n == 0)
                                continue;
                        lat[m][i].p50 = stat3_of(lat_v[m][i][0], n);
                        lat[m][i].p99 = stat3_of(lat_v[m][i][1], n);
                        lat[m][i].p999 = stat3_of(lat_v[m][i][2], n);
                        lat[m][i].ok = true;
                }
        if (!nran) {
                out(b, "  (no transport of this section selected by --only)\n");
                return;
        }
        for (int m = 0; m < N_MODES; m++) {
                const struct lat_result *ref_ipcd = &lat[m][0], *ref_floor = &lat[m][1];

                out(b, "-- %s --\n",
                    m == MODE_SAME ? "same CPU: clients, forwarder and broker all pinned to CPU 0"
                                   : "unpinned: the scheduler places every process");
                out(b, "  %-32s %-22s %-22s %-22s %-8s %s\n", "transport", "median", "p99", "p99.9",
                    "vs ipcd", "vs floor");
                for (size_t i = 0; i < N_LAT; i++) {
                        const struct lat_result *r = &lat[m][i];
                        const struct transport *t = lat_transports[i];
                        char s1[64], s2[64], s3[64], v1[16] = "-", v2[16] = "-";
                        double ri = NAN, rf = NAN;

                        if (!lat_ran[m][i])
                                continue;
                        if (!r->ok) {
                                out(b, "  %-32s %s\n", t->label, r->why);
                                csv_row(b, "latency", "rtt", t->name, mode_key[m], 64, "p50", "us",
                                        NULL, 0, r->why);
                                continue;
                        }
                        if (ref_ipcd->ok) {
                                ri = r->p50.med / ref_ipcd->p50.med;
                                bprintf(v1, sizeof(v1), "%.2fx", ri);
                        }
                        if (ref_floor->ok) {
                                rf = r->p50.med / ref_floor->p50.med;
                                bprintf(v2, sizeof(v2), "%.2fx", rf);
                        }
                        out(b, "  %-32s %-22s %-22s %-22s %-8s %s\n", t->label,
                            fmt_stat(&r->p50, 1, s1, sizeof(s1)),
                            fmt_stat(&r->p99, 1, s2, sizeof(s2)),
                            fmt_stat(&r->p999, 1, s3, sizeof(s3)), v1, v2);
                        csv_row(b, "latency", "rtt", t->name, mode_key[m], 64, "p50", "us", &r->p50,
                                i == 0 ? rf : ri, i == 0 ? "floor" : "ipcd");
                        csv_row(b, "latency", "rtt", t->name, mode_key[m], 64, "p99", "us", &r->p99,
                                0, "");
                        csv_row(b, "latency", "rtt", t->name, mode_key[m], 64, "p99.9", "us",
                                &r->p999, 0, "");
                        if (lat_fail[m][i])
                                out(b, "  %-32s (%u of %u repetitions failed: %s)\n", "",
                                    lat_fail[m][i], b->reps, r->why);
                }
        }
        out(b, "  (vs X: this median / X's median: above 1 is slower than X)\n");
}

static void thr_section(struct bench *b)
{
        unsigned nran = 0;

        out(b, "\n== 2. One-way throughput (messages per second, unpinned) ==\n");
        out(b,
            "A sends as fast as the transport accepts, B receives; rate = received / time.\n"
            "IPCD_MORE: A sends with it, and without it every %d messages (the library packs\n"
            "the held ones into one queue message).  Sender batches: the floor's A packs %d\n"
            "messages into one queue message; its plain forwarder moves each batch whole.\n",
            SENDER_BATCH, SENDER_BATCH);
        for (unsigned rep = 0; rep < b->reps; rep++) /* interleaved, as in section 1 */
                for (size_t s = 0; s < N_SIZES; s++)
                        for (size_t i = 0; i < N_THR; i++) {
                                const struct transport *t = thr_transports[i];
                                struct thr_result one;
                                unsigned saved = b->reps;
                                int r;

                                if (!only_wants(b, "throughput", t->name) || thr_skip[s][i])
                                        continue;
                                vlog(b, "throughput %s %zu B, repetition %u", t->name, thr_sizes[s],
                                     rep + 1);
                                if (!thr_ran[s][i])
                                        nran++;
                                thr_ran[s][i] = true;
                                b->reps = 1;
                                r = run_throughput(b, t, false, thr_sizes[s], &one);
                                b->reps = saved;
                                if (r == 1) {
                                        thr_skip[s][i] = true;
                                        bprintf(thr[s][i].why, sizeof(thr[s][i].why), "%s",
                                                one.why);
                                        continue;
                                }
                                if (r < 0 || !one.ok) {
                                        thr_fail[s][i]++;
                                        bprintf(thr[s][i].why, sizeof(thr[s][i].why), "%s",
                                                one.why);
                                        continue;
                                }
                                thr_v[s][i][thr_n[s][i]++] = one.rate.med;
                                thr[s][i].sent += one.sent;
                                thr[s][i].received += one.received;
                        }
        for (size_t s = 0; s < N_SIZES; s++)
                for (size_t i = 0; i < N_THR; i++)
                        if (thr_n[s][i]) {
                                thr[s][i].rate = stat3_of(thr_v[s][i], thr_n[s][i]);
                                thr[s][i].ok = true;
                        }
        if (!nran) {
                out(b, "  (no transport of this section selected by --only)\n");
                return;
        }
        for (size_t s = 0; s < N_SIZES; s++) {
                const struct thr_result *ref_ipcd = &thr[s][0], *ref_floor = &thr[s][1];

                out(b, "-- %zu B payload --\n", thr_sizes[s]);
                out(b, "  %-32s %-28s %-9s %-8s %-9s %s\n", "transport", "msgs/s [min..max]",
                    "MB/s", "vs ipcd", "vs floor", "lost");
                for (size_t i = 0; i < N_THR; i++) {
                        const struct thr_result *r = &thr[s][i];
                        const struct transport *t = thr_transports[i];
                        char a[24], c[24], d[24], buf[96], v1[16] = "-", v2[16] = "-",
                                                           lost[48] = "0";
                        double ri = NAN, rf = NAN;

                        if (!thr_ran[s][i])
                                continue;
                        if (!r->ok) {
                                out(b, "  %-32s %s\n", t->label, r->why);
                                csv_row(b, "throughput", "oneway", t->name, "unpinned",
                                        thr_sizes[s], "rate", "msgs/s", NULL, 0, r->why);
                                continue;
                        }
                        if (ref_ipcd->ok) {
                                ri = r->rate.med / ref_ipcd->rate.med;
                                bprintf(v1, sizeof(v1), "%.2fx", ri);
                        }
                        if (ref_floor->ok) {
                                rf = r->rate.med / ref_floor->rate.med;
                                bprintf(v2, sizeof(v2), "%.2fx", rf);
                        }
                        if (r->sent > r->received)
                                bprintf(lost, sizeof(lost), "%llu of %llu (%.2g%%)",
                                        (unsigned long long)(r->sent - r->received),
                                        (unsigned long long)r->sent,
                                        100.0 * (double)(r->sent - r->received) / (double)r->sent);
                        bprintf(buf, sizeof(buf), "%s [%s..%s]",
                                fmt_rate(r->rate.med, a, sizeof(a)),
                                fmt_rate(r->rate.min, c, sizeof(c)),
                                fmt_rate(r->rate.max, d, sizeof(d)));
                        out(b, "  %-32s %-28s %-9.1f %-8s %-9s %s\n", t->label, buf,
                            r->rate.med * (double)thr_sizes[s] / 1e6, v1, v2, lost);
                        csv_row(b, "throughput", "oneway", t->name, "unpinned", thr_sizes[s],
                                "rate", "msgs/s", &r->rate, i == 0 ? rf : ri,
                                i == 0 ? "floor" : "ipcd");
                        if (thr_fail[s][i])
                                out(b, "  %-32s (%u of %u repetitions failed: %s)\n", "",
                                    thr_fail[s][i], b->reps, r->why);
                }
        }
        out(b, "  (vs X: this rate / X's rate: above 1 is faster than X; lost: sent but never "
               "received)\n");
}

/* Section 3: bulk payloads.  The receiver reads every byte (in place in
 * the ring; in its buffer after read() otherwise).  memcpy is one copy
 * plus that read, in one process: what any one-copy transport pays at
 * least. */
static const struct transport *const bulk_transports[] = {
    &transport_ipcd_ring,
    &transport_ipcd_ring_ack,
    &transport_unix_stream,
    &transport_pipe,
    &transport_floor_shm,
};
#define BULK_UNIX 2  /* the references: the Unix stream socket, */
#define BULK_FLOOR 4 /* and the same ring design without a broker */
#define N_BULK ELEMENTSOF(bulk_transports)
static const size_t bulk_sizes[] = {65536, 1048576, 4194304};
#define N_BULK_SIZES ELEMENTSOF(bulk_sizes)
static struct thr_result bulk[N_BULK_SIZES][N_BULK];
static bool bulk_ran[N_BULK_SIZES][N_BULK];

static struct stat3 memcpy_rate(struct bench *b, size_t size)
{
        double rate[MAX_REPS];
        char *src = malloc(size), *dst = malloc(size);
        unsigned n = 0;

        if (!src || !dst) {
                free(src);
                free(dst);
                return (struct stat3){0};
        }
        memset(src, 0x5a, size);
        memset(dst, 0, size);
        for (unsigned rep = 0; rep <= b->reps; rep++) {
                double start = now_s(), stop = start + (rep == 0 ? b->warm_s : b->rep_s), t;
                uint64_t k = 0;

                do {
                        memcpy(dst, src, size);
                        bench_sink += touch_bytes(dst, size);
                        k++;
                        t = now_s();
                } while (t < stop);
                if (rep > 0)
                        rate[n++] = (double)k / (t - start);
        }
        free(src);
        free(dst);
        return stat3_of(rate, n);
}

static void bulk_section(struct bench *b)
{
        unsigned saved_reps = b->reps;
        double saved_rep = b->rep_s;
        struct stat3 mc[N_BULK_SIZES] = {{0}};
        size_t iu = BULK_UNIX;

        out(b, "\n== 3. Bulk one-way throughput (unpinned; the receiver reads every byte) ==\n");
        out(b, "ipcd ring: plain ipcd_send_buf; past its window of ring bytes (a lane; chunks\n"
               "still queued count) the sender waits for releases (flow control).\n"
               "IPCD_ACK each: every chunk sent with IPCD_ACK and sent again on -EAGAIN\n"
               "(backpressure, nothing lost).  Floor: one System V shm ring, a descriptor\n"
               "message per chunk and a release message back, no broker (producer copies\n"
               "in, consumer reads every byte in place).\n");
        /* Fewer, shorter repetitions: the budget of `make bench`. */
        b->reps = MIN(b->reps, 3u);
        b->rep_s = MIN(b->rep_s, 0.4);
        for (size_t s = 0; s < N_BULK_SIZES; s++) {
                if (only_wants(b, "bulk", "memcpy"))
                        mc[s] = memcpy_rate(b, bulk_sizes[s]);
                for (size_t i = 0; i < N_BULK; i++) {
                        const struct transport *t = bulk_transports[i];

                        if (!only_wants(b, "bulk", t->name))
                                continue;
                        vlog(b, "bulk %s %zu B", t->name, bulk_sizes[s]);
                        bulk_ran[s][i] = true;
                        (void)run_throughput(b, t, false, bulk_sizes[s], &bulk[s][i]);
                }
        }
        out(b, "%u repetitions of %.2f s here.\n", b->reps, b->rep_s);
        b->reps = saved_reps;
        b->rep_s = saved_rep;
        for (size_t s = 0; s < N_BULK_SIZES; s++) {
                const struct thr_result *ref = &bulk[s][iu], *fl = &bulk[s][BULK_FLOOR];

                out(b, "-- %zu KiB --\n", bulk_sizes[s] / 1024);
                out(b, "  %-32s %-28s %-9s %-9s %-9s %s\n", "transport", "msgs/s [min..max]",
                    "MB/s", "vs Unix", "vs floor", "lost");
                if (mc[s].valid) {
                        char a[24], c[24], d[24], buf[96];

                        bprintf(buf, sizeof(buf), "%s [%s..%s]", fmt_rate(mc[s].med, a, sizeof(a)),
                                fmt_rate(mc[s].min, c, sizeof(c)),
                                fmt_rate(mc[s].max, d, sizeof(d)));
                        out(b, "  %-32s %-28s %-9.0f %-9s\n", "memcpy + read (one process)", buf,
                            mc[s].med * (double)bulk_sizes[s] / 1e6,
                            ref->ok ? (bprintf(c, sizeof(c), "%.2fx", mc[s].med / ref->rate.med), c)
                                    : "-");
                        csv_row(b, "bulk", "oneway", "memcpy", "", bulk_sizes[s], "rate", "msgs/s",
                                &mc[s], ref->ok ? mc[s].med / ref->rate.med : 0, "unix-stream");
                }
                for (size_t i = 0; i < N_BULK; i++) {
                        const struct thr_result *r = &bulk[s][i];
                        const struct transport *t = bulk_transports[i];
                        char a[24], c[24], d[24], buf[96], v[16] = "-", vf[16] = "-";
                        char lost[48] = "0";

                        if (!bulk_ran[s][i])
                                continue;
                        if (!r->ok) {
                                out(b, "  %-32s %s\n", t->label, r->why);
                                csv_row(b, "bulk", "oneway", t->name, "unpinned", bulk_sizes[s],
                                        "rate", "msgs/s", NULL, 0, r->why);
                                continue;
                        }
                        if (ref->ok)
                                bprintf(v, sizeof(v), "%.2fx", r->rate.med / ref->rate.med);
                        if (fl->ok && bulk_ran[s][BULK_FLOOR])
                                bprintf(vf, sizeof(vf), "%.2fx", r->rate.med / fl->rate.med);
                        if (r->sent > r->received)
                                bprintf(lost, sizeof(lost), "%llu of %llu (%.2g%%)",
                                        (unsigned long long)(r->sent - r->received),
                                        (unsigned long long)r->sent,
                                        100.0 * (double)(r->sent - r->received) / (double)r->sent);
                        bprintf(buf, sizeof(buf), "%s [%s..%s]",
                                fmt_rate(r->rate.med, a, sizeof(a)),
                                fmt_rate(r->rate.min, c, sizeof(c)),
                                fmt_rate(r->rate.max, d, sizeof(d)));
                        out(b, "  %-32s %-28s %-9.0f %-9s %-9s %s\n", t->label, buf,
                            r->rate.med * (double)bulk_sizes[s] / 1e6, v, vf, lost);
                        csv_row(b, "bulk", "oneway", t->name, "unpinned", bulk_sizes[s], "rate",
                                "msgs/s", &r->rate, ref->ok ? r->rate.med / ref->rate.med : 0,
                                "unix-stream");
                }
        }
        out(b, "  (vs Unix / vs floor: this rate / the Unix stream socket's / the floor's; above 1 "
               "is faster)\n");
}

/* Section 5: ipcd_call against D-Bus method calls (section 1's D-Bus
 * rows are method calls already: they are the reference). */
static void calls_section(struct bench *b)
{
        struct lat_result res[N_MODES];
        size_t ib = lat_index("dbus-broker"), id = lat_index("dbus-daemon"), iu = lat_index("ipcd");

        out(b, "\n== 5. Calls: ipcd_call round trip, 64 B (microseconds) ==\n");
        out(b, "A ipcd_call()s B, B answers with ipcd_reply(); D-Bus rows of section 1 are method "
               "calls.\n");
        for (int m = 0; m < N_MODES; m++) {
                vlog(b, "calls %s", mode_key[m]);
                (void)run_latency(b, &transport_ipcd_call, m == MODE_SAME, 64, &res[m]);
        }
        out(b, "  %-10s %-22s %-22s %-22s %-9s %-13s %s\n", "mode", "median", "p99", "p99.9",
            "/ unicast", "dbus-broker /", "dbus-daemon /");
        for (int m = 0; m < N_MODES; m++) {
                const struct lat_result *r = &res[m];
                char s1[64], s2[64], s3[64], v1[16] = "-", v2[16] = "-", v3[16] = "-";

                if (!r->ok) {
                        out(b, "  %-10s %s\n", mode_key[m], r->why);
                        csv_row(b, "calls", "rtt", "ipcd-call", mode_key[m], 64, "p50", "us", NULL,
                                0, r->why);
                        continue;
                }
                if (lat[m][iu].ok)
                        bprintf(v1, sizeof(v1), "%.2fx", r->p50.med / lat[m][iu].p50.med);
                if (lat[m][ib].ok)
                        bprintf(v2, sizeof(v2), "%.2fx", lat[m][ib].p50.med / r->p50.med);
                if (lat[m][id].ok)
                        bprintf(v3, sizeof(v3), "%.2fx", lat[m][id].p50.med / r->p50.med);
                out(b, "  %-10s %-22s %-22s %-22s %-9s %-13s %s\n", mode_key[m],
                    fmt_stat(&r->p50, 1, s1, sizeof(s1)), fmt_stat(&r->p99, 1, s2, sizeof(s2)),
                    fmt_stat(&r->p999, 1, s3, sizeof(s3)), v1, v2, v3);
                csv_row(b, "calls", "rtt", "ipcd-call", mode_key[m], 64, "p50", "us", &r->p50,
                        lat[m][ib].ok ? lat[m][ib].p50.med / r->p50.med : 0, "dbus-broker");
                csv_row(b, "calls", "rtt", "ipcd-call", mode_key[m], 64, "p99", "us", &r->p99, 0,
                        "");
                csv_row(b, "calls", "rtt", "ipcd-call", mode_key[m], 64, "p99.9", "us", &r->p999, 0,
                        "");
                calls_p50[m] = r->p50.med;
        }
        out(b, "  (/ unicast: ipcd_call / section 1's ipcd unicast; dbus-X /: D-Bus call / "
               "ipcd_call, above 1: ipcd faster)\n");
}

static void target(struct bench *b, const char *what, double v, const char *op, double goal,
                   const char *note)
{
        const char *verdict;

        if (!isfinite(v))
                verdict = "not measured";
        else if (strcmp(op, "<=") == 0)
                verdict = v <= goal ? "met" : "NOT met";
        else
                verdict = v >= goal ? "met" : "NOT met";
        if (isfinite(v))
                out(b, "  %-52s %8.2f  %s %-5g %s%s%s\n", what, v, op, goal, verdict,
                    note ? "  " : "", note ? note : "");
        else
                out(b, "  %-52s %8s  %s %-5g %s%s%s\n", what, "-", op, goal, verdict,
                    note ? "  " : "", note ? note : "");
        if (b->csv) {
                struct stat3 s = {v, v, v, isfinite(v)};

                csv_row(b, "targets", what, "ipcd", "", 0, verdict, op, &s, goal, "goal");
        }
}

static double lat_ratio(int m, const char *num_name, const char *den_name)
{
        size_t num = lat_index(num_name), den = lat_index(den_name);

        if (!lat[m][num].ok || !lat[m][den].ok)
                return NAN;
        return lat[m][num].p50.med / lat[m][den].p50.med;
}

static double thr_ratio(size_t s, const char *num_name, const char *den_name)
{
        size_t num = thr_index(num_name), den = thr_index(den_name);

        if (!thr[s][num].ok || !thr[s][den].ok)
                return NAN;
        return thr[s][num].rate.med / thr[s][den].rate.med;
}

static void targets(struct bench *b)
{
        out(b, "\n== Targets (issue 6), from the figures above ==\n");
        target(b, "round trip ipcd / floor (same CPU)", lat_ratio(MODE_SAME, "ipcd", "floor"),
               "<=", 1.25, NULL);
        target(b, "round trip ipcd / batching floor (same CPU)",
               lat_ratio(MODE_SAME, "ipcd", "floor-batch"), "<=", 1.25, NULL);
        target(b, "round trip dbus-broker / ipcd (same CPU)",
               lat_ratio(MODE_SAME, "dbus-broker", "ipcd"), ">=", 2.5, NULL);
        for (size_t s = 0; s < N_SIZES; s++) {
                char what[96];

                bprintf(what, sizeof(what), "one-way %zu B: ipcd / floor", thr_sizes[s]);
                target(b, what, thr_ratio(s, "ipcd", "floor"), ">=", 0.8, NULL);
                bprintf(what, sizeof(what), "one-way %zu B: ipcd / batching floor", thr_sizes[s]);
                target(b, what, thr_ratio(s, "ipcd", "floor-batch"), ">=", 0.8, NULL);
                bprintf(what, sizeof(what), "one-way %zu B: ipcd / dbus-broker", thr_sizes[s]);
                target(b, what, thr_ratio(s, "ipcd", "dbus-broker"), ">=", 10, NULL);
                bprintf(what, sizeof(what), "one-way %zu B: ipcd IPCD_MORE / dbus-broker",
                        thr_sizes[s]);
                target(b, what, thr_ratio(s, "ipcd-more", "dbus-broker"), ">=", 10, NULL);
                bprintf(what, sizeof(what), "one-way %zu B: ipcd IPCD_MORE / ZeroMQ", thr_sizes[s]);
                target(b, what, thr_ratio(s, "ipcd-more", "zmq"), ">=", 1, NULL);
                bprintf(what, sizeof(what), "one-way %zu B: ipcd IPCD_MORE / sender-batch floor",
                        thr_sizes[s]);
                target(b, what, thr_ratio(s, "ipcd-more", "floor-more"), ">=", 0.8,
                       "(the 0.8x floor target, both sides batching)");
        }
        target(b, "isolation: F with L stuck / F with L reading", b->iso_ratio, ">=", 0.9, NULL);
        target(b, "routing cost per message, 1000 / 2 clients", b->scale_ratio, "<=", 1.2, NULL);
        target(b, "routing cost, 1000 clients + 10 000 subscriptions / 2", b->scale_subs_ratio,
               "<=", 1.2, NULL);
        target(b, "round trip, 1000 / 2 clients (same CPU)", b->scale_rtt_ratio, "<=", 1.2, NULL);
        target(b, "idle daemon wake-ups per second (worst point)", b->idle_wakeups, "<=", 1, NULL);
        {
                size_t ib = lat_index("dbus-broker");
                double v =
                    lat[MODE_SAME][ib].ok ? lat[MODE_SAME][ib].p50.med / calls_p50[MODE_SAME] : NAN;

                target(b, "calls: dbus-broker / ipcd_call round trip (same CPU)", v, ">=", 2.5,
                       "(issue 6 sets none for calls: the unicast one)");
        }
        for (size_t s = 0; s < N_BULK_SIZES; s++) {
                const struct thr_result *r = &bulk[s][0], *f = &bulk[s][BULK_FLOOR];
                char what[96];

                bprintf(what, sizeof(what), "bulk %zu KiB: ipcd ring / shm floor (issue 16)",
                        bulk_sizes[s] >> 10);
                target(b, what, r->ok && f->ok ? r->rate.med / f->rate.med : NAN, ">=",
                       s == 0 ? 0.8 : 0.9, NULL);
        }
        for (size_t s = 1; s < N_BULK_SIZES; s++)
                for (size_t i = 0; i < 2; i++) { /* ipcd-ring, ipcd-ring-ack */
                        const struct thr_result *r = &bulk[s][i], *u = &bulk[s][BULK_UNIX];
                        char what[96], note[64] = "";
                        double v = r->ok && u->ok ? r->rate.med / u->rate.med : NAN;

                        bprintf(what, sizeof(what), "bulk %zu MiB: ipcd ring%s / Unix socket",
                                bulk_sizes[s] >> 20, i ? ", IPCD_ACK" : "");
                        if (r->ok && r->sent > r->received)
                                bprintf(note, sizeof(note), "(%.0f%% of the chunks lost)",
                                        100.0 * (double)(r->sent - r->received) / (double)r->sent);
                        target(b, what, v, ">=", 3, note[0] ? note : NULL);
                }
        target(b, "fan-out 1 MiB: 16 subscribers / 1, bytes per second", b->fan16_ratio, ">=", 8,
               NULL);
        out(b, "\n== Targets (issue 16, direct channels), from the figures above ==\n");
        target(b, "channel RT, spin / shm cache-line spin floor (unpinned)",
               lat_ratio(MODE_UNPINNED, "chan-spin", "shm-spin"), "<=", 3, NULL);
        target(b, "channel RT, futex / pipe RT (unpinned)",
               lat_ratio(MODE_UNPINNED, "chan-futex", "pipe"), "<=", 1.2, NULL);
        target(b, "channel RT, futex / pipe RT (same CPU)",
               lat_ratio(MODE_SAME, "chan-futex", "pipe"), "<=", 1.2, NULL);
        target(b, "channel RT, futex / shm futex floor (unpinned)",
               lat_ratio(MODE_UNPINNED, "chan-futex", "shm-futex"), "<=", 1.2,
               "(not an issue target: the distance to its floor)");
        {
                size_t ic = thr_index("chan");
                double v = thr[0][ic].ok ? thr[0][ic].rate.med / 1e6 : NAN;

                target(b, "channel one-way 64 B, M msgs/s (unpinned)", v, ">=", 10, NULL);
        }
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"quick", no_argument, NULL, 'q'},
            {"only", required_argument, NULL, 'o'},
            {"out", required_argument, NULL, 'O'},
            {"csv", required_argument, NULL, 'c'},
            {"reps", required_argument, NULL, 'r'},
            {"time", required_argument, NULL, 't'},
            {"no-unshare", no_argument, NULL, 'N'},
            {"bridge", no_argument, NULL, 'B'},
            {"keep", no_argument, NULL, 'k'},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        struct bench bench = {
            .reps = 0,
            .iso_ratio = NAN,
            .scale_ratio = NAN,
            .scale_rtt_ratio = NAN,
            .scale_subs_ratio = NAN,
            .idle_wakeups = NAN,
            .fan16_ratio = NAN,
            .fan16_small_ratio = NAN,
        };
        struct bench *b = &bench;
        double rep_s = 0, t0 = now_s();
        bool keep = false;
        char path[1024];
        int exit_status = 0;
        int c;

        while ((c = getopt_long(argc, argv, "vh", opts, NULL)) >= 0) {
                switch (c) {
                case 'q':
                        b->quick = true;
                        break;
                case 'o':
                        b->only = only_words = split_list(optarg, b->only);
                        break;
                case 'O':
                        b->out_dir = optarg;
                        break;
                case 'c':
                        b->csv_path = optarg;
                        break;
                case 'r':
                        b->reps = (unsigned)atoi(optarg);
                        if (b->reps < 1 || b->reps > 32) {
                                fprintf(stderr, "ipcd-bench: --reps takes 1..32\n");
                                return 2;
                        }
                        break;
                case 't':
                        rep_s = atof(optarg);
                        if (!(rep_s > 0 && rep_s <= 60)) {
                                fprintf(stderr, "ipcd-bench: --time takes (0, 60] seconds\n");
                                return 2;
                        }
                        break;
                case 'N':
                        b->no_unshare = true;
                        break;
                case 'B':
                        b->only = only_words = split_list("bridge", b->only);
                        break;
                case 'k':
                        keep = true;
                        break;
                case 'v':
                        b->verbose = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        }
        atexit(free_only_words);
        if (optind < argc) {
                fprintf(stderr, "ipcd-bench: unexpected argument '%s' (see --help)\n",
                        argv[optind]);
                return 2;
        }
        if (!b->reps)
                b->reps = b->quick ? 2 : 5;
        b->rep_s = rep_s > 0 ? rep_s : b->quick ? 0.1 : 0.5;
        b->warm_s = b->quick ? 0.05 : 0.3;
        b->ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);

        /* Scratch and ipcd's runtime directory on tmpfs, like /run in a
         * real deployment: registration creates a FIFO per client, and a
         * disk file system would be part of what is measured. */
        bprintf(b->tmpdir, sizeof(b->tmpdir), "%s/ipcd-bench.XXXXXX",
                on_tmpfs("/dev/shm") && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(b->tmpdir)) {
                fprintf(stderr, "ipcd-bench: mkdtemp: %m\n");
                return 1;
        }
        /* The work runs in a child, so that the scratch directory goes
         * even when the run is interrupted (Ctrl-C reaches the whole
         * process group; every helper dies with its parent). */
        worker = fork();
        if (worker < 0) {
                fprintf(stderr, "ipcd-bench: fork: %m\n");
                return 1;
        }
        if (worker > 0) {
                int st = 0;

                signal(SIGINT, SIG_IGN);
                signal(SIGTERM, forward_term);
                while (waitpid(worker, &st, 0) < 0 && errno == EINTR)
                        ;
                if (keep)
                        fprintf(stderr, "ipcd-bench: scratch directory kept: %s\n", b->tmpdir);
                else
                        (void)nftw(b->tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
                if (WIFSIGNALED(st)) {
                        fprintf(stderr, "ipcd-bench: interrupted\n");
                        return 128 + WTERMSIG(st);
                }
                return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
        }
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (b->out_dir) {
                (void)mkdir(b->out_dir, 0755);
                bprintf(path, sizeof(path), "%s/latest.txt", b->out_dir);
                b->txt = fopen(path, "we");
                if (!b->txt) {
                        fprintf(stderr, "ipcd-bench: %s: %m\n", path);
                        return 1;
                }
                if (!b->csv_path) {
                        static char csv_path[4096];

                        bprintf(csv_path, sizeof(csv_path), "%s/latest.csv", b->out_dir);
                        b->csv_path = csv_path;
                }
        }
        if (b->csv_path) {
                b->csv = fopen(b->csv_path, "we");
                if (!b->csv) {
                        fprintf(stderr, "ipcd-bench: %s: %m\n", b->csv_path);
                        return 1;
                }
                fprintf(
                    b->csv,
                    "section,test,transport,mode,size,metric,unit,median,min,max,ratio,ratio_to\n");
        }

        setup_namespace(b);
        header(b);

        if (only_wants(b, "latency", "ipcd") || only_wants(b, "throughput", "ipcd") ||
            only_wants(b, "throughput", "ipcd-more") || only_wants(b, "bulk", "ipcd-ring") ||
            only_wants(b, "bulk", "ipcd-ring-ack") || only_wants(b, "fanout", "ipcd") ||
            only_wants(b, "calls", "ipcd-call") || only_wants(b, "isolation", "ipcd") ||
            only_wants(b, "scale", "ipcd") || only_wants(b, "python", "ipcd") ||
            only_wants(b, "latency", "chan-spin") || only_wants(b, "latency", "chan-futex") ||
            only_wants(b, "throughput", "chan") || only_lists(b, "bridge")) {
                int r = drv_ipcd_daemon_start(b);

                if (r < 0)
                        bprintf(b->ipcd_why, sizeof(b->ipcd_why), "skipped: starting ipcd: %s",
                                strerror(-r));
                if (drv_ipcd_available(b)) {
                        out(b, "ipcd: %s (pid %d), runtime dir %s\n", b->ipcd_path,
                            (int)b->ipcd_pid, b->ipcd_rundir);
                        if (b->ipcd_big_config)
                                out(b,
                                    "ipcd config: max_clients_per_uid 2000 (section 7); "
                                    "default backlog_bytes (flow control holds a one-way\n"
                                    "  sender that outruns its receiver back; nothing is "
                                    "dropped); the isolation and fan-out\n"
                                    "  receivers choose drop-new with %llu MiB "
                                    "(ipcd_set_overflow)\n",
                                    DEFAULT_BACKLOG_BYTES >> 20);
                } else
                        out(b, "ipcd: %s\n", b->ipcd_why);
                if (b->ipcd_note[0])
                        out(b, "ipcd: %s\n", b->ipcd_note);
        }
        dbus_buses_start(b);
        if (b->dbus_broker_pid > 0)
                out(b, "dbus-broker: private bus %s (launcher pid %d)\n", b->dbus_broker_addr,
                    (int)b->dbus_broker_pid);
        else if (b->dbus_broker_why[0])
                out(b, "dbus-broker: %s\n", b->dbus_broker_why);
        if (b->dbus_daemon_pid > 0)
                out(b, "dbus-daemon: private bus %s (pid %d)\n", b->dbus_daemon_addr,
                    (int)b->dbus_daemon_pid);
        else if (b->dbus_daemon_why[0])
                out(b, "dbus-daemon: %s\n", b->dbus_daemon_why);

        if (only_names_section(b, "latency"))
                lat_section(b);
        if (only_names_section(b, "throughput"))
                thr_section(b);
        if (only_names_section(b, "bulk"))
                bulk_section(b);
        if (only_wants(b, "fanout", "ipcd"))
                (void)bench_fanout(b);
        if (only_wants(b, "calls", "ipcd-call"))
                calls_section(b);
        if (only_wants(b, "isolation", "ipcd"))
                (void)bench_isolation(b);
        if (only_wants(b, "scale", "ipcd"))
                (void)bench_scale(b);
        if (only_wants(b, "python", "ipcd")) {
                size_t il = lat_index("ipcd"), it = thr_index("ipcd");
                double c_rtt[N_MODES];

                for (int m = 0; m < N_MODES; m++)
                        c_rtt[m] = lat[m][il].ok ? lat[m][il].p50.med : NAN;
                (void)bench_python(b, c_rtt, thr[0][it].ok ? thr[0][it].rate.med : NAN);
        }
        if (only_lists(b, "bridge") && bench_bridge(b) == 1)
                exit_status = 77; /* --bridge could not run: said why */
        if (!b->only)
                targets(b);

        dbus_buses_stop(b);
        drv_ipcd_daemon_stop(b);
        out(b, "\nDone in %.0f s; load average at the end: %s\n", now_s() - t0,
            loadavg(path, sizeof(path)));
        if (b->txt)
                fclose(b->txt);
        if (b->csv)
                fclose(b->csv);
        return exit_status;
}
