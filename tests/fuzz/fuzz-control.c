/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-control - libFuzzer target: bytes written into the control FIFO
 * (any local user can), fed to control_feed() in one or more reads, so
 * the line framing, wire_ctl_parse(), hex decoding and the REGISTER and
 * STATUS handlers all meet them.  The reply FIFO
 * 0123456789abcdef0123456789abcdef exists in clients/ and is read here;
 * "$PID" in the input becomes this process's pid (which no corpus can
 * spell), so that a REGISTER can pass the checks and succeed.  After each input every client is removed and freed: the
 * router must end as empty as it began (no client, no uid queue, no
 * backlog byte), and LeakSanitizer checks the rest.
 *
 * Input: the first byte cuts the rest into two reads at that offset (a
 * line split across reads); a byte 0xff at the end asks for
 * control_expire() after CONTROL_PARTIAL_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcd/daemon.h"
#include "shared/util.h"
#include "fuzz-common.h"

/* ---- event.c, as the control path uses it ---- */

void event_write_reply(struct daemon *d, uid_t uid, int fd, void *buf, size_t len)
{
        (void)d;
        (void)uid;
        /* The reader below drains the FIFO; a full one loses the reply,
         * as event.c parks it: no matter here. */
        FUZZ_CHECK(write(fd, buf, len) >= 0 || errno == EAGAIN);
        free(buf);
        close(fd);
}

int event_watch_client(struct daemon *d, struct client *c)
{
        (void)d;
        (void)c;
        return 0;
}

void event_log_client(int level, const struct client *c, const char *event)
{
        (void)level;
        (void)c;
        (void)event;
}

/* ---- the target ---- */

static struct daemon d;
static int reader = -1;

static void setup(void)
{
        static const struct router_limits lim = {
                .max_clients = 8,
                .max_clients_per_uid = 8,
                .registration_rate = 1000000,
                .registration_burst = 1000000,
                .max_payload = 4000,
        };
        static char dir[PATH_MAX];
        const char *tmp = getenv("TMPDIR");
        char path[PATH_MAX + 64];

        fuzz_private_ipc();
        snprintf(dir, sizeof(dir) - 64, "%s/fuzz-control.XXXXXX", tmp ? tmp : "/tmp");
        FUZZ_CHECK(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/0123456789abcdef0123456789abcdef", dir);
        FUZZ_CHECK(mkfifo(path, 0600) == 0);
        reader = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        FUZZ_CHECK(reader >= 0);
        d.rundir = dir;
        d.rundir_fd = d.control_fd = d.lock_fd = d.state_fd = d.sentinel_fd = -1;
        d.clients_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        FUZZ_CHECK(d.clients_fd >= 0);
        FUZZ_CHECK(util_ipc_ns(getpid(), &d.ipc_ns) == 0);
        d.gid = getegid();
        FUZZ_CHECK(router_init(&d.router, &lim, -1, getegid()) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        setup();
        return 0;
}

static void drain(void)
{
        char buf[65536];

        while (read(reader, buf, sizeof(buf)) > 0)
                ;
}

/* in[n] with "$PID" replaced by our pid, into a new buffer (*len). */
static char *expand_pid(const uint8_t *in, size_t n, size_t *len)
{
        char pid[16];
        int pl = snprintf(pid, sizeof(pid), "%d", (int)getpid());
        char *out = malloc(n / 4 * (size_t)pl + n + 1), *o = out;

        FUZZ_CHECK(out);
        for (size_t i = 0; i < n;) {
                if (i + 4 <= n && memcmp(in + i, "$PID", 4) == 0) {
                        memcpy(o, pid, (size_t)pl);
                        o += pl;
                        i += 4;
                } else
                        *o++ = (char)in[i++];
        }
        *len = (size_t)(o - out);
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct router *r = &d.router;
        size_t cut, n;
        bool expire;
        char *buf;

        if (size == 0)
                return 0;
        cut = data[0];
        buf = expand_pid(data + 1, size - 1, &n);
        expire = n > 0 && (uint8_t)buf[n - 1] == 0xff;
        if (cut > n)
                cut = n;
        control_feed(&d, buf, cut);
        control_feed(&d, buf + cut, n - cut);
        free(buf);
        if (expire && d.line_since_ms)
                control_expire(&d, d.line_since_ms + CONTROL_PARTIAL_MS);
        drain();

        /* Leave nothing behind for the next input. */
        d.line_len = 0;
        d.line_discard = false;
        d.line_since_ms = 0;
        while (r->clients)
                router_client_remove(r, r->clients);
        fuzz_reap(r);
        FUZZ_CHECK(!r->nclients && !r->uidqs && !r->backlog_total);
        return 0;
}
