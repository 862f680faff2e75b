/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tlib.c - helpers shared by the integration tests; see tlib.h. */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>

#include "tlib.h"

const char *tl_progname = "test";
static const char *rundir;
static uint64_t start_ms;

/* A user type the tests never use for anything else: tl_sync()'s marker. */
#define TL_SYNC_TYPE IPCD_TYPE_MAX

void tl_log(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: [%6.3fs] ", tl_progname, (double)(tl_now_ms() - start_ms) / 1000.0);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

_Noreturn void tl_fail(const char *file, int line, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: FAIL %s:%d: ", tl_progname, file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fflush(stderr);
        exit(1);
}

_Noreturn void tl_skip(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: SKIP: ", tl_progname);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(TL_EXIT_SKIP);
}

const char *tl_errname(int r)
{
        static const struct {
                int e;
                const char *n;
        } t[] = {
                { EPERM, "EPERM" },         { ENOENT, "ENOENT" },
                { ESRCH, "ESRCH" },         { EINTR, "EINTR" },
                { EIO, "EIO" },             { EBADF, "EBADF" },
                { EAGAIN, "EAGAIN" },       { ENOMEM, "ENOMEM" },
                { EACCES, "EACCES" },       { EFAULT, "EFAULT" },
                { EBUSY, "EBUSY" },         { EEXIST, "EEXIST" },
                { EXDEV, "EXDEV" },         { ENODEV, "ENODEV" },
                { EINVAL, "EINVAL" },       { ENOSPC, "ENOSPC" },
                { EPIPE, "EPIPE" },         { ERANGE, "ERANGE" },
                { ENOMSG, "ENOMSG" },       { EIDRM, "EIDRM" },
                { ENOSYS, "ENOSYS" },       { EBADMSG, "EBADMSG" },
                { EMSGSIZE, "EMSGSIZE" },   { EPROTO, "EPROTO" },
                { ENOTCONN, "ENOTCONN" },   { ECONNRESET, "ECONNRESET" },
                { ECONNREFUSED, "ECONNREFUSED" }, { ETIMEDOUT, "ETIMEDOUT" },
                { EADDRINUSE, "EADDRINUSE" }, { EDQUOT, "EDQUOT" },
                { ENXIO, "ENXIO" },         { ENOBUFS, "ENOBUFS" },
                { ESHUTDOWN, "ESHUTDOWN" }, { ENOTSUP, "ENOTSUP" },
        };
        static __thread char buf[32];
        int e = r < 0 ? -r : r;

        if (r == 0)
                return "0";
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
                if (t[i].e == e)
                        return t[i].n;
        snprintf(buf, sizeof(buf), "%d", r);
        return buf;
}

void tl_init(int argc, char **argv)
{
        const char *p;

        (void)argc;
        start_ms = tl_now_ms();
        p = strrchr(argv[0], '/');
        tl_progname = p ? p + 1 : argv[0];
        /* libtool wrappers run the binary as lt-NAME */
        if (strncmp(tl_progname, "lt-", 3) == 0)
                tl_progname += 3;
        setvbuf(stdout, NULL, _IOLBF, 0);
        setvbuf(stderr, NULL, _IONBF, 0);
        signal(SIGPIPE, SIG_IGN);
        alarm(TL_HANG_GUARD_S);

        rundir = getenv("IPCD_RUNTIME_DIR");
        if (!rundir || !*rundir)
                tl_skip("IPCD_RUNTIME_DIR is not set: run me through my .sh wrapper");
}

const char *tl_rundir(void)
{
        return rundir;
}

void tl_sleep_ms(unsigned ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

uint64_t tl_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the public API, with checks ---- */

ipcd_client *tl_connect(const char *name)
{
        ipcd_client *c = NULL;
        int r;

        r = ipcd_connect(name, &c);
        CHECK_MSG(r == 0 && c, "ipcd_connect(%s%s%s) failed: %d (%s)", name ? "\"" : "",
                  name ? name : "NULL", name ? "\"" : "", r, tl_errname(r));
        return c;
}

void tl_send(ipcd_client *c, const char *dst, long type, const void *data, size_t len, int flags)
{
        int r = ipcd_send(c, dst, type, data, len, flags);

        CHECK_MSG(r == 0, "ipcd_send(\"%s\", type %ld, %zu bytes, flags %#x) = %d (%s)", dst, type,
                  len, flags, r, tl_errname(r));
}

int tl_recv(ipcd_client *c, ipcd_msg *msg, long filter, int timeout_ms)
{
        for (;;) {
                int r;

                memset(msg, 0, sizeof(*msg));
                r = ipcd_recv(c, msg, filter, timeout_ms);
                if (r < 0)
                        return r;
                if (msg->flags & IPCD_MSG_NOTICE) {
                        CHECK_MSG(filter == 0, "notice delivered with filter %ld", filter);
                        ipcd_msg_release(c, msg);
                        continue;
                }
                CHECK_MSG(wire_type_is_user(msg->type), "ipcd_recv gave type %ld", msg->type);
                return r;
        }
}

void tl_expect(ipcd_client *c, long filter, long type, const void *data, size_t len,
               const char *sender)
{
        ipcd_msg m;
        int r;

        r = tl_recv(c, &m, filter, 30000);
        CHECK_MSG(r >= 0, "ipcd_recv(filter %ld) for type %ld: %d (%s)", filter, type, r,
                  tl_errname(r));
        CHECK_MSG(m.type == type, "received type %ld, expected %ld", m.type, type);
        CHECK_MSG(m.len == len, "type %ld: received %zu bytes, expected %zu", type, m.len, len);
        CHECK_MSG(len == 0 || memcmp(m.data, data, len) == 0, "type %ld: payload differs", type);
        if (sender)
                CHECK_MSG(strcmp(m.sender, sender) == 0, "type %ld: sender \"%s\", expected \"%s\"",
                          type, m.sender, sender);
        ipcd_msg_release(c, &m);
}

void tl_expect_empty(ipcd_client *c)
{
        ipcd_msg m;
        int r;

        r = tl_recv(c, &m, 0, 0);
        if (r >= 0) {
                long t = m.type;
                size_t len = m.len;
                char sender[IPCD_NAME_MAX];

                snprintf(sender, sizeof(sender), "%s", m.sender);
                ipcd_msg_release(c, &m);
                tl_fail(__FILE__, __LINE__,
                        "expected no message, got type %ld (%zu bytes) from \"%s\"", t, len,
                        sender);
        }
        CHECK_MSG(r == -EAGAIN, "ipcd_recv(timeout 0) on an empty queue: %d (%s), expected EAGAIN",
                  r, tl_errname(r));
}

void tl_sync(ipcd_client *c)
{
        const char *name = ipcd_name(c);
        ipcd_msg m;
        int r;

        CHECK_MSG(name && *name, "tl_sync needs a named client");
        tl_send(c, name, TL_SYNC_TYPE, "sync", 4, IPCD_ACK);
        r = tl_recv(c, &m, TL_SYNC_TYPE, 30000);
        CHECK_MSG(r >= 0, "sync message to self: %d (%s)", r, tl_errname(r));
        ipcd_msg_release(c, &m);
}

/* ---- control channel by hand ---- */

struct fifo_req {
        int fd;
        char fifo[WIRE_HEX_LEN + 1];
        char path[PATH_MAX];
        uint8_t nonce[WIRE_NONCE_SIZE];
        char nonce_hex[WIRE_HEX_LEN + 1];
        uint8_t buf[2 * WIRE_REC_MAX];
        size_t buffered;
        bool eof;
};

static int random_hex(char out[WIRE_HEX_LEN + 1], uint8_t raw[16])
{
        uint8_t b[16];

        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                return -errno;
        if (raw)
                memcpy(raw, b, sizeof(b));
        wire_hex_encode(b, sizeof(b), out);
        return 0;
}

static int fifo_req_open(struct fifo_req *q)
{
        int r;

        memset(q, 0, sizeof(*q));
        q->fd = -1;
        r = random_hex(q->fifo, NULL);
        if (r < 0)
                return r;
        r = random_hex(q->nonce_hex, q->nonce);
        if (r < 0)
                return r;
        snprintf(q->path, sizeof(q->path), "%s/clients/%s", rundir, q->fifo);
        if (mkfifo(q->path, 0600) < 0)
                return errno == ENOENT ? -ECONNREFUSED : -errno;
        q->fd = open(q->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (q->fd < 0) {
                r = -errno;
                unlink(q->path);
                return r;
        }
        if (fchmod(q->fd, 0622) < 0) {
                r = -errno;
                close(q->fd);
                unlink(q->path);
                return r;
        }
        return 0;
}

static void fifo_req_close(struct fifo_req *q, bool keep_fd)
{
        if (q->path[0])
                unlink(q->path);
        q->path[0] = '\0';
        if (!keep_fd && q->fd >= 0)
                close(q->fd);
        if (!keep_fd)
                q->fd = -1;
}

int tl_control_write(const void *buf, size_t len)
{
        char path[PATH_MAX];
        const uint8_t *p = buf;
        int fd;

        snprintf(path, sizeof(path), "%s/control", rundir);
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return (errno == ENXIO || errno == ENOENT) ? -ECONNREFUSED : -errno;
        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };

                        poll(&pfd, 1, 100);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;

                        close(fd);
                        return r;
                }
                p += n;
                len -= (size_t)n;
        }
        close(fd);
        return 0;
}

