/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-hostile - what a misbehaving or malicious local process writes.
 *
 * Control FIFO: garbage lines, truncated and over-long lines, binary junk,
 * NUL bytes, wrong versions, bad pids, a reply "FIFO" that is a regular
 * file, a symlink, or a hard link to someone else's FIFO, and a stray
 * partial line that swallows the next request.  Inbound queue: forged
 * tokens, unknown and borrowed client ids, truncated records, nonsense
 * lengths and ops, reserved and invalid types, foreign mtypes.
 *
 * Asserts: ipcd keeps serving (same pid, STATUS answers); nothing forged
 * is delivered, nobody is impersonated or unregistered by someone else's
 * forged record; the inbound queue is drained of the junk; a normal
 * exchange works afterwards, with the right sender stamped; the daemon's
 * counters show the rejected lines and records.  The delivered bytes are
 * also checked by hand against wire.h (a raw client reads its own queue).
 */
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlib.h"

static void hexrand(char out[WIRE_HEX_LEN + 1])
{
        uint8_t b[16];

        CHECK(getrandom(b, sizeof(b), 0) == sizeof(b));
        wire_hex_encode(b, sizeof(b), out);
}

static void ctl(const char *s)
{
        CHECK_OK(tl_control_write(s, strlen(s)));
}

/* A FIFO of ours in clients/, open for reading; returns the fd. */
static int make_fifo(char name[WIRE_HEX_LEN + 1], char path[PATH_MAX])
{
        int fd;

        hexrand(name);
        snprintf(path, PATH_MAX, "%s/clients/%s", tl_rundir(), name);
        CHECK(mkfifo(path, 0600) == 0);
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(fchmod(fd, 0622) == 0);
        return fd;
}

/* Nothing was written to fd: ipcd did not accept the registration. */
static void check_not_registered(int fd, const char *name, const char *what)
{
        struct tl_status st;
        char buf[64];
        ssize_t n;

        /* STATUS is answered after the lines written before it */
        tl_status(&st);
        CHECK_MSG(!tl_status_client(&st, name), "%s: registered as \"%s\"", what, name);
        tl_status_free(&st);
        n = read(fd, buf, sizeof(buf));
        if (n > 0) {
                struct wire_rec h;

                CHECK((size_t)n >= sizeof(h));
                memcpy(&h, buf, sizeof(h));
                CHECK_MSG(h.kind == WIRE_REC_ERROR, "%s: got a reply of kind %u", what, h.kind);
        }
}

