/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-ctlchan - the client side of the control channel against a fake
 * daemon made of plain FIFOs in a temporary runtime directory: no daemon
 * (-ECONNREFUSED), the request line ("\n" first, one write, parseable),
 * the reply FIFO (ours, 0622, removed by ctlchan_unlink), records read
 * whole across partial writes, answers to other nonces skipped, timeouts,
 * a closed writer, garbage, a full control FIFO.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/ctlchan.h"
#include "shared/wire.h"
#include "shared/test-util.h"

static char rundir[] = "/tmp/test-ctlchan.XXXXXX";
static char control[256], clients[256];

static void test_no_daemon(void)
{
        struct ctlchan ch;
        int fd;

        /* No FIFO at all. */
        CHECK(ctlchan_open(&ch, rundir) == -ECONNREFUSED);
        CHECK(ch.control_fd == -1 && ch.reply_fd == -1);
        CHECK(ctlchan_open(&ch, "") == -EINVAL);
        /* A FIFO nobody reads. */
        CHECK(mkfifo(control, 0600) == 0);
        CHECK(ctlchan_open(&ch, rundir) == -ECONNREFUSED);
        CHECK(unlink(control) == 0);
        /* A regular file is never appended to. */
        fd = open(control, O_WRONLY | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0);
        close(fd);
        CHECK(ctlchan_open(&ch, rundir) == -ECONNREFUSED);
        CHECK(unlink(control) == 0);
}

/* Read what the client wrote to the control FIFO (one read: one write). */
static ssize_t read_request(int cfd, char *buf, size_t size)
{
        ssize_t n = read(cfd, buf, size - 1);

        buf[n > 0 ? n : 0] = '\0';
        return n;
}

static void put_rec(int wfd, enum wire_rec_kind kind, const uint8_t *nonce, const void *body,
                    size_t len, size_t split)
{
        uint8_t buf[WIRE_REC_MAX];
        int n = wire_rec_put(buf, sizeof(buf), kind, nonce, body, len);

        CHECK(n > 0);
        if (split && split < (size_t)n) {
                CHECK(write(wfd, buf, split) == (ssize_t)split);
                CHECK(write(wfd, buf + split, (size_t)n - split) == n - (ssize_t)split);
        } else
                CHECK(write(wfd, buf, (size_t)n) == n);
}

static void test_request_and_reply(int cfd)
{
        struct ctlchan ch;
        struct wire_ctl req = { .cmd = WIRE_CTL_REGISTER, .pid = 4242 }, back;
        struct wire_rec_error err;
        uint8_t other[WIRE_NONCE_SIZE] = { 1, 2, 3 };
        char line[WIRE_LINE_MAX * 2], path[4096];
        struct stat st;
        ssize_t n;
        int wfd, fd;

        CHECK(ctlchan_open(&ch, rundir) == 0);
        snprintf(path, sizeof(path), "%s/%s", clients, ch.fifo);
        CHECK(strcmp(ch.path, path) == 0);
        CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_uid == geteuid() &&
              (st.st_mode & 07777) == 0622);

        snprintf(req.name, sizeof(req.name), "svc.a");
        CHECK(ctlchan_send(&ch, &req, 1000) == 0);
        n = read_request(cfd, line, sizeof(line));
        /* "\n" + the line + "\n", in one write */
        CHECK(n > 2 && line[0] == '\n' && line[n - 1] == '\n' && !memchr(line + 1, '\n', (size_t)n - 2));
        CHECK(wire_ctl_parse(line + 1, (size_t)n - 2, &back) == 0);
        CHECK(back.cmd == WIRE_CTL_REGISTER && back.pid == 4242 && strcmp(back.name, "svc.a") == 0);
        CHECK(strcmp(back.fifo, ch.fifo) == 0 && strcmp(back.nonce, req.nonce) == 0);

        /* An invalid request is not written at all. */
        req.pid = 0;
        CHECK(ctlchan_send(&ch, &req, 1000) == -EINVAL);
        CHECK(read(cfd, line, sizeof(line)) < 0 && errno == EAGAIN);

        /* Nothing answered yet. */
        CHECK(ctlchan_read(&ch, &err, sizeof(err), 0) == -ETIMEDOUT);

        /* The answer: an earlier request's record is skipped, ours is read
         * whole although it arrives in two writes. */
        wfd = open(path, O_WRONLY | O_NONBLOCK);
        CHECK(wfd >= 0);
        memset(&err, 0, sizeof(err));
        err.error = -EDQUOT;
        snprintf(err.message, sizeof(err.message), "stale");
        put_rec(wfd, WIRE_REC_ERROR, other, &err, sizeof(err), 0);
        snprintf(err.message, sizeof(err.message), "quota");
        put_rec(wfd, WIRE_REC_ERROR, ch.nonce, &err, sizeof(err), 5);
        memset(&err, 0x55, sizeof(err));
        CHECK(ctlchan_read(&ch, &err, sizeof(err), 1000) == WIRE_REC_ERROR);
        CHECK(err.error == -EDQUOT && strcmp(err.message, "quota") == 0);
        /* A body shorter than the struct is zero-filled. */
        put_rec(wfd, WIRE_REC_END, ch.nonce, NULL, 0, 0);
        memset(&err, 0x55, sizeof(err));
        CHECK(ctlchan_read(&ch, &err, sizeof(err), 1000) == WIRE_REC_END);
        CHECK(err.error == 0 && err.message[0] == '\0');

        /* ctlchan_unlink removes the path, the descriptor stays. */
        ctlchan_unlink(&ch);
        CHECK(stat(path, &st) < 0 && errno == ENOENT);
        CHECK(ch.path[0] == '\0');
        put_rec(wfd, WIRE_REC_END, ch.nonce, NULL, 0, 0);
        CHECK(ctlchan_read(&ch, NULL, 0, 1000) == WIRE_REC_END);

        /* ipcd closing its end: -ECONNRESET, not a hang. */
        close(wfd);
        CHECK(ctlchan_read(&ch, &err, sizeof(err), 5000) == -ECONNRESET);

        /* keep_reply hands the reply descriptor over. */
        fd = ctlchan_close(&ch, 1);
        CHECK(fd >= 0 && ch.reply_fd == -1 && ch.control_fd == -1);
        close(fd);
}