/* Read the next record answering q's nonce into hdr/body (body_size bytes,
 * zero-filled).  Returns the kind, -ETIMEDOUT, -ECONNRESET (EOF) or
 * -EBADMSG. */
static int fifo_req_read(struct fifo_req *q, void *body, size_t body_size, int timeout_ms)
{
        uint64_t deadline = tl_now_ms() + (uint64_t)timeout_ms;

        for (;;) {
                struct wire_rec h;

                while (q->buffered >= sizeof(h)) {
                        memcpy(&h, q->buf, sizeof(h));
                        /* kinds this test does not know are skipped below,
                         * so only the framing is checked here */
                        if (h.version != WIRE_VERSION || h.len < sizeof(h) ||
                            h.len > WIRE_REC_MAX)
                                return -EBADMSG;
                        if (q->buffered < h.len)
                                break;
                        if (memcmp(h.nonce, q->nonce, WIRE_NONCE_SIZE) == 0) {
                                int kind = h.kind;

                                wire_rec_body(body, body_size, q->buf + sizeof(h),
                                              h.len - sizeof(h));
                                memmove(q->buf, q->buf + h.len, q->buffered - h.len);
                                q->buffered -= h.len;
                                return kind;
                        }
                        /* Another request's answer: skip it. */
                        memmove(q->buf, q->buf + h.len, q->buffered - h.len);
                        q->buffered -= h.len;
                }
                if (q->eof)
                        return -ECONNRESET;

                uint64_t now = tl_now_ms();
                struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
                ssize_t n;

                if (now >= deadline)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
                        return -errno;
                n = read(q->fd, q->buf + q->buffered, sizeof(q->buf) - q->buffered);
                if (n == 0) {
                        /* EOF only counts once ipcd has opened the FIFO:
                         * before that POLLHUP is not reported. */
                        if (pfd.revents & POLLHUP)
                                q->eof = true;
                        continue;
                }
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return -errno;
                }
                q->buffered += (size_t)n;
        }
}

