/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-client.c - unit test of libipcd-client against a fake ipcd.
 *
 * The fake, in this process, speaks the wire formats of wire.h the way
 * ipcd does: a control FIFO and clients/ directory in a temporary runtime
 * directory, System V queues and a semaphore per registration, and a
 * thread reading the inbound queue.  The test then writes into the
 * client's queue exactly what it wants the library to meet: batches,
 * notices, PULL markers, answers nobody waits for, malformed records,
 * lost queues, a closed FIFO.  The real daemon is exercised by the
 * integration tests in tests/.
 *
 * Runs in a private IPC namespace when it may (root), so that nothing it
 * creates can leak; everything it creates is removed at the end anyway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipcd.h"
#include "shared/clock.h"
#include "shared/util.h"
#include "shared/wire.h"
#include "shared/test-util.h"

/* ------------------------------------------------------------------ */
/* The fake ipcd.                                                       */

#define MAX_QMSG 8192
#define MAX_OBJECTS 64

struct fake {
        char dir[128];
        int control_fd;
        pthread_t ctl_thread, data_thread;
        bool stop;

        pthread_mutex_t lock;
        int qu;
        /* The latest registration. */
        int qc, sc, reply_fd;
        uint64_t client_id;
        uint8_t token[WIRE_TOKEN_SIZE];
        unsigned registrations;
        int refuse;           /* answer REGISTER with this error (0: accept) */
        bool silent;          /* read REGISTER lines, answer none */
        bool wrong_ns;        /* claim another IPC namespace */
        bool timed;           /* raise Sc after deliveries */
        int ack_status;       /* outcome for SEND with WIRE_IN_ACK */
        bool empty_acks;      /* status 0 as a zero-byte message (a full queue) */
        uint64_t instance;    /* of this "ipcd" (REGISTERED); 42 at first */
        char whois_unit[64];  /* WHOIS answer; "": an ipcd older than WHOIS */
        unsigned pulls, pings, timeds, unregisters, sends, bad, whoises;
        struct wire_in last;
        char last_dst[WIRE_NAME_MAX];
        uint8_t last_payload[MAX_QMSG];

        int objects[MAX_OBJECTS]; /* ids to remove: msg >= 0, sem encoded as -2 - id */
        unsigned nobjects;
};

static struct fake F;

static void fake_track(int id, bool sem)
{
        if (F.nobjects < MAX_OBJECTS)
                F.objects[F.nobjects++] = sem ? -2 - id : id;
}

/* Deliver one queue message into the client's queue, as ipcd does. */
static int fake_deliver(long mtype, const void *mtext, size_t n)
{
        struct {
                long mtype;
                uint8_t mtext[MAX_QMSG];
        } m;
        struct sembuf up = {.sem_num = 0, .sem_op = 1, .sem_flg = IPC_NOWAIT};
        int qc, sc;
        bool timed;

        m.mtype = mtype;
        memcpy(m.mtext, mtext, n);
        pthread_mutex_lock(&F.lock);
        qc = F.qc;
        sc = F.sc;
        timed = F.timed;
        pthread_mutex_unlock(&F.lock);
        if (msgsnd(qc, &m, n, IPC_NOWAIT) < 0)
                return -errno;
        if (timed)
                (void)semop(sc, &up, 1);
        return 0;
}

/* One record of one kind (name "peer" unless anonymous). */
static size_t out_rec(uint8_t *buf, size_t off, uint16_t kind, uint16_t flags, long type,
                      uint64_t cookie, int32_t status, const char *name, const char *topic,
                      const void *payload, size_t len)
{
        struct wire_out h = {
                .kind = kind,
                .flags = flags,
                .name_len = (uint8_t)(name ? strlen(name) : 0),
                .topic_len = (uint8_t)(topic ? strlen(topic) : 0),
                .type = type,
                .sender_id = 77,
                .sender_uid = 1234,
                .sender_pid = 4321,
                .cookie = cookie,
                .status = status,
                .len = (uint32_t)len,
        };

        if (wire_out_put(buf, MAX_QMSG, &off, &h, name, topic, payload) < 0)
                abort();
        return off;
}

static int fake_deliver_msg(long type, const char *text)
{
        uint8_t buf[MAX_QMSG];
        size_t n = out_rec(buf, 0, WIRE_OUT_MSG, 0, type, 0, 0, "peer", NULL, text, strlen(text));

        return fake_deliver(type, buf, n);
}

static void fake_answer(uint64_t cookie, int status)
{
        uint8_t buf[MAX_QMSG];
        size_t n = out_rec(buf, 0, WIRE_OUT_ACK, 0, 0, cookie, status, NULL, NULL, NULL, 0);
        bool empty;

        pthread_mutex_lock(&F.lock);
        empty = F.empty_acks && status == 0;
        pthread_mutex_unlock(&F.lock);
        if (empty)
                n = 0; /* what ipcd sends when the queue is full: "status 0" */

        (void)fake_deliver(wire_reply_type(cookie), buf, n);
}

static void fake_register(const struct wire_ctl *req, const uint8_t nonce[WIRE_NONCE_SIZE])
{
        uint8_t buf[WIRE_REC_MAX];
        char path[256];
        int fd, n;

        snprintf(path, sizeof(path), "%s/clients/%s", F.dir, req->fifo);
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return;
        pthread_mutex_lock(&F.lock);
        if (F.silent) {
                close(fd);
        } else if (F.refuse) {
                struct wire_rec_error e = {.error = F.refuse};

                n = wire_rec_put(buf, sizeof(buf), WIRE_REC_ERROR, nonce, &e, sizeof(e));
                (void)!write(fd, buf, (size_t)n);
                close(fd);
        } else {
                struct wire_rec_registered reg = {.max_payload = 4000, .max_qmsg = MAX_QMSG};

                F.qc = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
                F.sc = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
                fake_track(F.qc, false);
                fake_track(F.sc, true);
                F.client_id = ++F.registrations;
                (void)util_random_bytes(F.token, sizeof(F.token));
                F.timed = false;
                if (F.reply_fd >= 0)
                        close(F.reply_fd);
                F.reply_fd = fd;
                reg.client_id = F.client_id;
                memcpy(reg.token, F.token, sizeof(reg.token));
                reg.inbound_qid = F.qu;
                reg.queue_qid = F.qc;
                reg.semid = F.sc;
                reg.daemon_pid = getpid();
                (void)util_ipc_ns(0, &reg.ipc_ns);
                if (F.wrong_ns)
                        reg.ipc_ns ^= 1;
                reg.instance = F.instance;
                n = wire_rec_put(buf, sizeof(buf), WIRE_REC_REGISTERED, nonce, &reg,
                                 sizeof(reg));
                (void)!write(fd, buf, (size_t)n);
        }
        pthread_mutex_unlock(&F.lock);
}