static void test_garbage(void)
{
        struct ctlchan ch;
        struct wire_rec h = { .len = 3, .version = WIRE_VERSION, .kind = WIRE_REC_END };
        int wfd;

        CHECK(ctlchan_open(&ch, rundir) == 0);
        wfd = open(ch.path, O_WRONLY | O_NONBLOCK);
        CHECK(wfd >= 0);
        CHECK(write(wfd, &h, sizeof(h)) == (ssize_t)sizeof(h));
        CHECK(ctlchan_read(&ch, NULL, 0, 1000) == -EBADMSG);
        close(wfd);
        ctlchan_close(&ch, 0);
}

static void test_full_fifo(int cfd)
{
        struct ctlchan ch;
        struct wire_ctl req = { .cmd = WIRE_CTL_STATUS };
        char junk[4096], line[WIRE_LINE_MAX * 2];
        ssize_t n;

        memset(junk, 'x', sizeof(junk));
        CHECK(ctlchan_open(&ch, rundir) == 0);
        /* Fill the control FIFO (nobody drains it meanwhile). */
        while (write(ch.control_fd, junk, sizeof(junk)) > 0)
                ;
        CHECK(errno == EAGAIN);
        CHECK(ctlchan_send(&ch, &req, 0) == -ETIMEDOUT);
        /* Room again: the request goes out whole. */
        while (read(cfd, junk, sizeof(junk)) > 0)
                ;
        CHECK(ctlchan_send(&ch, &req, 1000) == 0);
        n = read_request(cfd, line, sizeof(line));
        CHECK(n > 2 && line[0] == '\n' && line[n - 1] == '\n');
        CHECK(strncmp(line + 1, "STATUS ", 7) == 0);
        ctlchan_close(&ch, 0);
}

int main(void)
{
        int cfd;

        if (!mkdtemp(rundir)) {
                perror("mkdtemp");
                return 1;
        }
        snprintf(control, sizeof(control), "%s/control", rundir);
        snprintf(clients, sizeof(clients), "%s/clients", rundir);

        test_no_daemon();
        /* RUNDIR/clients missing: no usable daemon either. */
        CHECK(mkfifo(control, 0600) == 0);
        cfd = open(control, O_RDWR | O_NONBLOCK);
        CHECK(cfd >= 0);
        {
                struct ctlchan ch;

                CHECK(ctlchan_open(&ch, rundir) == -ECONNREFUSED);
        }
        CHECK(mkdir(clients, 01733) == 0);

        test_request_and_reply(cfd);
        test_garbage();
        test_full_fifo(cfd);

        close(cfd);
        unlink(control);
        rmdir(clients);
        if (rmdir(rundir) < 0) {
                fprintf(stderr, "%s not empty: a reply FIFO was left\n", rundir);
                failures++;
        }
        return test_result("test-ctlchan");
}