static int fifo_req_send(struct fifo_req *q, enum wire_ctl_cmd cmd, const char *name, pid_t pid)
{
        struct wire_ctl req = { .cmd = cmd, .pid = pid > 0 ? pid : getpid() };
        char line[WIRE_LINE_MAX + 1];
        int n;

        memcpy(req.nonce, q->nonce_hex, sizeof(req.nonce));
        memcpy(req.fifo, q->fifo, sizeof(req.fifo));
        if (name)
                snprintf(req.name, sizeof(req.name), "%s", name);
        n = wire_ctl_format(&req, line, sizeof(line));
        if (n < 0)
                return n;
        return tl_control_write(line, (size_t)n);
}

static void *grow(void *p, size_t n, size_t size)
{
        void *q = realloc(p, (n + 1) * size);

        CHECK_MSG(q, "out of memory");
        return q;
}

int tl_status_get(struct tl_status *st, int timeout_ms)
{
        struct fifo_req q;
        uint64_t deadline = tl_now_ms() + (uint64_t)timeout_ms;
        int r;

        memset(st, 0, sizeof(*st));
        r = fifo_req_open(&q);
        if (r < 0)
                return r;
        r = fifo_req_send(&q, WIRE_CTL_STATUS, NULL, 0);
        if (r < 0)
                goto out;

        for (;;) {
                union {
                        struct wire_status_daemon d;
                        struct wire_status_queue q;
                        struct wire_status_client c;
                        struct wire_status_ring r;
                        struct wire_status_channel ch;
                } u;
                uint64_t now = tl_now_ms();

                r = fifo_req_read(&q, &u, sizeof(u), now >= deadline ? 0 : (int)(deadline - now));
                if (r < 0)
                        goto out;
                switch (r) {
                case WIRE_REC_STATUS_DAEMON:
                        st->daemon = u.d;
                        break;
                case WIRE_REC_STATUS_QUEUE:
                        st->queues = grow(st->queues, st->n_queues, sizeof(*st->queues));
                        st->queues[st->n_queues++] = u.q;
                        break;
                case WIRE_REC_STATUS_CLIENT:
                        u.c.name[WIRE_NAME_MAX - 1] = '\0';
                        st->clients = grow(st->clients, st->n_clients, sizeof(*st->clients));
                        st->clients[st->n_clients++] = u.c;
                        break;
                case WIRE_REC_STATUS_RING:
                        u.r.name[WIRE_NAME_MAX - 1] = '\0';
                        st->rings = grow(st->rings, st->n_rings, sizeof(*st->rings));
                        st->rings[st->n_rings++] = u.r;
                        break;
                case WIRE_REC_STATUS_CHANNEL:
                        st->channels = grow(st->channels, st->n_channels, sizeof(*st->channels));
                        st->channels[st->n_channels++] = u.ch;
                        break;
                case WIRE_REC_END:
                        r = 0;
                        goto out;
                case WIRE_REC_ERROR:
                        r = -EPROTO;
                        goto out;
                default:
                        /* kinds added later (topics, ...): not ours to check */
                        break;
                }
        }
out:
        fifo_req_close(&q, false);
        if (r < 0)
                tl_status_free(st);
        return r;
}