static void *fake_ctl_thread(void *arg)
{
        char buf[WIRE_LINE_MAX * 2];
        size_t have = 0;

        (void)arg;
        while (!__atomic_load_n(&F.stop, __ATOMIC_ACQUIRE)) {
                struct pollfd p = {.fd = F.control_fd, .events = POLLIN};
                ssize_t k;
                char *nl;

                if (poll(&p, 1, 20) <= 0)
                        continue;
                k = read(F.control_fd, buf + have, sizeof(buf) - have);
                if (k <= 0)
                        continue;
                have += (size_t)k;
                while ((nl = memchr(buf, '\n', have))) {
                        struct wire_ctl req;
                        uint8_t nonce[WIRE_NONCE_SIZE];
                        size_t len = (size_t)(nl - buf);

                        if (wire_ctl_parse(buf, len, &req) == 0 &&
                            req.cmd == WIRE_CTL_REGISTER &&
                            wire_hex_decode(req.nonce, nonce, sizeof(nonce)) == 0)
                                fake_register(&req, nonce);
                        memmove(buf, nl + 1, have - len - 1);
                        have -= len + 1;
                }
                if (have == sizeof(buf))
                        have = 0;
        }
        return NULL;
}

static void *fake_data_thread(void *arg)
{
        struct {
                long mtype;
                uint8_t mtext[MAX_QMSG];
        } m;

        (void)arg;
        for (;;) {
                ssize_t n = msgrcv(F.qu, &m, sizeof(m.mtext), 0, MSG_NOERROR);
                size_t off = 0;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return NULL; /* removed: stop */
                }
                for (;;) {
                        struct wire_in h;
                        const char *dst;
                        const void *payload;
                        int k = wire_in_next(m.mtext, (size_t)n, &off, &h, &dst, &payload);
                        bool ack = false, whois = false;
                        int status = 0;

                        if (k <= 0)
                                break;
                        pthread_mutex_lock(&F.lock);
                        if (h.client_id != F.client_id || !wire_token_equal(h.token, F.token)) {
                                F.bad++;
                                pthread_mutex_unlock(&F.lock);
                                continue;
                        }
                        switch (h.op) {
                        case WIRE_OP_SEND:
                                F.sends++;
                                F.last = h;
                                memcpy(F.last_dst, dst, h.dst_len);
                                F.last_dst[h.dst_len] = '\0';
                                memcpy(F.last_payload, payload, h.len);
                                ack = h.flags & WIRE_IN_ACK;
                                status = F.ack_status;
                                break;
                        case WIRE_OP_PULL:
                                F.pulls++;
                                break;
                        case WIRE_OP_TIMED:
                                F.timeds++;
                                F.timed = true;
                                break;
                        case WIRE_OP_PING:
                                F.pings++;
                                ack = true;
                                break;
                        case WIRE_OP_UNREGISTER:
                                F.unregisters++;
                                break;
                        case WIRE_OP_LANE:
                                /* This fake has no bulk ring for anyone. */
                                ack = true;
                                status = -EACCES;
                                break;
                        case WIRE_OP_WHOIS:
                                F.whoises++;
                                if (F.whois_unit[0]) {
                                        whois = true;
                                        break;
                                }
                                /* An ipcd older than WHOIS: an unknown operation. */
                                __attribute__((fallthrough));
                        default:
                                /* As every ipcd: -EOPNOTSUPP if an answer is asked for. */
                                F.bad++;
                                ack = h.flags & WIRE_IN_ACK;
                                status = -EOPNOTSUPP;
                        }
                        pthread_mutex_unlock(&F.lock);
                        if (whois) {
                                uint8_t buf[MAX_QMSG];
                                char unit[sizeof(F.whois_unit)];
                                size_t rec_len;

                                pthread_mutex_lock(&F.lock);
                                memcpy(unit, F.whois_unit, sizeof(unit));
                                pthread_mutex_unlock(&F.lock);
                                rec_len = out_rec(buf, 0, WIRE_OUT_ACK, 0, 0, h.cookie, 0, NULL, NULL,
                                                  unit, strlen(unit) + 1);
                                (void)fake_deliver(wire_reply_type(h.cookie), buf, rec_len);
                        }
                        if (ack)
                                fake_answer(h.cookie, status);
                }
        }
}

static int fake_start(void)
{
        char path[256];

        snprintf(F.dir, sizeof(F.dir), "/tmp/test-client.XXXXXX");
        if (!mkdtemp(F.dir))
                return -errno;
        snprintf(path, sizeof(path), "%s/clients", F.dir);
        if (mkdir(path, 01733) < 0 || chmod(path, 01733) < 0)
                return -errno;
        snprintf(path, sizeof(path), "%s/control", F.dir);
        if (mkfifo(path, 0622) < 0)
                return -errno;
        F.control_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (F.control_fd < 0)
                return -errno;
        pthread_mutex_init(&F.lock, NULL);
        F.reply_fd = -1;
        F.qc = F.sc = -1;
        F.instance = 42;
        F.qu = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (F.qu < 0)
                return -errno;
        fake_track(F.qu, false);
        pthread_create(&F.ctl_thread, NULL, fake_ctl_thread, NULL);
        pthread_create(&F.data_thread, NULL, fake_data_thread, NULL);
        return 0;
}