static void test_control(void)
{
        char line[WIRE_LINE_MAX * 4];
        char nonce[WIRE_HEX_LEN + 1], fifo[WIRE_HEX_LEN + 1], path[PATH_MAX], path2[PATH_MAX];
        struct tl_status st;
        uint64_t bad_before;
        pid_t me = getpid();
        int fd;

        tl_status(&st);
        bad_before = st.daemon.bad_control;
        tl_status_free(&st);

        hexrand(nonce);
        hexrand(fifo);
        ctl("garbage\n");
        ctl("\n");
        ctl("REGISTER\n");
        ctl("REGISTER 1\n");
        snprintf(line, sizeof(line), "STATUS 2 %s %s\n", nonce, fifo); /* version */
        ctl(line);
        snprintf(line, sizeof(line), "REGISTER 1 %s %s 0 zero-pid\n", nonce, fifo);
        ctl(line);
        snprintf(line, sizeof(line), "REGISTER 1 %s %s -1 neg-pid\n", nonce, fifo);
        ctl(line);
        snprintf(line, sizeof(line), "REGISTER 1 %s ../../../../etc/passwd %d x\n", nonce,
                 (int)me);
        ctl(line);
        snprintf(line, sizeof(line), "REGISTER  1 %s %s %d two-spaces\n", nonce, fifo, (int)me);
        ctl(line);
        snprintf(line, sizeof(line), "REGISTER 1 %s %s %d bad!name\n", nonce, fifo, (int)me);
        ctl(line);
        snprintf(line, sizeof(line), "register 1 %s %s %d lower\n", nonce, fifo, (int)me);
        ctl(line);
        /* NUL bytes inside a line */
        {
                char nul[] = "STATUS\0001 x\n";

                CHECK_OK(tl_control_write(nul, sizeof(nul) - 1));
        }
        /* binary junk, newline-terminated */
        {
                uint8_t junk[512];

                CHECK(getrandom(junk, sizeof(junk), 0) == sizeof(junk));
                for (size_t i = 0; i < sizeof(junk); i++)
                        if (junk[i] == '\n')
                                junk[i] = 0xff;
                junk[sizeof(junk) - 1] = '\n';
                CHECK_OK(tl_control_write(junk, sizeof(junk)));
        }
        /* an over-long line: several PIPE_BUFs without a newline */
        memset(line, 'A', sizeof(line));
        line[sizeof(line) - 1] = '\n';
        CHECK_OK(tl_control_write(line, sizeof(line)));
        /* a valid-looking request hidden in an over-long line must not be
         * obeyed */
        fd = make_fifo(fifo, path);
        memset(line, 'B', sizeof(line));
        hexrand(nonce);
        /* at exactly PIPE_BUF: where a reader that cuts long lines into
         * PIPE_BUF pieces would see a line start */
        snprintf(line + WIRE_LINE_MAX, sizeof(line) - WIRE_LINE_MAX,
                 "REGISTER 1 %s %s %d hidden\n", nonce, fifo, (int)me);
        CHECK_OK(tl_control_write(line, strlen(line)));
        check_not_registered(fd, "hidden", "request inside an over-long line");
        close(fd);
        unlink(path);

        /* the daemon still answers and counted the garbage */
        tl_status(&st);
        tl_log("bad_control %llu -> %llu", (unsigned long long)bad_before,
               (unsigned long long)st.daemon.bad_control);
        CHECK_MSG(st.daemon.bad_control >= bad_before + 12,
                  "bad_control counted %llu of at least 12 bad lines",
                  (unsigned long long)(st.daemon.bad_control - bad_before));
        tl_status_free(&st);

        /* a reply "FIFO" that is a regular file */
        hexrand(fifo);
        snprintf(path, sizeof(path), "%s/clients/%s", tl_rundir(), fifo);
        fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0622);
        CHECK(fd >= 0);
        hexrand(nonce);
        snprintf(line, sizeof(line), "REGISTER 1 %s %s %d regular-file\n", nonce, fifo, (int)me);
        ctl(line);
        tl_status(&st);
        CHECK(!tl_status_client(&st, "regular-file"));
        tl_status_free(&st);
        {
                struct stat sb;

                CHECK(fstat(fd, &sb) == 0);
                CHECK_MSG(sb.st_size == 0, "ipcd wrote %lld bytes into a regular file",
                          (long long)sb.st_size);
        }
        close(fd);
        unlink(path);

        /* a symlink to another FIFO (O_NOFOLLOW) */
        fd = make_fifo(fifo, path);
        {
                char link_name[WIRE_HEX_LEN + 1];

                hexrand(link_name);
                snprintf(path2, sizeof(path2), "%s/clients/%s", tl_rundir(), link_name);
                CHECK(symlink(path, path2) == 0);
                hexrand(nonce);
                snprintf(line, sizeof(line), "REGISTER 1 %s %s %d via-symlink\n", nonce,
                         link_name, (int)me);
                ctl(line);
                check_not_registered(fd, "via-symlink", "symlinked reply FIFO");
                unlink(path2);
        }
        /* a hard link to that FIFO (st_nlink 2) */
        {
                char link_name[WIRE_HEX_LEN + 1];

                hexrand(link_name);
                snprintf(path2, sizeof(path2), "%s/clients/%s", tl_rundir(), link_name);
                CHECK(link(path, path2) == 0);
                hexrand(nonce);
                snprintf(line, sizeof(line), "REGISTER 1 %s %s %d via-hardlink\n", nonce,
                         link_name, (int)me);
                ctl(line);
                check_not_registered(fd, "via-hardlink", "hard-linked reply FIFO");
                unlink(path2);
        }
        close(fd);
        unlink(path);

        /* a stray partial line glues onto the next request; the library
         * retries, so connecting still works */
        ctl("REGISTER 1 deadbeef");
        {
                ipcd_client *c = tl_connect("after-stray");

                tl_send(c, "after-stray", 1, "ok", 2, IPCD_ACK);
                tl_expect(c, 0, 1, "ok", 2, "after-stray");
                ipcd_close(c);
        }
}