void tl_status(struct tl_status *st)
{
        int r = tl_status_get(st, 30000);

        CHECK_MSG(r == 0, "STATUS request failed: %d (%s)", r, tl_errname(r));
}

void tl_status_free(struct tl_status *st)
{
        free(st->queues);
        free(st->clients);
        free(st->rings);
        free(st->channels);
        memset(st, 0, sizeof(*st));
}

const struct wire_status_client *tl_status_client(const struct tl_status *st, const char *name)
{
        for (size_t i = 0; i < st->n_clients; i++)
                if (strcmp(st->clients[i].name, name) == 0)
                        return &st->clients[i];
        return NULL;
}

const struct wire_status_client *tl_status_client_id(const struct tl_status *st, uint64_t id)
{
        for (size_t i = 0; i < st->n_clients; i++)
                if (st->clients[i].id == id)
                        return &st->clients[i];
        return NULL;
}

void tl_status_print(const struct tl_status *st, FILE *f)
{
        const struct wire_status_daemon *d = &st->daemon;

        fprintf(f,
                "daemon pid=%d clients=%u accepted=%llu routed=%llu dropped=%llu "
                "registrations=%llu refused=%llu bad_control=%llu bad_inbound=%llu "
                "backlog_bytes=%llu limit_hits=%llu queue_bytes=%u max_payload=%u\n",
                d->pid, d->nclients, (unsigned long long)d->accepted,
                (unsigned long long)d->routed, (unsigned long long)d->dropped,
                (unsigned long long)d->registrations, (unsigned long long)d->refused,
                (unsigned long long)d->bad_control, (unsigned long long)d->bad_inbound,
                (unsigned long long)d->backlog_bytes, (unsigned long long)d->limit_hits,
                d->queue_bytes, d->max_payload);
        for (size_t i = 0; i < st->n_queues; i++)
                fprintf(f, "queue uid=%u qid=%d clients=%u qnum=%u\n", st->queues[i].uid,
                        st->queues[i].qid, st->queues[i].nclients, st->queues[i].qnum);
        for (size_t i = 0; i < st->n_clients; i++) {
                const struct wire_status_client *c = &st->clients[i];

                fprintf(f,
                        "client id=%llu name=%s uid=%u pid=%d qid=%d inbound=%d queued=%llu "
                        "sent=%llu received=%llu dropped=%llu backlog_bytes=%llu\n",
                        (unsigned long long)c->id, c->name[0] ? c->name : "-", c->uid, c->pid,
                        c->qid, c->inbound_qid, (unsigned long long)c->queued,
                        (unsigned long long)c->sent, (unsigned long long)c->received,
                        (unsigned long long)c->dropped, (unsigned long long)c->backlog_bytes);
        }
        for (size_t i = 0; i < st->n_rings; i++)
                fprintf(f, "ring name=%s shmid=%d size=%llu used=%llu\n", st->rings[i].name,
                        st->rings[i].shmid, (unsigned long long)st->rings[i].size,
                        (unsigned long long)st->rings[i].used);
}