static void fake_stop(void)
{
        char path[256];

        __atomic_store_n(&F.stop, true, __ATOMIC_RELEASE);
        pthread_join(F.ctl_thread, NULL);
        (void)msgctl(F.qu, IPC_RMID, NULL);
        pthread_join(F.data_thread, NULL);
        for (unsigned i = 0; i < F.nobjects; i++) {
                if (F.objects[i] >= 0)
                        (void)msgctl(F.objects[i], IPC_RMID, NULL);
                else
                        (void)semctl(-2 - F.objects[i], 0, IPC_RMID);
        }
        if (F.reply_fd >= 0)
                close(F.reply_fd);
        close(F.control_fd);
        snprintf(path, sizeof(path), "%s/control", F.dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/clients", F.dir);
        rmdir(path);
        rmdir(F.dir);
}

/* The fake's state is the fake threads' too: the tests read (an expression
 * of) it and set it under its lock. */
#define FAKE_GET(expr)                                                                             \
        ({                                                                                         \
                pthread_mutex_lock(&F.lock);                                                       \
                __typeof__(expr) v_ = (expr);                                                      \
                pthread_mutex_unlock(&F.lock);                                                     \
                v_;                                                                                \
        })
#define FAKE_SET(field, value)                                                                     \
        do {                                                                                       \
                pthread_mutex_lock(&F.lock);                                                       \
                (field) = (value);                                                                 \
                pthread_mutex_unlock(&F.lock);                                                     \
        } while (0)

/* Wait until cond holds (checked under the fake's lock), at most 2 s. */
#define FAKE_WAIT(cond)                                                                            \
        ({                                                                                         \
                bool ok_ = false;                                                                  \
                for (int i_ = 0; i_ < 400 && !ok_; i_++) {                                         \
                        pthread_mutex_lock(&F.lock);                                               \
                        ok_ = (cond);                                                              \
                        pthread_mutex_unlock(&F.lock);                                             \
                        if (!ok_)                                                                  \
                                usleep(5000);                                                      \
                }                                                                                  \
                ok_;                                                                               \
        })

static uint64_t now_ms(void)
{
        return clock_now_ms();
}

/* ------------------------------------------------------------------ */
/* Tests.                                                               */

static void test_connect(void)
{
        char dir[] = "/tmp/test-client-empty.XXXXXX";
        ipcd_client *c = (ipcd_client *)&c;

        CHECK_R(ipcd_connect_at(F.dir, "bad name", &c), -EINVAL);
        CHECK(c == NULL);
        CHECK_R(ipcd_connect_at(F.dir, "x", NULL), -EINVAL);
        CHECK(mkdtemp(dir) != NULL);
        /* No control FIFO: no daemon. */
        CHECK_R(ipcd_connect_at(dir, NULL, &c), -ECONNREFUSED);
        /* A FIFO nobody reads: no daemon either. */
        {
                char path[256];

                snprintf(path, sizeof(path), "%s/control", dir);
                CHECK(mkfifo(path, 0622) == 0);
                CHECK_R(ipcd_connect_at(dir, NULL, &c), -ECONNREFUSED);
                unlink(path);
                /* A regular file is not a daemon. */
                CHECK(close(open(path, O_WRONLY | O_CREAT, 0644)) == 0);
                CHECK_R(ipcd_connect_at(dir, NULL, &c), -ECONNREFUSED);
                unlink(path);
        }
        rmdir(dir);

        /* Refusals carry ipcd's error. */
        FAKE_SET(F.refuse, -EDQUOT);
        CHECK_R(ipcd_connect_at(F.dir, "x", &c), -EDQUOT);
        FAKE_SET(F.refuse, -EADDRINUSE);
        CHECK_R(ipcd_connect_at(F.dir, "x", &c), -EADDRINUSE);
        FAKE_SET(F.refuse, 0);
        FAKE_SET(F.wrong_ns, true);
        CHECK_R(ipcd_connect_at(F.dir, "x", &c), -EXDEV);
        FAKE_SET(F.wrong_ns, false);

        /* The reply FIFO's path is gone once registered. */
        CHECK_R(ipcd_connect_at(F.dir, "me", &c), 0);
        if (c) {
                char path[256];

                CHECK(ipcd_id(c) == FAKE_GET(F.client_id));
                CHECK(strcmp(ipcd_name(c), "me") == 0);
                CHECK(ipcd_max_inline(c) == 4000);
                snprintf(path, sizeof(path), "%s/clients", F.dir);
                {
                        DIR *d = opendir(path);
                        struct dirent *de;
                        int entries = 0;

                        CHECK(d != NULL);
                        while (d && (de = readdir(d)))
                                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                                        entries++;
                        if (d)
                                closedir(d);
                        CHECK(entries == 0);
                }
                ipcd_close(c);
                CHECK(FAKE_WAIT(F.unregisters == 1));
        }
        CHECK_R(ipcd_connect_at(F.dir, NULL, &c), 0);
        if (c) {
                CHECK(strcmp(ipcd_name(c), "") == 0);
                ipcd_close(c);
        }
        ipcd_close(NULL);
        CHECK(ipcd_id(NULL) == 0);
        CHECK(ipcd_name_is_valid("a/b.c-d_e") == 1);
        CHECK(ipcd_name_is_valid("a b") == 0);
        CHECK(ipcd_name_is_valid(NULL) == 0);
}

static void test_send(ipcd_client *c)
{
        char big[4001];
        unsigned sends = FAKE_GET(F.sends);

        CHECK_R(ipcd_send(c, "dst/x", 42, "payload", 7, 0), 0);
        CHECK(FAKE_WAIT(F.sends == sends + 1));
        CHECK(FAKE_GET(F.last.op == WIRE_OP_SEND && F.last.type == 42 && F.last.len == 7));
        CHECK(FAKE_GET(strcmp(F.last_dst, "dst/x") == 0 && memcmp(F.last_payload, "payload", 7) == 0));
        CHECK(FAKE_GET(F.last.flags == 0));

        /* Argument checks. */
        CHECK_R(ipcd_send(NULL, "d", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(c, NULL, 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(c, "bad name", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(c, "", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(c, "d", 0, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(c, "d", -1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(c, "d", IPCD_TYPE_MAX + 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(c, "d", 1, NULL, 1, 0), -EINVAL);
        CHECK_R(ipcd_send(c, "d", 1, "x", 1, 1 << 7), -EINVAL);
        memset(big, 'b', sizeof(big));
        /* Beyond the inline limit it takes the ring, which this fake
         * refuses (the library asks for a lane first). */
        CHECK_R(ipcd_send(c, "d", 1, big, 4001, 0), -EACCES);
        CHECK_R(ipcd_send(c, "d", 1, big, 4001, 0), -EACCES); /* remembered */
        CHECK_R(ipcd_send(c, "d", IPCD_TYPE_MAX, big, 4000, 0), 0);
        CHECK_R(ipcd_send(c, "d", 1, NULL, 0, IPCD_NONBLOCK), 0);
        CHECK(FAKE_WAIT(F.sends == sends + 3));
        CHECK(FAKE_GET(F.last.len == 0));

        /* IPCD_ACK: the outcome is the return value. */
        FAKE_SET(F.ack_status, 0);
        CHECK_R(ipcd_send(c, "d", 1, "x", 1, IPCD_ACK), 0);
        CHECK(FAKE_GET(F.timeds == 1)); /* TIMED (with a PING) went first */
        FAKE_SET(F.ack_status, -ENOENT);
        CHECK_R(ipcd_send(c, "d", 1, "x", 1, IPCD_ACK), -ENOENT);
        FAKE_SET(F.ack_status, 5); /* not an outcome */
        CHECK_R(ipcd_send(c, "d", 1, "x", 1, IPCD_ACK | IPCD_NONBLOCK), -EPROTO);
        FAKE_SET(F.ack_status, 0);
        CHECK(FAKE_GET(F.timeds == 1));
}

static void test_recv_basic(ipcd_client *c)
{
        ipcd_msg m, copy;
        uint8_t buf[MAX_QMSG];
        size_t n;

        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
        CHECK_R(ipcd_recv(c, NULL, 0, 0), -EINVAL);
        CHECK_R(ipcd_recv(c, &m, IPCD_TYPE_MAX + 1, 0), -EINVAL);
        CHECK_R(ipcd_recv(c, &m, -IPCD_TYPE_MAX - 1, 0), -EINVAL);

        /* All fields. */
        n = out_rec(buf, 0, WIRE_OUT_MSG, WIRE_OUT_REQUEST, 9, 555, 0, "peer/one", "some/topic",
                    "hello", 5);
        CHECK_R(fake_deliver(9, buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), 0);
        CHECK(m.type == 9 && m.len == 5 && memcmp(m.data, "hello", 5) == 0);
        CHECK(strcmp(m.sender, "peer/one") == 0 && strcmp(m.topic, "some/topic") == 0);
        CHECK(m.sender_id == 77 && m.sender_uid == 1234 && m.sender_pid == 4321);
        CHECK(m.flags == IPCD_MSG_REQUEST && m.id == 555);
        /* Release: a byte copy, then the original (now a no-op? no: the
         * copy released it; the original must not be released again).
         * Release twice on the same struct is harmless. */
        memcpy(&copy, &m, sizeof(m));
        ipcd_msg_release(c, &copy);
        ipcd_msg_release(c, &copy);
        CHECK(copy.data == NULL && copy.reserved_[0] == 0);
        ipcd_msg_release(c, NULL);
        memset(&m, 0, sizeof(m));
        ipcd_msg_release(c, &m);
        /* Garbage in reserved_ is not freed. */
        memset(&m, 0x5a, sizeof(m));
        ipcd_msg_release(c, &m);

        /* Anonymous sender, no topic, empty payload. */
        n = out_rec(buf, 0, WIRE_OUT_MSG, 0, 3, 0, 0, NULL, NULL, NULL, 0);
        CHECK_R(fake_deliver(3, buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, 3, 0), 0);
        CHECK(m.type == 3 && m.len == 0 && m.sender[0] == '\0' && m.topic[0] == '\0');
        CHECK(m.flags == 0 && m.id == 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
}

static void test_recv_batch(ipcd_client *c)
{
        ipcd_msg m, held[3];
        uint8_t buf[MAX_QMSG];
        size_t n = 0;

        /* One queue message, five records of type 5. */
        for (int i = 0; i < 5; i++) {
                char t[8];

                snprintf(t, sizeof(t), "r%d", i);
                n = out_rec(buf, n, WIRE_OUT_MSG, 0, 5, 0, 0, "peer", NULL, t, strlen(t));
        }
        CHECK_R(fake_deliver(5, buf, n), 0);
        /* Keep three, release out of order, after later receives. */
        for (int i = 0; i < 3; i++) {
                char t[8];

                snprintf(t, sizeof(t), "r%d", i);
                CHECK_R(ipcd_recv(c, &held[i], 0, 0), 0);
                CHECK(held[i].len == strlen(t) && memcmp(held[i].data, t, held[i].len) == 0);
        }
        ipcd_msg_release(c, &held[1]);
        CHECK_R(ipcd_recv(c, &m, 5, 0), 0);
        CHECK(m.len == 2 && memcmp(m.data, "r3", 2) == 0);
        ipcd_msg_release(c, &m);
        ipcd_msg_release(c, &held[0]);
        /* The last one comes from the pending list even with a timeout. */
        CHECK_R(ipcd_recv(c, &m, 0, 1000), 0);
        CHECK(m.len == 2 && memcmp(m.data, "r4", 2) == 0);
        ipcd_msg_release(c, &m);
        CHECK(held[2].len == 2 && memcmp(held[2].data, "r2", 2) == 0);
        ipcd_msg_release(c, &held[2]);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);

        /* Filters over the pending list and the queue: batches of 7 and 3. */
        n = out_rec(buf, 0, WIRE_OUT_MSG, 0, 7, 0, 0, "p", NULL, "7a", 2);
        n = out_rec(buf, n, WIRE_OUT_MSG, 0, 7, 0, 0, "p", NULL, "7b", 2);
        n = out_rec(buf, n, WIRE_OUT_MSG, 0, 7, 0, 0, "p", NULL, "7c", 2);
        CHECK_R(fake_deliver(7, buf, n), 0);
        n = out_rec(buf, 0, WIRE_OUT_MSG, 0, 3, 0, 0, "p", NULL, "3a", 2);
        n = out_rec(buf, n, WIRE_OUT_MSG, 0, 3, 0, 0, "p", NULL, "3b", 2);
        CHECK_R(fake_deliver(3, buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, 7, 0), 0); /* 7a; 7b, 7c pending */
        CHECK(memcmp(m.data, "7a", 2) == 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, -5, 0), 0); /* lowest type up to 5: 3a from the queue */
        CHECK(memcmp(m.data, "3a", 2) == 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, -10, 0), 0); /* pending: 7b and 3b; lowest first */
        CHECK(memcmp(m.data, "3b", 2) == 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, 4, 0), -EAGAIN);
        CHECK_R(ipcd_recv(c, &m, -6, 0), -EAGAIN);
        CHECK_R(ipcd_recv(c, &m, 0, 0), 0);
        CHECK(memcmp(m.data, "7b", 2) == 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, -7, -1), 0);
        CHECK(memcmp(m.data, "7c", 2) == 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
}

static void test_recv_reserved(ipcd_client *c)
{
        ipcd_msg m;
        uint8_t buf[MAX_QMSG];
        unsigned pulls;
        size_t n;

        /* A notice: only filter 0 sees it. */
        n = out_rec(buf, 0, WIRE_OUT_NOTICE, 0, 0, 12, WIRE_NOTICE_DROPPED, NULL, NULL,
                    "12 dropped", 10);
        CHECK_R(fake_deliver(WIRE_TYPE_NOTICE, buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, -IPCD_TYPE_MAX, 0), -EAGAIN);
        CHECK_R(ipcd_recv(c, &m, 1, 0), -EAGAIN);
        CHECK_R(ipcd_recv(c, &m, 0, 0), 0);
        CHECK(m.flags == IPCD_MSG_NOTICE && m.type == WIRE_NOTICE_DROPPED && m.id == 12);
        CHECK(m.len == 10 && memcmp(m.data, "12 dropped", 10) == 0);
        ipcd_msg_release(c, &m);

        /* A PULL marker is answered with a PULL, never returned. */
        pulls = FAKE_GET(F.pulls);
        CHECK_R(fake_deliver(WIRE_TYPE_PULL, "", 0), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
        CHECK(FAKE_WAIT(F.pulls == pulls + 1));

        /* A record flagged BACKLOG: PULL once the queue is empty. */
        n = out_rec(buf, 0, WIRE_OUT_MSG, WIRE_OUT_BACKLOG, 2, 0, 0, "p", NULL, "bl", 2);
        CHECK_R(fake_deliver(2, buf, n), 0);
        n = out_rec(buf, 0, WIRE_OUT_MSG, 0, 2, 0, 0, "p", NULL, "b2", 2);
        CHECK_R(fake_deliver(2, buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, 0, 0), 0);
        ipcd_msg_release(c, &m);
        usleep(20000);
        CHECK(FAKE_GET(F.pulls == pulls + 1)); /* not while messages were there */
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
        CHECK(FAKE_WAIT(F.pulls == pulls + 2));
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
        usleep(20000);
        CHECK(FAKE_GET(F.pulls == pulls + 2)); /* once */

        /* An answer nobody waits for (late, after a timeout) is dropped. */
        n = out_rec(buf, 0, WIRE_OUT_ACK, 0, 0, 999999, 0, NULL, NULL, NULL, 0);
        CHECK_R(fake_deliver(wire_reply_type(999999), buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);

        /* Types nobody defined are dropped. */
        CHECK_R(fake_deliver(WIRE_TYPE_PULL + 5, buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);

        /* Bulk descriptors need the ring: dropped until the library maps it. */
        n = out_rec(buf, 0, WIRE_OUT_MSG, WIRE_OUT_BULK, 6, 0, 0, "p", NULL, "descr", 5);
        CHECK_R(fake_deliver(6, buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);

        /* Wrong kinds on a user type are dropped. */
        n = out_rec(buf, 0, WIRE_OUT_ACK, 0, 6, 1, 0, NULL, NULL, NULL, 0);
        n = out_rec(buf, n, WIRE_OUT_MSG, 0, 6, 0, 0, "p", NULL, "ok", 2);
        CHECK_R(fake_deliver(6, buf, n), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), 0);
        CHECK(m.len == 2 && memcmp(m.data, "ok", 2) == 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
}

static void test_recv_malformed(ipcd_client *c)
{
        ipcd_msg m;
        uint8_t buf[MAX_QMSG];
        struct wire_out evil = {.kind = WIRE_OUT_MSG, .type = 4, .len = 5000};
        size_t n;

        /* A good record, then one whose length points past the end. */
        n = out_rec(buf, 0, WIRE_OUT_MSG, 0, 4, 0, 0, "p", NULL, "good", 4);
        memcpy(buf + n, &evil, sizeof(evil));
        CHECK_R(fake_deliver(4, buf, n + sizeof(evil)), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), 0);
        CHECK(m.len == 4 && memcmp(m.data, "good", 4) == 0);
        ipcd_msg_release(c, &m);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);

        /* Too short for a header; a name too long. */
        CHECK_R(fake_deliver(4, buf, 10), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
        evil.len = 0;
        evil.name_len = 200;
        memcpy(buf, &evil, sizeof(evil));
        CHECK_R(fake_deliver(4, buf, 300), 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
}

struct late {
        long type;
        int delay_ms;
};

static void *late_deliver(void *arg)
{
        struct late *l = arg;

        usleep((useconds_t)l->delay_ms * 1000);
        (void)fake_deliver_msg(l->type, "late");
        return NULL;
}

static void test_recv_timed(ipcd_client *c)
{
        struct late l = {.type = 8, .delay_ms = 50};
        pthread_t t;
        ipcd_msg m;
        uint64_t t0;

        t0 = now_ms();
        CHECK_R(ipcd_recv(c, &m, 0, 100), -ETIMEDOUT);
        CHECK(now_ms() - t0 >= 100);
        CHECK(FAKE_GET(F.timed));

        /* A delivery wakes a timed receiver at once. */
        pthread_create(&t, NULL, late_deliver, &l);
        t0 = now_ms();
        CHECK_R(ipcd_recv(c, &m, 0, 5000), 0);
        CHECK(now_ms() - t0 < 1000);
        CHECK(m.type == 8 && m.len == 4);
        ipcd_msg_release(c, &m);
        pthread_join(t, NULL);

        /* One for another type does not end a filtered wait. */
        l.type = 9;
        pthread_create(&t, NULL, late_deliver, &l);
        CHECK_R(ipcd_recv(c, &m, 8, 300), -ETIMEDOUT);
        pthread_join(t, NULL);
        CHECK_R(ipcd_recv(c, &m, 9, 0), 0);
        ipcd_msg_release(c, &m);

        /* Stale counts (raised for messages received without sleeping) do
         * not turn a timed wait into a spin or an early return. */
        for (int i = 0; i < 50; i++) {
                CHECK_R(fake_deliver_msg(1, "x"), 0);
                CHECK_R(ipcd_recv(c, &m, 0, 0), 0);
                ipcd_msg_release(c, &m);
        }
        t0 = now_ms();
        CHECK_R(ipcd_recv(c, &m, 0, 200), -ETIMEDOUT);
        CHECK(now_ms() - t0 >= 200 && now_ms() - t0 < 1500);
        CHECK(semctl(FAKE_GET(F.sc), 0, GETVAL) <= 1);
}

/* Several threads waiting on one handle: timed receivers of different
 * types and a blocking receiver, while deliveries come. */
struct waiter_arg {
        ipcd_client *c;
        long filter;
        int timeout;
        int want, got, errors;
        int last_error;
};

static void *waiter_thread(void *arg)
{
        struct waiter_arg *a = arg;

        while (a->got < a->want) {
                ipcd_msg m;
                int r = ipcd_recv(a->c, &m, a->filter, a->timeout);

                if (r < 0) {
                        a->errors++;
                        a->last_error = r;
                        break;
                }
                if (a->filter > 0 && m.type != a->filter)
                        a->errors++;
                a->got++;
                ipcd_msg_release(a->c, &m);
        }
        return NULL;
}

static void test_threads(ipcd_client *c)
{
        struct waiter_arg w[4] = {
                {.c = c, .filter = 11, .timeout = 3000, .want = 100},
                {.c = c, .filter = 12, .timeout = 3000, .want = 100},
                {.c = c, .filter = 13, .timeout = 3000, .want = 100},
                {.c = c, .filter = 14, .timeout = -1, .want = 100},
        };
        pthread_t t[4];
        uint8_t buf[MAX_QMSG];

        for (int i = 0; i < 4; i++)
                pthread_create(&t[i], NULL, waiter_thread, &w[i]);
        usleep(20000);
        for (int k = 0; k < 50; k++) {
                for (long type = 11; type <= 14; type++) {
                        /* Batches of two: the second waits on the pending list. */
                        size_t n = out_rec(buf, 0, WIRE_OUT_MSG, 0, type, 0, 0, "p", NULL, "a",
                                           1);

                        n = out_rec(buf, n, WIRE_OUT_MSG, 0, type, 0, 0, "p", NULL, "b", 1);
                        while (fake_deliver(type, buf, n) == -EAGAIN)
                                usleep(1000);
                }
                if (k % 10 == 0)
                        usleep(2000);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                if (w[i].got != 100 || w[i].errors != 0) {
                        fprintf(stderr, "receiver of type %ld: got %d, error %d\n", w[i].filter,
                                w[i].got, w[i].last_error);
                        failures++;
                }
        }
}

/* ACK senders while a blocking receiver (filter 0) meets their answers. */
struct sender_arg {
        ipcd_client *c;
        int n, errors;
};

static void *ack_sender(void *arg)
{
        struct sender_arg *a = arg;

        for (int i = 0; i < a->n; i++)
                if (ipcd_send(a->c, "d", 1, &i, sizeof(i), IPCD_ACK) != 0)
                        a->errors++;
        return NULL;
}

static void *blocking_receiver(void *arg)
{
        ipcd_client *c = arg;
        ipcd_msg m;

        /* Returns on the "stop" message only: answers are not for it. */
        while (ipcd_recv(c, &m, 0, -1) == 0) {
                bool stop = m.type == 99;

                ipcd_msg_release(c, &m);
                if (stop)
                        break;
        }
        return NULL;
}

static void test_ack_threads(ipcd_client *c)
{
        struct sender_arg s[3] = {{.c = c, .n = 200}, {.c = c, .n = 200}, {.c = c, .n = 200}};
        pthread_t rt, st[3];

        pthread_create(&rt, NULL, blocking_receiver, c);
        usleep(20000);
        for (int i = 0; i < 3; i++)
                pthread_create(&st[i], NULL, ack_sender, &s[i]);
        for (int i = 0; i < 3; i++) {
                pthread_join(st[i], NULL);
                CHECK(s[i].errors == 0);
        }
        CHECK_R(fake_deliver_msg(99, "stop"), 0);
        pthread_join(rt, NULL);
}

/* A zero-byte message on a reply type means "ACK, status 0" (wire.h):
 * the waiter of that type gets 0, also when a blocking receiver meets it;
 * nothing reaches the application. */
static void test_empty_acks(ipcd_client *c)
{
        struct sender_arg s[2] = {{.c = c, .n = 100}, {.c = c, .n = 100}};
        pthread_t rt, st[2];
        ipcd_msg m;

        pthread_mutex_lock(&F.lock);
        F.empty_acks = true;
        pthread_mutex_unlock(&F.lock);
        CHECK_R(ipcd_send(c, "d", 1, "x", 1, IPCD_ACK), 0);
        pthread_create(&rt, NULL, blocking_receiver, c);
        for (int i = 0; i < 2; i++)
                pthread_create(&st[i], NULL, ack_sender, &s[i]);
        for (int i = 0; i < 2; i++) {
                pthread_join(st[i], NULL);
                CHECK(s[i].errors == 0);
        }
        CHECK_R(fake_deliver_msg(99, "stop"), 0);
        pthread_join(rt, NULL);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
        pthread_mutex_lock(&F.lock);
        F.empty_acks = false;
        pthread_mutex_unlock(&F.lock);
}

/* One receiving thread sees the queue's order even while another thread,
 * waiting for ACKs, sleeps on Sc for it and fetches its messages. */
struct order_arg {
        ipcd_client *c;
        int n, got, errors;
        bool broken;
};

static void *order_receiver(void *arg)
{
        struct order_arg *a = arg;

        while (a->got < a->n) {
                ipcd_msg m;
                int v, r = ipcd_recv(a->c, &m, 0, 3000);

                if (r < 0) {
                        __atomic_fetch_add(&a->errors, 1, __ATOMIC_RELAXED);
                        break;
                }
                memcpy(&v, m.data, sizeof(v));
                if (v != a->got)
                        a->broken = true;
                /* ack_until() reads it: the only writer stores it atomically. */
                __atomic_store_n(&a->got, a->got + 1, __ATOMIC_RELAXED);
                ipcd_msg_release(a->c, &m);
        }
        return NULL;
}

static void *ack_until(void *arg)
{
        struct order_arg *a = arg;

        while (!__atomic_load_n(&a->got, __ATOMIC_RELAXED) ||
               __atomic_load_n(&a->got, __ATOMIC_RELAXED) < a->n - 1)
                if (ipcd_send(a->c, "d", 1, "x", 1, IPCD_ACK) != 0) {
                        __atomic_fetch_add(&a->errors, 1, __ATOMIC_RELAXED);
                        break;
                }
        return NULL;
}

static void test_order(ipcd_client *c)
{
        struct order_arg a = {.c = c, .n = 1500};
        pthread_t rt, at;
        uint8_t buf[MAX_QMSG];
        int v = 0;

        pthread_create(&rt, NULL, order_receiver, &a);
        pthread_create(&at, NULL, ack_until, &a);
        while (v < a.n) {
                size_t n = 0;

                for (int k = 0; k < 3 && v < a.n; k++, v++)
                        n = out_rec(buf, n, WIRE_OUT_MSG, 0, 21, 0, 0, "p", NULL, &v, sizeof(v));
                while (fake_deliver(21, buf, n) == -EAGAIN)
                        usleep(500);
                if (v % 30 == 0)
                        usleep(200);
        }
        pthread_join(rt, NULL);
        pthread_join(at, NULL);
        CHECK(a.got == a.n && a.errors == 0);
        CHECK(!a.broken);
}

/*
 * The waiter scheme (wait.c): only one thread at a time sleeps on Sc and
 * sweeps the queue for every registered waiter; what it fetches for the
 * others is handed over (the pending list, or a reply waiter's mailbox);
 * a waiter whose time is up leaves without taking anything, and the
 * sleeper role passes on to one still waiting.
 */
static void test_waiters(ipcd_client *c)
{
        ipcd_msg m;

        /* Hand-over: each thread gets the records of its own type, in
         * whatever order they come and whoever fetched them; one whose
         * type never comes times out and takes nothing. */
        {
                struct waiter_arg w[3] = {
                        {.c = c, .filter = 31, .timeout = 5000, .want = 3},
                        {.c = c, .filter = 32, .timeout = 5000, .want = 3},
                        {.c = c, .filter = 33, .timeout = 300, .want = 1},
                };
                pthread_t t[3];

                for (int i = 0; i < 3; i++)
                        pthread_create(&t[i], NULL, waiter_thread, &w[i]);
                usleep(50000);
                for (int k = 0; k < 3; k++) {
                        CHECK_R(fake_deliver_msg(32, "b"), 0);
                        CHECK_R(fake_deliver_msg(31, "a"), 0);
                }
                for (int i = 0; i < 3; i++)
                        pthread_join(t[i], NULL);
                CHECK(w[0].got == 3 && w[0].errors == 0);
                CHECK(w[1].got == 3 && w[1].errors == 0);
                CHECK(w[2].got == 0 && w[2].errors == 1 && w[2].last_error == -ETIMEDOUT);
                CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN); /* nothing left over */
        }

        /* The first waiter (the sleeper) times out; the one still waiting
         * takes the role over and gets what comes later. */
        {
                struct waiter_arg early = {.c = c, .filter = 42, .timeout = 200, .want = 1};
                struct waiter_arg late = {.c = c, .filter = 41, .timeout = 5000, .want = 1};
                pthread_t te, tl;

                pthread_create(&te, NULL, waiter_thread, &early);
                usleep(50000);
                pthread_create(&tl, NULL, waiter_thread, &late);
                pthread_join(te, NULL);
                CHECK(early.errors == 1 && early.last_error == -ETIMEDOUT);
                usleep(100000);
                CHECK_R(fake_deliver_msg(41, "late"), 0);
                pthread_join(tl, NULL);
                CHECK(late.got == 1 && late.errors == 0);
        }

        /* A reply waiter (IPCD_ACK) beside a sleeping receiver: the answer
         * goes to the sender's mailbox, the receiver goes on waiting and
         * still gets its own record. */
        {
                struct waiter_arg r = {.c = c, .filter = 51, .timeout = 5000, .want = 1};
                pthread_t t;

                pthread_create(&t, NULL, waiter_thread, &r);
                usleep(50000);
                for (int i = 0; i < 20; i++)
                        CHECK_R(ipcd_send(c, "d", 1, "x", 1, IPCD_ACK), 0);
                CHECK_R(fake_deliver_msg(51, "mine"), 0);
                pthread_join(t, NULL);
                CHECK(r.got == 1 && r.errors == 0);
                CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN); /* no answer leaked */
        }

        /* A reply waiter whose answer never comes times out on its own,
         * while a receiver waits beside it. */
        {
                struct waiter_arg r = {.c = c, .filter = 52, .timeout = 5000, .want = 1};
                pthread_t t;

                pthread_create(&t, NULL, waiter_thread, &r);
                usleep(50000);
                /* This fake never answers a call. */
                CHECK_R(ipcd_call(c, "d", 1, "q", 1, &m, 300), -ETIMEDOUT);
                CHECK_R(fake_deliver_msg(52, "mine"), 0);
                pthread_join(t, NULL);
                CHECK(r.got == 1 && r.errors == 0);
        }
}

static void test_fork(ipcd_client *c)
{
        unsigned unregisters = FAKE_GET(F.unregisters);
        pid_t pid = fork();
        int status;

        if (pid == 0) {
                ipcd_msg m;
                int ok = ipcd_send(c, "d", 1, "x", 1, 0) == -ECHILD &&
                         ipcd_recv(c, &m, 0, 0) == -ECHILD && ipcd_id(c) == 0;

                ipcd_close(c); /* frees the child's copy, tells ipcd nothing */
                _exit(ok ? 0 : 1);
        }
        CHECK(pid > 0);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        usleep(20000);
        CHECK(FAKE_GET(F.unregisters == unregisters)); /* the child said nothing to ipcd */
        CHECK_R(ipcd_send(c, "d", 1, "x", 1, IPCD_ACK), 0);
}

/* ipcd_msg_sender_unit against an ipcd older than WHOIS (it answers
 * unknown operations -EOPNOTSUPP, as every ipcd did): a clear error at
 * once, asked once per ipcd instance, never a hang; then against one that
 * knows it (after a reconnection to a new instance): the unit, asked once
 * per sender; a message of the old instance is ESTALE. */
static void test_sender_unit(ipcd_client *c)
{
        ipcd_msg m1, m2, m3;
        unsigned bad = FAKE_GET(F.bad);
        const char *u;

        FAKE_SET(F.whois_unit[0], '\0');
        FAKE_SET(F.whoises, 0);
        CHECK_R(fake_deliver_msg(6, "one"), 0);
        CHECK_R(fake_deliver_msg(6, "two"), 0);
        CHECK_R(ipcd_recv(c, &m1, 6, 1000), 0);
        CHECK_R(ipcd_recv(c, &m2, 6, 1000), 0);
        CHECK(m1.sender_id == 77 && m2.sender_id == 77);
        errno = 0;
        u = ipcd_msg_sender_unit(&m1);
        CHECK(!u && errno == EOPNOTSUPP);
        CHECK(FAKE_GET(F.whoises) == 1 && FAKE_GET(F.bad) == bad + 1);
        errno = 0;
        u = ipcd_msg_sender_unit(&m2); /* not asked again: each ask is invalid there */
        CHECK(!u && errno == EOPNOTSUPP);
        CHECK(FAKE_GET(F.whoises) == 1 && FAKE_GET(F.bad) == bad + 1);
        ipcd_msg_release(c, &m2);
        errno = 0;
        CHECK(!ipcd_msg_sender_unit(&m2) && errno == EINVAL); /* released */

        /* A new ipcd that knows WHOIS. */
        pthread_mutex_lock(&F.lock);
        F.instance = 43;
        snprintf(F.whois_unit, sizeof(F.whois_unit), "fake.service");
        pthread_mutex_unlock(&F.lock);
        CHECK(msgctl(FAKE_GET(F.qc), IPC_RMID, NULL) == 0);
        CHECK_R(ipcd_recv(c, &m2, 0, 0), -ECONNRESET);
        CHECK_R(ipcd_recv(c, &m2, 0, 0), -EAGAIN); /* registered again */
        errno = 0;
        CHECK(!ipcd_msg_sender_unit(&m1) && errno == ESTALE); /* of the old one */
        ipcd_msg_release(c, &m1);
        CHECK_R(fake_deliver_msg(6, "three"), 0);
        CHECK_R(fake_deliver_msg(6, "four"), 0);
        CHECK_R(ipcd_recv(c, &m2, 6, 1000), 0);
        CHECK_R(ipcd_recv(c, &m3, 6, 1000), 0);
        u = ipcd_msg_sender_unit(&m2);
        CHECK(u && strcmp(u, "fake.service") == 0);
        CHECK(FAKE_GET(F.whoises) == 2);
        u = ipcd_msg_sender_unit(&m3); /* the same sender: kept */
        CHECK(u && strcmp(u, "fake.service") == 0);
        CHECK(FAKE_GET(F.whoises) == 2);
        ipcd_msg_release(c, &m2);
        ipcd_msg_release(c, &m3);
}

static void test_lost(ipcd_client *c)
{
        ipcd_msg m;
        uint64_t id = ipcd_id(c), t0;
        unsigned regs = FAKE_GET(F.registrations);
        int old_qc = FAKE_GET(F.qc);

        /* Qc removed (ipcd stopped, or dropped us): -ECONNRESET once... */
        CHECK(msgctl(old_qc, IPC_RMID, NULL) == 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -ECONNRESET);
        /* ...then the next call registers again, with a new session. */
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
        CHECK(FAKE_GET(F.registrations == regs + 1));
        CHECK(ipcd_id(c) != id && ipcd_id(c) == FAKE_GET(F.client_id));
        CHECK(strcmp(ipcd_name(c), "me") == 0);
        CHECK_R(fake_deliver_msg(5, "new"), 0);
        CHECK_R(ipcd_recv(c, &m, 5, 1000), 0);
        ipcd_msg_release(c, &m);

        /* A blocked receiver returns when its queue goes away. */
        {
                struct waiter_arg w = {.c = c, .filter = 0, .timeout = -1, .want = 1};
                pthread_t t;

                pthread_create(&t, NULL, waiter_thread, &w);
                usleep(50000);
                CHECK(msgctl(FAKE_GET(F.qc), IPC_RMID, NULL) == 0);
                pthread_join(t, NULL);
                CHECK(w.errors == 1 && w.got == 0 && w.last_error == -ECONNRESET);
        }
        CHECK_R(ipcd_send(c, "d", 1, "x", 1, IPCD_ACK), 0); /* reconnected */
        CHECK(FAKE_GET(F.registrations == regs + 2));

        /* ipcd closed the FIFO (it died): a timed wait says so at expiry. */
        pthread_mutex_lock(&F.lock);
        close(F.reply_fd);
        F.reply_fd = -1;
        pthread_mutex_unlock(&F.lock);
        t0 = now_ms();
        CHECK_R(ipcd_recv(c, &m, 0, 200), -ECONNRESET);
        CHECK(now_ms() - t0 < 1500);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -EAGAIN);
        CHECK(FAKE_GET(F.registrations == regs + 3));

        /* No daemon: -ECONNREFUSED within the call's time. */
        CHECK(msgctl(FAKE_GET(F.qc), IPC_RMID, NULL) == 0);
        CHECK_R(ipcd_recv(c, &m, 0, 0), -ECONNRESET);
        FAKE_SET(F.silent, true);
        t0 = now_ms();
        CHECK_R(ipcd_recv(c, &m, 0, 300), -ECONNREFUSED);
        CHECK(now_ms() - t0 < 1500);
        FAKE_SET(F.silent, false);
        CHECK_R(ipcd_recv(c, &m, 0, 1000), -ETIMEDOUT);
}

int main(void)
{
        ipcd_client *c = NULL;
        int r;

        signal(SIGPIPE, SIG_DFL); /* the library must never raise it */
        if (geteuid() == 0)
                (void)unshare(CLONE_NEWIPC);
        r = fake_start();
        if (r < 0) {
                fprintf(stderr, "test-client: cannot set up the fake ipcd: %s\n", strerror(-r));
                return 77;
        }

        test_connect();
        CHECK_R(ipcd_connect_at(F.dir, "me", &c), 0);
        if (c) {
                test_send(c);
                test_recv_basic(c);
                test_recv_batch(c);
                test_recv_reserved(c);
                test_recv_malformed(c);
                test_recv_timed(c);
                test_threads(c);
                test_ack_threads(c);
                test_empty_acks(c);
                test_order(c);
                test_waiters(c);
                test_fork(c);
                test_sender_unit(c);
                test_lost(c);
                ipcd_close(c);
        }
        fake_stop();

        return test_result("test-client");
}