/* One inbound message holding one record (header h, dst, payload). */
static void inbound(int qid, long mtype, const struct wire_in *h, const char *dst,
                    const void *payload, size_t payload_len)
{
        uint8_t buf[1024];
        size_t n = sizeof(*h);

        CHECK(sizeof(*h) + 64 + payload_len <= sizeof(buf));
        memset(buf, 0, sizeof(buf));
        memcpy(buf, h, sizeof(*h));
        if (dst) {
                /* wire.h: the destination is padded to 8, the payload follows */
                memcpy(buf + n, dst, strlen(dst));
                n += ALIGN8(strlen(dst));
        }
        if (payload_len) {
                memcpy(buf + n, payload, payload_len);
                n += payload_len;
        }
        n = ALIGN8(n);
        CHECK_OK(tl_msgsnd(qid, mtype, buf, n));
}

static void test_inbound(void)
{
        ipcd_client *alice = tl_connect("alice"), *bob = tl_connect("bob");
        struct tl_raw r1, r2;
        struct tl_status st;
        struct wire_in h;
        uint64_t bad_before;
        int qu;
        unsigned nbad = 0;

        CHECK_OK(tl_raw_register(&r1, "raw1", 0, 30000));
        CHECK_OK(tl_raw_register(&r2, "raw2", 0, 30000));
        qu = r1.reg.inbound_qid;
        CHECK_EQ(r2.reg.inbound_qid, qu);
        CHECK(r1.reg.client_id != r2.reg.client_id);
        CHECK(memcmp(r1.reg.token, r2.reg.token, WIRE_TOKEN_SIZE) != 0);
        CHECK(r1.reg.max_qmsg > 0 && r1.reg.max_payload > 0);

        tl_status(&st);
        CHECK_EQ(r1.reg.daemon_pid, st.daemon.pid);
        bad_before = st.daemon.bad_inbound;
        CHECK(tl_status_client(&st, "alice")->inbound_qid == qu);
        tl_status_free(&st);

        /* forged token on r1's id */
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
        h.token[0] ^= 1;
        h.type = 1;
        h.len = 6;
        inbound(qu, WIRE_MTYPE_IN, &h, "bob", "forged", 6);
        nbad++;
        /* an id nobody has */
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
        h.client_id = 0x7fffffff12345678ULL;
        h.type = 1;
        h.len = 7;
        inbound(qu, WIRE_MTYPE_IN, &h, "bob", "unknown", 7);
        nbad++;
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
        h.client_id = 0;
        h.type = 1;
        h.len = 4;
        inbound(qu, WIRE_MTYPE_IN, &h, "bob", "zero", 4);
        nbad++;
        /* alice's id with raw2's token: impersonation */
        tl_raw_header(&r2, &h, WIRE_OP_SEND, "bob");
        h.client_id = ipcd_id(alice);
        h.type = 1;
        h.len = 11;
        inbound(qu, WIRE_MTYPE_IN, &h, "bob", "impersonate", 11);
        nbad++;
        /* forged UNREGISTER, PULL, TIMED for alice */
        for (uint16_t op = WIRE_OP_UNREGISTER; op <= WIRE_OP_TIMED; op++) {
                tl_raw_header(&r2, &h, op, NULL);
                h.client_id = ipcd_id(alice);
                inbound(qu, WIRE_MTYPE_IN, &h, NULL, NULL, 0);
                nbad++;
        }

        /* truncated and empty messages */
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
        CHECK_OK(tl_msgsnd(qu, WIRE_MTYPE_IN, &h, 20));
        CHECK_OK(tl_msgsnd(qu, WIRE_MTYPE_IN, &h, 1));
        nbad += 2;
        CHECK_OK(tl_msgsnd(qu, WIRE_MTYPE_IN, "", 0)); /* empty: maybe not counted */

        /* nonsense with r1's valid token (r1 may be kicked for it) */
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
        h.dst_len = 200; /* > 63 */
        h.type = 1;
        inbound(qu, WIRE_MTYPE_IN, &h, "bob", NULL, 0);
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
        h.type = 1;
        h.len = 0xffffffffu;
        inbound(qu, WIRE_MTYPE_IN, &h, "bob", "huge", 4);
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
        h.type = 1;
        h.len = 500; /* more than follows */
        inbound(qu, WIRE_MTYPE_IN, &h, "bob", "short", 5);
        nbad += 3;
        {
                static const int64_t bad_types[] = {
                        0, -5, (int64_t)1 << 31, WIRE_TYPE_NOTICE, WIRE_TYPE_PULL,
                        WIRE_TYPE_REPLY_BASE, WIRE_TYPE_REPLY_BASE + 1, INT64_MAX, INT64_MIN,
                };

                for (size_t i = 0; i < ELEMENTSOF(bad_types); i++) {
                        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
                        h.type = bad_types[i];
                        h.len = 8;
                        inbound(qu, WIRE_MTYPE_IN, &h, "bob", "badtype!", 8);
                        nbad++;
                }
        }
        for (uint16_t op = 0; op < 3; op++) {
                static const uint16_t bad_ops[] = { 0, 999, 0xffff };

                tl_raw_header(&r1, &h, bad_ops[op], "bob");
                h.type = 1;
                h.len = 5;
                inbound(qu, WIRE_MTYPE_IN, &h, "bob", "badop", 5);
                nbad++;
        }
        /* empty destination, invalid destination characters */
        tl_raw_header(&r1, &h, WIRE_OP_SEND, NULL);
        h.type = 1;
        h.len = 5;
        inbound(qu, WIRE_MTYPE_IN, &h, NULL, "nodst", 5);
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "b\nb");
        h.type = 1;
        h.len = 5;
        inbound(qu, WIRE_MTYPE_IN, &h, "b\nb", "baddst", 6);
        nbad += 2;
        /* foreign mtypes on the inbound queue (forged token too, so that
         * they are bad whether or not ipcd looks at the mtype) */
        tl_raw_header(&r1, &h, WIRE_OP_SEND, "bob");
        h.token[3] ^= 0x40;
        h.type = 1;
        h.len = 7;
        inbound(qu, 7, &h, "bob", "mtype 7", 7);
        inbound(qu, WIRE_TYPE_REPLY_BASE, &h, "bob", "mtype 7", 7);
        /* raw binary junk */
        {
                uint8_t junk[600];

                CHECK(getrandom(junk, sizeof(junk), 0) == sizeof(junk));
                CHECK_OK(tl_msgsnd(qu, WIRE_MTYPE_IN, junk, sizeof(junk)));
                nbad++;
        }

        /* now raw2 sends properly; when bob has it, ipcd has processed all
         * of the above (one inbound queue, read in order) */
        tl_raw_header(&r2, &h, WIRE_OP_SEND, "bob");
        h.type = 99;
        h.len = 10;
        inbound(qu, WIRE_MTYPE_IN, &h, "bob", "legitimate", 10);
        {
                ipcd_msg m;

                CHECK_OK(tl_recv(bob, &m, 0, 30000));
                CHECK_MSG(m.type == 99, "bob got type %ld \"%.*s\" from \"%s\" first", m.type,
                          (int)m.len, (const char *)m.data, m.sender);
                CHECK_EQ(m.len, 10);
                CHECK(memcmp(m.data, "legitimate", 10) == 0);
                CHECK_STREQ(m.sender, "raw2");
                CHECK_EQ(m.sender_id, r2.reg.client_id);
                CHECK_EQ(m.sender_uid, getuid());
                CHECK_EQ(m.sender_pid, getpid());
                ipcd_msg_release(bob, &m);
        }
        tl_expect_empty(bob);

        /* alice was not unregistered by the forged records and still works */
        tl_send(alice, "bob", 5, "from alice", 10, IPCD_ACK);
        tl_expect(bob, 0, 5, "from alice", 10, "alice");
        tl_send(bob, "alice", 6, "to alice", 8, IPCD_ACK);
        tl_expect(alice, 0, 6, "to alice", 8, "bob");

        /* bob -> raw2: read raw2's own queue by hand and decode wire_out */
        tl_send(bob, "raw2", 77, "to raw", 6, IPCD_ACK);
        {
                size_t cap = r2.reg.max_qmsg;
                struct {
                        long mtype;
                        uint8_t mtext[];
                } *qm = malloc(sizeof(long) + cap);
                struct wire_out o;
                const char *name, *topic;
                const void *payload;
                size_t off = 0;
                ssize_t n;

                CHECK(qm);
                n = msgrcv(r2.reg.queue_qid, qm, cap, 0, IPC_NOWAIT);
                CHECK_MSG(n > 0, "raw2's queue: %s", n < 0 ? strerror(errno) : "empty message");
                CHECK_EQ(qm->mtype, 77);
                CHECK_EQ(wire_out_next(qm->mtext, (size_t)n, &off, &o, &name, &topic, &payload),
                         1);
                CHECK_EQ(o.kind, WIRE_OUT_MSG);
                CHECK_EQ(o.type, 77);
                CHECK_EQ(o.len, 6);
                CHECK(memcmp(payload, "to raw", 6) == 0);
                CHECK_EQ(o.name_len, 3);
                CHECK(memcmp(name, "bob", 3) == 0);
                CHECK_EQ(o.topic_len, 0);
                CHECK_EQ(o.sender_id, ipcd_id(bob));
                CHECK_EQ(o.sender_uid, getuid());
                CHECK_EQ(o.sender_pid, getpid());
                free(qm);
        }

        /* the junk was drained from the inbound queue, and counted */
        {
                struct tl_sysv q;

                CHECK(tl_sysv_find("msg", qu, &q));
                CHECK_MSG(q.qnum == 0, "%lu junk messages left in the inbound queue", q.qnum);
        }
        tl_status(&st);
        tl_log("bad_inbound %llu -> %llu (%u bad records written)",
               (unsigned long long)bad_before, (unsigned long long)st.daemon.bad_inbound, nbad);
        CHECK_MSG(st.daemon.bad_inbound >= bad_before + nbad,
                  "bad_inbound counted %llu of %u bad records",
                  (unsigned long long)(st.daemon.bad_inbound - bad_before), nbad);
        CHECK(tl_status_client(&st, "alice"));
        CHECK(tl_status_client(&st, "raw2"));
        tl_status_free(&st);

        tl_raw_close(&r1);
        tl_raw_close(&r2);
        ipcd_close(alice);
        ipcd_close(bob);
}

int main(int argc, char **argv)
{
        struct tl_status st;
        int32_t pid;

        tl_init(argc, argv);
        tl_status(&st);
        pid = st.daemon.pid;
        tl_status_free(&st);

        test_control();
        test_inbound();

        tl_status(&st);
        CHECK_EQ(st.daemon.pid, pid);
        tl_status_free(&st);
        return 0;
}