void tl_wait_clients(unsigned n)
{
        uint64_t deadline = tl_now_ms() + 10000;
        struct tl_status st;

        for (;;) {
                tl_status(&st);
                if (st.n_clients == n) {
                        tl_status_free(&st);
                        return;
                }
                if (tl_now_ms() > deadline) {
                        tl_status_print(&st, stderr);
                        tl_fail(__FILE__, __LINE__, "%zu clients listed after 10 s, expected %u",
                                st.n_clients, n);
                }
                tl_status_free(&st);
                tl_sleep_ms(5);
        }
}

int tl_raw_register(struct tl_raw *raw, const char *name, pid_t pid, int timeout_ms)
{
        struct fifo_req q;
        union {
                struct wire_rec_registered reg;
                struct wire_rec_error err;
        } u;
        int r;

        memset(raw, 0, sizeof(*raw));
        raw->reply_fd = -1;
        r = fifo_req_open(&q);
        if (r < 0)
                return r;
        r = fifo_req_send(&q, WIRE_CTL_REGISTER, name && *name ? name : NULL, pid);
        if (r < 0) {
                fifo_req_close(&q, false);
                return r;
        }
        r = fifo_req_read(&q, &u, sizeof(u), timeout_ms);
        if (r == WIRE_REC_REGISTERED) {
                raw->reg = u.reg;
                memcpy(raw->fifo, q.fifo, sizeof(raw->fifo));
                fifo_req_close(&q, true);
                raw->reply_fd = q.fd;
                return 0;
        }
        fifo_req_close(&q, false);
        if (r == WIRE_REC_ERROR) {
                raw->error = u.err.error;
                return u.err.error < 0 ? u.err.error : -EPROTO;
        }
        return r < 0 ? r : -EBADMSG;
}

