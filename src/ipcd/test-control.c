/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-control - the control FIFO's line reader (control_feed,
 * control_expire) without an event loop: STATUS lines answered, lines
 * split across reads, junk before a "\n"-led request costing only itself,
 * empty lines ignored silently, over-long lines skipped, a partial line
 * dropped once CONTROL_PARTIAL_MS old (times passed in, nothing waits).
 * The event loop's functions are stubs that record the replies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcd/daemon.h"
#include "shared/wire.h"
#include "shared/test-util.h"

/* ---- stubs of event.c ---- */

static unsigned nreplies;
static uint8_t last_nonce[WIRE_NONCE_SIZE];

void event_write_reply(struct daemon *d, uid_t uid, int fd, void *buf, size_t len)
{
        struct wire_rec h;

        (void)d;
        if (len >= sizeof(h)) {
                memcpy(&h, buf, sizeof(h));
                memcpy(last_nonce, h.nonce, sizeof(last_nonce));
        }
        nreplies++;
        free(buf);
        close(fd);
}

int event_watch_client(struct daemon *d, struct client *c)
{
        (void)d;
        (void)c;
        return -ENOSYS;
}

void event_log_client(int level, const struct client *c, const char *event)
{
        (void)level;
        (void)c;
        (void)event;
}

/* ---- helpers ---- */

static char dir[] = "/tmp/test-control.XXXXXX";
static const char fifo[] = "0123456789abcdef0123456789abcdef";
static struct daemon d;

static uint64_t bad(void)
{
        return d.router.cnt.bad_control;
}

static void feed(const char *s)
{
        control_feed(&d, s, strlen(s));
}

/* A STATUS line (without newlines) with nonce byte n. */
static const char *status_line(unsigned n)
{
        static char buf[256];

        snprintf(buf, sizeof(buf), "STATUS %d %02x%030x %s", WIRE_VERSION, n & 0xff, 0, fifo);
        return buf;
}

static void check_answered(unsigned before, unsigned n)
{
        CHECK(nreplies == before + 1);
        CHECK(last_nonce[0] == n);
}

static void test_lines(void)
{
        char line[512];
        unsigned r = nreplies;
        uint64_t b = bad();

        /* A plain line, and one led by a newline as clients write it. */
        snprintf(line, sizeof(line), "%s\n", status_line(1));
        feed(line);
        check_answered(r, 1);
        snprintf(line, sizeof(line), "\n%s\n", status_line(2));
        feed(line);
        check_answered(r + 1, 2);
        /* Empty lines cost nothing and are not counted. */
        feed("\n\n\n\n");
        CHECK(nreplies == r + 2 && bad() == b);
        CHECK(control_expire(&d, 0) == 0);

        /* Split across reads. */
        snprintf(line, sizeof(line), "%s\n", status_line(3));
        control_feed(&d, line, 5);
        CHECK(nreplies == r + 2);
        feed(line + 5);
        check_answered(r + 2, 3);

        /* Junk a stray writer left: its own bad line, the request is served. */
        snprintf(line, sizeof(line), "x\x01 junk\n%s\n", status_line(4));
        feed("x");
        feed(line + 1);
        check_answered(r + 3, 4);
        CHECK(bad() == b + 1);

        /* A line that does not parse is counted, nothing answered. */
        feed("REGISTER nonsense\n");
        CHECK(bad() == b + 2 && nreplies == r + 4);
}

static void test_overlong(void)
{
        char big[WIRE_LINE_MAX + 100];
        char line[512];
        unsigned r = nreplies;
        uint64_t b = bad();

        memset(big, 'a', sizeof(big));
        control_feed(&d, big, sizeof(big));
        control_feed(&d, big, sizeof(big));
        CHECK(bad() == b);
        snprintf(line, sizeof(line), "\n%s\n", status_line(5));
        feed(line);
        /* The over-long line is one bad line; the next one is served. */
        CHECK(bad() == b + 1);
        check_answered(r, 5);
}

static void test_partial_expires(void)
{
        char line[512];
        unsigned r = nreplies;
        uint64_t b = bad(), since, at;

        CHECK(control_expire(&d, 12345) == 0);
        feed("STATUS 1 ab");
        since = d.line_since_ms;
        CHECK(since != 0);
        /* Not yet: the deadline is CONTROL_PARTIAL_MS after its first byte,
         * and more bytes of the same line do not push it back. */
        at = control_expire(&d, since);
        CHECK(at == since + CONTROL_PARTIAL_MS);
        feed("cd");
        CHECK(control_expire(&d, at - 1) == at);
        CHECK(bad() == b);
        /* Then it is dropped and counted. */
        CHECK(control_expire(&d, at) == 0);
        CHECK(bad() == b + 1);
        CHECK(d.line_len == 0 && d.line_since_ms == 0);
        CHECK(control_expire(&d, at + 1000) == 0);
        /* The next writer's line is whole, even without a leading newline. */
        snprintf(line, sizeof(line), "%s\n", status_line(6));
        feed(line);
        check_answered(r, 6);
        CHECK(bad() == b + 1);

        /* A partial over-long line expires too: no more skipping after it. */
        {
                char big[WIRE_LINE_MAX + 10];

                memset(big, 'b', sizeof(big));
                control_feed(&d, big, sizeof(big));
                CHECK(d.line_discard);
                at = control_expire(&d, d.line_since_ms);
                CHECK(at != 0);
                CHECK(control_expire(&d, at) == 0);
                CHECK(!d.line_discard && bad() == b + 2);
                feed(line);
                check_answered(r + 1, 6);
        }
}

int main(void)
{
        char path[512];
        int rfd, r;

        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        d.rundir = dir;
        d.rundir_fd = d.control_fd = d.lock_fd = d.state_fd = -1;
        d.clients_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(d.clients_fd >= 0);
        r = router_init(&d.router, &(struct router_limits){ .max_clients = 4 }, -1, getegid());
        CHECK(r == 0);
        /* The reply FIFO STATUS answers on: ours, with a reader. */
        snprintf(path, sizeof(path), "%s/%s", dir, fifo);
        CHECK(mkfifo(path, 0600) == 0);
        rfd = open(path, O_RDONLY | O_NONBLOCK);
        CHECK(rfd >= 0);

        test_lines();
        test_overlong();
        test_partial_expires();

        router_done(&d.router);
        close(rfd);
        unlink(path);
        close(d.clients_fd);
        rmdir(dir);
        return test_result("test-control");
}
