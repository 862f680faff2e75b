/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-reply - libFuzzer target: what libipcd-client (and ipcdctl) read
 * from ipcd, written by anyone who can write there.  The first byte
 * chooses:
 *
 *   even: the bytes are a reply FIFO's content: ctlchan_read() record by
 *         record (version, kind, length checks; our nonce is all zero),
 *         each STATUS record added to a record set as ipcdctl does;
 *   odd:  the bytes are one queue message in a connected client's Qc, of
 *         the mtype the second byte picks (a user type, a notice, the
 *         PULL marker, a credit, a reply type): ipcd_recv() takes what it
 *         can (the library's record sorting, dispatch.c, its bulk, flow
 *         and answer hooks) until nothing is left; each message is
 *         released.  wire_out_next() must stay inside the buffer.
 *
 * The client is connected to a real ipcd started here (IPCD, on a
 * scratch runtime directory, killed with us), in a private IPC namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ipcd.h"
#include "lib/client.h"
#include "shared/ctlchan.h"
#include "shared/wire.h"
#include "fuzz-common.h"

static ipcd_client *cl;
static struct {
        long mtype;
        uint8_t mtext[65536];
} qm;

static void start_ipcd(char *rundir)
{
        const char *ipcd = getenv("IPCD");
        char conf[PATH_MAX + 16];
        pid_t pid;
        int fd;

        FUZZ_CHECK(ipcd);
        snprintf(conf, sizeof(conf), "%s.conf", rundir);
        fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FUZZ_CHECK(fd >= 0);
        close(fd);
        pid = fork();
        FUZZ_CHECK(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                fd = open("/dev/null", O_WRONLY);
                dup2(fd, 2);
                execl(ipcd, ipcd, "--runtime-dir", rundir, "--config", conf, (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 400; i++) {
                if (ipcd_connect_at(rundir, "fuzz", &cl) == 0)
                        return;
                nanosleep(&(struct timespec){ 0, 25 * 1000 * 1000 }, NULL);
        }
        FUZZ_CHECK(!"ipcd did not answer within 10 s");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        static char rundir[PATH_MAX];
        const char *tmp = getenv("TMPDIR");

        (void)argc;
        (void)argv;
        fuzz_private_ipc();
        snprintf(rundir, sizeof(rundir) - 32, "%s/fuzz-reply.XXXXXX", tmp ? tmp : "/tmp");
        FUZZ_CHECK(mkdtemp(rundir));
        strcat(rundir, "/run");
        start_ipcd(rundir);
        return 0;
}

static void fifo_records(const uint8_t *data, size_t size)
{
        struct ctlchan ch;
        union {
                struct wire_rec_error error;
                struct wire_rec_registered reg;
                struct wire_status_daemon daemon;
                struct wire_status_queue queue;
                struct wire_status_client client;
                struct wire_status_ring ring;
                struct wire_status_topic topic;
                uint8_t raw[WIRE_REC_MAX];
        } body;
        struct wire_status_set set = { 0 };
        int p[2];

        if (size > 65536)
                return;
        memset(&ch, 0, sizeof(ch));
        ch.control_fd = -1;
        FUZZ_CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        FUZZ_CHECK(write(p[1], data, size) == (ssize_t)size || size == 0);
        close(p[1]);
        ch.reply_fd = p[0];
        for (;;) {
                int r = ctlchan_read(&ch, &body, sizeof(body), 0);

                if (r < 0)
                        break;
                if (r == WIRE_REC_END)
                        continue;
                if (r >= WIRE_REC_STATUS_DAEMON && r <= WIRE_REC_STATUS_TOPIC &&
                    wire_status_set_add(&set, r, &body) < 0)
                        break;
        }
        wire_status_set_free(&set);
        ctlchan_close(&ch, 0);
}

static void queue_records(uint8_t sel, const uint8_t *data, size_t size)
{
        static const long special[] = { WIRE_TYPE_NOTICE, WIRE_TYPE_PULL, WIRE_TYPE_CREDIT };
        size_t off = 0;
        ipcd_msg m;
        int qc;

        if (size > sizeof(qm.mtext))
                return;
        if (sel < 0xc0)
                qm.mtype = 1 + sel % 8;
        else if (sel < 0xf0)
                qm.mtype = special[sel % 3];
        else
                qm.mtype = wire_reply_type(sel & 0xf);
        memcpy(qm.mtext, data, size);

        /* wire_out_next alone first: every record inside the buffer. */
        for (;;) {
                struct wire_out h;
                const char *name, *topic;
                const void *payload;

                if (wire_out_next(qm.mtext, size, &off, &h, &name, &topic, &payload) <= 0)
                        break;
                FUZZ_CHECK(off <= size);
                FUZZ_CHECK((const uint8_t *)payload + h.len <= qm.mtext + size);
                FUZZ_CHECK((const uint8_t *)name + h.name_len + h.topic_len <= qm.mtext + size);
        }

        pthread_mutex_lock(&cl->lock);
        qc = cl->s.qc;
        pthread_mutex_unlock(&cl->lock);
        if (msgsnd(qc, &qm, size, IPC_NOWAIT) < 0)
                return; /* lost (reconnecting), or the queue is full: next time */
        for (int i = 0; i < 64; i++) {
                if (ipcd_recv(cl, &m, 0, 0) < 0)
                        break;
                ipcd_msg_release(cl, &m);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        if (data[0] % 2 == 0)
                fifo_records(data + 1, size - 1);
        else
                queue_records(data[1], data + 2, size - 2);
        return 0;
}