void tl_raw_close(struct tl_raw *raw)
{
        if (raw->reply_fd >= 0)
                close(raw->reply_fd);
        raw->reply_fd = -1;
}

void tl_raw_header(const struct tl_raw *raw, struct wire_in *h, uint16_t op, const char *dst)
{
        memset(h, 0, sizeof(*h));
        h->client_id = raw->reg.client_id;
        memcpy(h->token, raw->reg.token, WIRE_TOKEN_SIZE);
        h->op = op;
        h->dst_len = dst ? (uint8_t)strlen(dst) : 0;
}

int tl_msgsnd(int qid, long mtype, const void *mtext, size_t len)
{
        struct {
                long mtype;
                char mtext[];
        } *m;
        int r = 0;

        m = malloc(sizeof(*m) + len + 1);
        CHECK_MSG(m, "out of memory");
        m->mtype = mtype;
        if (len)
                memcpy(m->mtext, mtext, len);
        if (msgsnd(qid, m, len, IPC_NOWAIT) < 0)
                r = -errno;
        free(m);
        return r;
}

/* ---- /proc/sysvipc ---- */

static int column(char *header, const char *name)
{
        int i = 0;

        for (char *save = NULL, *tok = strtok_r(header, " \t\n", &save); tok;
             tok = strtok_r(NULL, " \t\n", &save), i++)
                if (strcmp(tok, name) == 0)
                        return i;
        return -1;
}

static int sysv_scan(const char *kind, int id, struct tl_sysv *ret, unsigned *count, int *ids,
                     unsigned max)
{
        char path[64], line[1024], hdr[1024];
        const char *idcol = strcmp(kind, "msg") == 0 ? "msqid"
                            : strcmp(kind, "sem") == 0 ? "semid"
                                                       : "shmid";
        int ci, cp, cu, cg, ccu, ccg, cq;
        FILE *f;
        int found = 0;

        snprintf(path, sizeof(path), "/proc/sysvipc/%s", kind);
        f = fopen(path, "re");
        CHECK_MSG(f, "open %s: %s", path, strerror(errno));
        CHECK_MSG(fgets(line, sizeof(line), f), "%s: empty", path);
#define COL(var, name)                                                                             \
        do {                                                                                       \
                memcpy(hdr, line, sizeof(hdr));                                                    \
                var = column(hdr, name);                                                           \
        } while (0)
        COL(ci, idcol);
        COL(cp, "perms");
        COL(cu, "uid");
        COL(cg, "gid");
        COL(ccu, "cuid");
        COL(ccg, "cgid");
        COL(cq, "qnum");
#undef COL
        CHECK_MSG(ci >= 0 && cp >= 0 && cu >= 0, "%s: unexpected header", path);
        if (count)
                *count = 0;
        while (fgets(line, sizeof(line), f)) {
                char *save = NULL;
                unsigned long v[32] = { 0 };
                int n = 0;

                for (char *tok = strtok_r(line, " \t\n", &save); tok && n < 32;
                     tok = strtok_r(NULL, " \t\n", &save), n++)
                        v[n] = strtoul(tok, NULL, n == cp ? 8 : 10);
                if (n <= ci)
                        continue;
                if (ids && count && *count < max)
                        ids[*count] = (int)v[ci];
                if (count)
                        (*count)++;
                if ((int)v[ci] == id && ret) {
                        ret->id = id;
                        ret->perms = (unsigned)v[cp] & 0777;
                        ret->uid = (uid_t)v[cu];
                        ret->gid = cg >= 0 ? (gid_t)v[cg] : 0;
                        ret->cuid = ccu >= 0 ? (uid_t)v[ccu] : 0;
                        ret->cgid = ccg >= 0 ? (gid_t)v[ccg] : 0;
                        ret->qnum = cq >= 0 ? v[cq] : 0;
                        found = 1;
                } else if ((int)v[ci] == id)
                        found = 1;
        }
        fclose(f);
        return found;
}

int tl_sysv_find(const char *kind, int id, struct tl_sysv *ret)
{
        struct tl_sysv tmp;

        return sysv_scan(kind, id, ret ? ret : &tmp, NULL, NULL, 0);
}

unsigned tl_sysv_count(const char *kind)
{
        unsigned n;

        sysv_scan(kind, INT_MIN, NULL, &n, NULL, 0);
        return n;
}

unsigned tl_sysv_ids(const char *kind, int *ids, unsigned max)
{
        unsigned n;

        sysv_scan(kind, INT_MIN, NULL, &n, ids, max);
        return n < max ? n : max;
}

/* ---- a daemon of our own ---- */

pid_t tl_ipcd_start(void)
{
        const char *ipcd = getenv("IPCD");
        const char *config = getenv("IPCD_TEST_CONFIG");
        uint64_t deadline;
        pid_t pid;

        CHECK_MSG(ipcd && *ipcd, "$IPCD is not set");
        pid = fork();
        CHECK_MSG(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
                /* A test killed by its alarm takes its ipcd with it. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (config && *config)
                        execl(ipcd, ipcd, "--runtime-dir", rundir, "--config", config,
                              (char *)NULL);
                else
                        execl(ipcd, ipcd, "--runtime-dir", rundir, (char *)NULL);
                fprintf(stderr, "exec %s: %s\n", ipcd, strerror(errno));
                _exit(127);
        }

        deadline = tl_now_ms() + 60000;
        for (;;) {
                struct tl_status st;
                int status;

                if (waitpid(pid, &status, WNOHANG) == pid)
                        tl_fail(__FILE__, __LINE__, "ipcd exited during start-up (status %#x)",
                                status);
                if (tl_status_get(&st, 1000) == 0) {
                        CHECK_EQ(st.daemon.pid, pid);
                        tl_status_free(&st);
                        return pid;
                }
                CHECK_MSG(tl_now_ms() < deadline, "ipcd did not answer STATUS within 60 s");
                tl_sleep_ms(20);
        }
}

int tl_ipcd_stop(pid_t pid, int sig)
{
        int status;

        CHECK_MSG(kill(pid, sig) == 0, "kill ipcd: %s", strerror(errno));
        while (waitpid(pid, &status, 0) < 0)
                CHECK_MSG(errno == EINTR, "waitpid ipcd: %s", strerror(errno));
        return status;
}

/* ---- attacks ---- */

void tl_require_uids(uid_t first, unsigned n)
{
        FILE *f;
        unsigned a, b, len;
        bool mapped = false;

        if (geteuid() != 0)
                tl_skip("needs root to become other uids");
        f = fopen("/proc/self/uid_map", "re");
        while (f && fscanf(f, "%u %u %u", &a, &b, &len) == 3)
                if (a <= first && (uint64_t)first + n <= (uint64_t)a + len)
                        mapped = true;
        if (f)
                fclose(f);
        if (!mapped)
                tl_skip("uids %u..%u are not mapped in this user namespace", (unsigned)first,
                        (unsigned)first + n - 1);
}

void tl_become(uid_t uid, const gid_t *groups, size_t ngroups)
{
        CHECK_MSG(setgroups(ngroups, groups) == 0, "setgroups: %s", strerror(errno));
        CHECK_MSG(setgid((gid_t)uid) == 0, "setgid %u: %s", (unsigned)uid, strerror(errno));
        CHECK_MSG(setuid(uid) == 0, "setuid %u: %s", (unsigned)uid, strerror(errno));
        CHECK_EQ(getuid(), uid);
}

long tl_proc_kib(pid_t pid, const char *field)
{
        char path[64], line[256];
        size_t flen = strlen(field);
        long kib = -ENOENT;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, flen) == 0 && line[flen] == ':' &&
                    sscanf(line + flen + 1, "%ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

long tl_rss_kib(pid_t pid)
{
        return tl_proc_kib(pid, "VmRSS");
}

unsigned tl_status_uid_clients(const struct tl_status *st, uid_t uid)
{
        unsigned n = 0;

        for (size_t i = 0; i < st->n_clients; i++)
                if (st->clients[i].uid == (uint32_t)uid)
                        n++;
        return n;
}

int tl_status_park(struct tl_parked *p)
{
        struct fifo_req *q = calloc(1, sizeof(*q));
        int r;

        CHECK_MSG(q, "out of memory");
        p->fd = -1;
        p->path[0] = '\0';
        r = fifo_req_open(q);
        if (r >= 0)
                r = fifo_req_send(q, WIRE_CTL_STATUS, NULL, 0);
        if (r < 0) {
                fifo_req_close(q, false);
                free(q);
                return r;
        }
        p->fd = q->fd;
        snprintf(p->path, sizeof(p->path), "%s", q->path);
        free(q);
        return 0;
}

void tl_parked_close(struct tl_parked *p)
{
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
        if (p->path[0])
                unlink(p->path);
        p->path[0] = '\0';
}

char *tl_capture(const char *cmd, int *status)
{
        FILE *f = popen(cmd, "re");
        size_t len = 0, size = 4096;
        char *buf;
        int st;

        if (!f)
                return NULL;
        buf = malloc(size);
        CHECK_MSG(buf, "out of memory");
        for (;;) {
                size_t n = fread(buf + len, 1, size - len - 1, f);

                len += n;
                if (n == 0)
                        break;
                if (size - len < 2) {
                        size *= 2;
                        buf = realloc(buf, size);
                        CHECK_MSG(buf, "out of memory");
                }
        }
        buf[len] = '\0';
        st = pclose(f);
        if (status)
                *status = st;
        return buf;
}

void tl_skip_unless_nobody(void)
{
        tl_require_uids(TL_NOBODY, 1);
}

void tl_become_nobody(void)
{
        tl_become(TL_NOBODY, NULL, 0);
}

/* The parent and state of process pid from /proc/PID/stat; false if gone. */
static bool proc_stat(pid_t pid, pid_t *ppid, char *state, char *comm, size_t commlen)
{
        char path[64], buf[512], *rp;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        rp = strrchr(buf, ')');
        if (!rp || !strchr(buf, '('))
                return false;
        *rp = '\0';
        snprintf(comm, commlen, "%s", strchr(buf, '(') + 1);
        return sscanf(rp + 1, " %c %d", state, ppid) == 2;
}

void tl_ipcd_kill_sentinel(pid_t ipcd)
{
        DIR *d = opendir("/proc");
        struct dirent *e;
        pid_t sentinel = 0;
        uint64_t deadline;

        CHECK(d);
        while (d && (e = readdir(d))) {
                pid_t pid = (pid_t)atoi(e->d_name), ppid;
                char state, comm[64];

                if (pid > 0 && proc_stat(pid, &ppid, &state, comm, sizeof(comm)) &&
                    ppid == ipcd && strcmp(comm, "ipcd-sentinel") == 0)
                        sentinel = pid;
        }
        if (d)
                closedir(d);
        CHECK_MSG(sentinel > 0, "ipcd %d has no sentinel", (int)ipcd);
        CHECK(kill(sentinel, SIGKILL) == 0);
        deadline = tl_now_ms() + 10000; /* hang guard */
        for (;;) {
                pid_t ppid;
                char state, comm[64];

                if (!proc_stat(sentinel, &ppid, &state, comm, sizeof(comm)) || state == 'Z' ||
                    state == 'X')
                        break;
                CHECK_MSG(tl_now_ms() < deadline, "sentinel %d does not die", (int)sentinel);
                tl_sleep_ms(1);
        }
}
