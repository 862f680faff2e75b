/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-wire.c - unit test of wire.c: control lines (including hostile
 * ones), reply FIFO records, inbound and delivered queue records (round
 * trips, batches, truncated and malicious lengths), hex and tokens.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/wire.h"
#include "shared/test-util.h"

#define NONCE "0123456789abcdef0123456789abcdef"
#define FIFO "fedcba9876543210fedcba9876543210"

static int parse(const char *line, struct wire_ctl *req)
{
        return wire_ctl_parse(line, strlen(line), req);
}

/* ---- control lines ---- */

static void test_ctl_valid(void)
{
        struct wire_ctl req;

        CHECK(parse("REGISTER 1 " NONCE " " FIFO " 1234 sensor/temp", &req) == 0);
        CHECK(req.cmd == WIRE_CTL_REGISTER);
        CHECK(strcmp(req.nonce, NONCE) == 0);
        CHECK(strcmp(req.fifo, FIFO) == 0);
        CHECK(req.pid == 1234);
        CHECK(strcmp(req.name, "sensor/temp") == 0);

        CHECK(parse("REGISTER 1 " NONCE " " FIFO " 1 -", &req) == 0);
        CHECK(req.cmd == WIRE_CTL_REGISTER);
        CHECK(req.pid == 1);
        CHECK(req.name[0] == '\0'); /* anonymous */

        CHECK(parse("STATUS 1 " NONCE " " FIFO, &req) == 0);
        CHECK(req.cmd == WIRE_CTL_STATUS);
        CHECK(strcmp(req.nonce, NONCE) == 0);
        CHECK(strcmp(req.fifo, FIFO) == 0);

        CHECK(parse("REEXEC 1 " NONCE " " FIFO " 77", &req) == 0);
        CHECK(req.cmd == WIRE_CTL_REEXEC && req.pid == 77);
        CHECK(strcmp(req.fifo, FIFO) == 0);
        CHECK(parse("REEXEC 1 " NONCE " " FIFO, &req) == -EBADMSG);
        CHECK(parse("REEXEC 1 " NONCE " " FIFO " 0", &req) == -EBADMSG);
        CHECK(parse("REEXEC 1 " NONCE " " FIFO " 07", &req) == -EBADMSG);
        CHECK(parse("REEXEC 1 " NONCE " " FIFO " 7 x", &req) == -EBADMSG);

        /* The parser takes a counted line: bytes after len are not read. */
        {
                const char *s = "STATUS 1 " NONCE " " FIFO "GARBAGE";

                CHECK(wire_ctl_parse(s, strlen(s) - 7, &req) == 0);
                CHECK(req.cmd == WIRE_CTL_STATUS);
        }

        /* Largest pid the parser takes. */
        CHECK(parse("REGISTER 1 " NONCE " " FIFO " 1073741823 x", &req) == 0);
        CHECK(req.pid == 1073741823);

        /* A 63-byte name is the longest. */
        {
                char line[256], name[64];

                memset(name, 'n', 63);
                name[63] = '\0';
                snprintf(line, sizeof(line), "REGISTER 1 %s %s 7 %s", NONCE, FIFO, name);
                CHECK(parse(line, &req) == 0);
                CHECK(strcmp(req.name, name) == 0);
        }
}

static void test_ctl_hostile(void)
{
        static const char *const bad[] = {
                "",
                " ",
                "REGISTER",
                "REGISTER 1",
                "REGISTER 1 " NONCE,
                "REGISTER 1 " NONCE " " FIFO,
                "REGISTER 1 " NONCE " " FIFO " 1234",
                /* wrong version */
                "REGISTER 0 " NONCE " " FIFO " 1234 x",
                "REGISTER 2 " NONCE " " FIFO " 1234 x",
                "REGISTER 01 " NONCE " " FIFO " 1234 x",
                "REGISTER 1.0 " NONCE " " FIFO " 1234 x",
                "STATUS 2 " NONCE " " FIFO,
                /* wrong command */
                "register 1 " NONCE " " FIFO " 1234 x",
                "REGISTERX 1 " NONCE " " FIFO " 1234 x",
                "STATU 1 " NONCE " " FIFO,
                "KICK 1 " NONCE " " FIFO,
                /* bad hex: not hex, uppercase, too short, too long */
                "REGISTER 1 0123456789abcdef0123456789abcdeg " FIFO " 1234 x",
                "REGISTER 1 0123456789ABCDEF0123456789abcdef " FIFO " 1234 x",
                "REGISTER 1 " NONCE " FEDCBA9876543210fedcba9876543210 1234 x",
                "REGISTER 1 0123456789abcdef0123456789abcde " FIFO " 1234 x",
                "REGISTER 1 0123456789abcdef0123456789abcdef0 " FIFO " 1234 x",
                "REGISTER 1 " NONCE " ../../../../etc/passwd0123456789ab 1234 x",
                "STATUS 1 " NONCE " fedcba9876543210fedcba987654321/",
                /* double, leading, trailing spaces; tabs */
                "REGISTER  1 " NONCE " " FIFO " 1234 x",
                "REGISTER 1  " NONCE " " FIFO " 1234 x",
                "REGISTER 1 " NONCE " " FIFO "  1234 x",
                "REGISTER 1 " NONCE " " FIFO " 1234  x",
                " REGISTER 1 " NONCE " " FIFO " 1234 x",
                "REGISTER 1 " NONCE " " FIFO " 1234 x ",
                "REGISTER\t1 " NONCE " " FIFO " 1234 x",
                "STATUS 1 " NONCE " " FIFO " ",
                /* pid: zero, leading zero, negative, sign, not a number, huge */
                "REGISTER 1 " NONCE " " FIFO " 0 x",
                "REGISTER 1 " NONCE " " FIFO " 01234 x",
                "REGISTER 1 " NONCE " " FIFO " -1 x",
                "REGISTER 1 " NONCE " " FIFO " +1 x",
                "REGISTER 1 " NONCE " " FIFO " 12a x",
                "REGISTER 1 " NONCE " " FIFO " 0x10 x",
                "REGISTER 1 " NONCE " " FIFO " 1073741824 x",
                "REGISTER 1 " NONCE " " FIFO " 4294967297 x",
                "REGISTER 1 " NONCE " " FIFO " 99999999999999999999 x",
                /* name invalid */
                "REGISTER 1 " NONCE " " FIFO " 1234 a*b",
                "REGISTER 1 " NONCE " " FIFO " 1234 caf\xc3\xa9",
                "REGISTER 1 " NONCE " " FIFO " 1234 x\r",
                "REGISTER 1 " NONCE " " FIFO " 1234 "
                "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
                /* trailing junk: an extra field */
                "REGISTER 1 " NONCE " " FIFO " 1234 x y",
                "STATUS 1 " NONCE " " FIFO " x",
                "STATUS 1 " NONCE " " FIFO " 1234 x",
        };
        struct wire_ctl req;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = parse(bad[i], &req);

                if (r != -EBADMSG) {
                        fprintf(stderr, "accepted bad line %zu: \"%s\" (%d)\n", i, bad[i], r);
                        failures++;
                }
        }

        /* Embedded NUL, counted length. */
        {
                char line[128];
                int n = snprintf(line, sizeof(line), "STATUS 1 %s %s", NONCE, FIFO);

                line[3] = '\0';
                CHECK(wire_ctl_parse(line, (size_t)n, &req) == -EBADMSG);
        }

        /* Too long: PIPE_BUF bytes or more is never a line. */
        {
                size_t n = WIRE_LINE_MAX + 16;
                char *line = malloc(n + 1);

                CHECK(line != NULL);
                if (line) {
                        int k = snprintf(line, n + 1, "REGISTER 1 %s %s 1234 x", NONCE, FIFO);

                        memset(line + k, 'x', n - (size_t)k);
                        line[n] = '\0';
                        CHECK(wire_ctl_parse(line, n, &req) == -EBADMSG);
                        CHECK(wire_ctl_parse(line, WIRE_LINE_MAX, &req) == -EBADMSG);
                        free(line);
                }
        }

        /* A rejected line leaves no stale fields behind. */
        CHECK(parse("REGISTER 1 " NONCE " " FIFO " 0 x", &req) == -EBADMSG);
        CHECK(req.pid == 0 && req.name[0] == '\0');
}

static void test_ctl_format(void)
{
        struct wire_ctl req = {.cmd = WIRE_CTL_REGISTER, .pid = 42}, back;
        char line[WIRE_LINE_MAX + 1];
        int n;

        memcpy(req.nonce, NONCE, sizeof(req.nonce));
        memcpy(req.fifo, FIFO, sizeof(req.fifo));
        strcpy(req.name, "svc.a");
        n = wire_ctl_format(&req, line, sizeof(line));
        CHECK(n > 0);
        CHECK(n == (int)strlen(line));
        CHECK(strcmp(line, "REGISTER 1 " NONCE " " FIFO " 42 svc.a\n") == 0);
        /* Round trip (the parser takes the line without its '\n'). */
        CHECK(wire_ctl_parse(line, (size_t)n - 1, &back) == 0);
        CHECK(back.cmd == WIRE_CTL_REGISTER && back.pid == 42);
        CHECK(strcmp(back.name, "svc.a") == 0 && strcmp(back.nonce, NONCE) == 0 &&
              strcmp(back.fifo, FIFO) == 0);

        /* Anonymous. */
        req.name[0] = '\0';
        n = wire_ctl_format(&req, line, sizeof(line));
        CHECK(n > 0 && strcmp(line, "REGISTER 1 " NONCE " " FIFO " 42 -\n") == 0);
        CHECK(wire_ctl_parse(line, (size_t)n - 1, &back) == 0 && back.name[0] == '\0');

        /* STATUS. */
        req.cmd = WIRE_CTL_STATUS;
        n = wire_ctl_format(&req, line, sizeof(line));
        CHECK(n > 0 && strcmp(line, "STATUS 1 " NONCE " " FIFO "\n") == 0);
        CHECK(wire_ctl_parse(line, (size_t)n - 1, &back) == 0 && back.cmd == WIRE_CTL_STATUS);

        /* POLICY. */
        req.cmd = WIRE_CTL_POLICY;
        n = wire_ctl_format(&req, line, sizeof(line));
        CHECK(n > 0 && strcmp(line, "POLICY 1 " NONCE " " FIFO "\n") == 0);
        CHECK(wire_ctl_parse(line, (size_t)n - 1, &back) == 0 && back.cmd == WIRE_CTL_POLICY);
        CHECK(wire_ctl_parse("POLICY 1 " NONCE " " FIFO " x", strlen("POLICY 1 " NONCE " " FIFO " x"),
                             &back) == -EBADMSG);

        /* REEXEC. */
        req.cmd = WIRE_CTL_REEXEC;
        n = wire_ctl_format(&req, line, sizeof(line));
        CHECK(n > 0 && strcmp(line, "REEXEC 1 " NONCE " " FIFO " 42\n") == 0);
        CHECK(wire_ctl_parse(line, (size_t)n - 1, &back) == 0 && back.cmd == WIRE_CTL_REEXEC &&
              back.pid == 42);

        /* Bad fields are refused, never formatted. */
        req.cmd = WIRE_CTL_REGISTER;
        req.pid = 0;
        CHECK(wire_ctl_format(&req, line, sizeof(line)) == -EINVAL);
        req.pid = -5;
        CHECK(wire_ctl_format(&req, line, sizeof(line)) == -EINVAL);
        req.pid = 42;
        strcpy(req.name, "bad name");
        CHECK(wire_ctl_format(&req, line, sizeof(line)) == -EINVAL);
        strcpy(req.name, "ok");
        memcpy(req.nonce, "0123456789ABCDEF0123456789abcdef", sizeof(req.nonce));
        CHECK(wire_ctl_format(&req, line, sizeof(line)) == -EINVAL);
        memcpy(req.nonce, NONCE, sizeof(req.nonce));
        strcpy(req.fifo, "abc");
        CHECK(wire_ctl_format(&req, line, sizeof(line)) == -EINVAL);
        memcpy(req.fifo, FIFO, sizeof(req.fifo));
        req.cmd = (enum wire_ctl_cmd)99;
        CHECK(wire_ctl_format(&req, line, sizeof(line)) == -EINVAL);
        req.cmd = WIRE_CTL_REGISTER;
        /* Buffer too small. */
        CHECK(wire_ctl_format(&req, line, 20) == -ENOBUFS);
        CHECK(wire_ctl_format(&req, line, sizeof(line)) > 0);
}

/* ---- hex and tokens ---- */

static void test_hex(void)
{
        uint8_t in[16], out[16];
        char hex[33];

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (uint8_t)(i * 17 + 3);
        wire_hex_encode(in, sizeof(in), hex);
        CHECK(strlen(hex) == 32);
        for (size_t i = 0; i < 32; i++)
                CHECK((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'));
        CHECK(wire_hex_decode(hex, out, sizeof(out)) == 0);
        CHECK(memcmp(in, out, sizeof(in)) == 0);

        {
                const uint8_t two[2] = {0x00, 0xff};

                wire_hex_encode(two, 2, hex);
                CHECK(strcmp(hex, "00ff") == 0);
        }
        CHECK(wire_hex_decode("00ff", out, 2) == 0 && out[0] == 0 && out[1] == 0xff);
        CHECK(wire_hex_decode("00FF", out, 2) == -EINVAL);  /* uppercase */
        CHECK(wire_hex_decode("00f", out, 2) == -EINVAL);   /* short */
        CHECK(wire_hex_decode("00ff0", out, 2) == -EINVAL); /* long */
        CHECK(wire_hex_decode("0g00", out, 2) == -EINVAL);
        CHECK(wire_hex_decode(" 0ff", out, 2) == -EINVAL);
        CHECK(wire_hex_decode("", out, 0) == 0);
}

static void test_token(void)
{
        uint8_t a[WIRE_TOKEN_SIZE], b[WIRE_TOKEN_SIZE];

        for (size_t i = 0; i < WIRE_TOKEN_SIZE; i++)
                a[i] = b[i] = (uint8_t)(0xa5 ^ i);
        CHECK(wire_token_equal(a, b));
        for (size_t i = 0; i < WIRE_TOKEN_SIZE; i++) {
                b[i] ^= 0x01;
                CHECK(!wire_token_equal(a, b));
                b[i] ^= 0x01;
                b[i] ^= 0x80;
                CHECK(!wire_token_equal(a, b));
                b[i] ^= 0x80;
        }
        CHECK(wire_token_equal(a, b));
}

/* ---- reply FIFO records ---- */

static void test_rec(void)
{
        uint8_t buf[WIRE_REC_MAX + 64], nonce[WIRE_NONCE_SIZE];
        struct wire_rec_registered reg = {.client_id = 7, .inbound_qid = 3, .max_payload = 4000};
        struct wire_rec_registered back;
        struct wire_rec h;
        int n;

        for (size_t i = 0; i < sizeof(nonce); i++)
                nonce[i] = (uint8_t)i;

        n = wire_rec_put(buf, sizeof(buf), WIRE_REC_REGISTERED, nonce, &reg, sizeof(reg));
        CHECK(n == (int)(sizeof(h) + sizeof(reg)));
        memcpy(&h, buf, sizeof(h));
        CHECK(h.len == (uint32_t)n);
        CHECK(h.version == WIRE_VERSION);
        CHECK(h.kind == WIRE_REC_REGISTERED);
        CHECK(memcmp(h.nonce, nonce, sizeof(nonce)) == 0);
        CHECK(wire_rec_check(&h) == 0);
        wire_rec_body(&back, sizeof(back), buf + sizeof(h), h.len - sizeof(h));
        CHECK(memcmp(&back, &reg, sizeof(reg)) == 0);

        /* No body, NULL nonce (zeros). */
        n = wire_rec_put(buf, sizeof(buf), WIRE_REC_END, NULL, NULL, 0);
        CHECK(n == (int)sizeof(h));
        memcpy(&h, buf, sizeof(h));
        CHECK(wire_rec_check(&h) == 0 && h.kind == WIRE_REC_END && h.len == sizeof(h));
        for (size_t i = 0; i < WIRE_NONCE_SIZE; i++)
                CHECK(h.nonce[i] == 0);

        /* Too big for the buffer or for a record. */
        CHECK(wire_rec_put(buf, sizeof(h) + 3, WIRE_REC_REGISTERED, nonce, &reg, sizeof(reg)) ==
              -ENOBUFS);
        {
                static uint8_t body[WIRE_REC_MAX];

                CHECK(wire_rec_put(buf, sizeof(buf), WIRE_REC_ERROR, nonce, body,
                                   WIRE_REC_MAX - sizeof(h) + 1) == -ENOBUFS);
                CHECK(wire_rec_put(buf, sizeof(buf), WIRE_REC_ERROR, nonce, body,
                                   WIRE_REC_MAX - sizeof(h)) == WIRE_REC_MAX);
        }

        /* Header checks. */
        h = (struct wire_rec){.len = sizeof(h), .version = WIRE_VERSION, .kind = WIRE_REC_END};
        CHECK(wire_rec_check(&h) == 0);
        h.version = 2;
        CHECK(wire_rec_check(&h) == -EBADMSG);
        h.version = 0;
        CHECK(wire_rec_check(&h) == -EBADMSG);
        h.version = WIRE_VERSION;
        h.kind = 0;
        CHECK(wire_rec_check(&h) == -EBADMSG);
        h.kind = 0xffff;
        CHECK(wire_rec_check(&h) == -EBADMSG);
        /* The known kinds are 1 ... some last one; nothing above it. */
        {
                unsigned last = 0;

                for (unsigned k = 1; k < 0xffff; k++) {
                        h.kind = (uint16_t)k;
                        if (wire_rec_check(&h) == 0) {
                                CHECK(k == last + 1); /* no holes */
                                last = k;
                        }
                }
                CHECK(last == WIRE_REC_KIND_MAX && last >= WIRE_REC_POLICY_RULE);
        }
        h.kind = WIRE_REC_END;
        CHECK(wire_rec_check(&h) == 0);
        h.len = sizeof(h) - 1;
        CHECK(wire_rec_check(&h) == -EBADMSG);
        h.len = 0;
        CHECK(wire_rec_check(&h) == -EBADMSG);
        h.len = WIRE_REC_MAX + 1;
        CHECK(wire_rec_check(&h) == -EBADMSG);
        h.len = UINT32_MAX;
        CHECK(wire_rec_check(&h) == -EBADMSG);
        h.len = WIRE_REC_MAX;
        CHECK(wire_rec_check(&h) == 0);

        /* Bodies: a longer one (a later version) is truncated, a shorter
         * one zero-filled. */
        {
                uint8_t big[sizeof(reg) + 16];
                struct wire_rec_error err;

                memset(big, 0xab, sizeof(big));
                memcpy(big, &reg, sizeof(reg));
                memset(&back, 0x55, sizeof(back));
                wire_rec_body(&back, sizeof(back), big, sizeof(big));
                CHECK(memcmp(&back, &reg, sizeof(reg)) == 0);

                memset(&back, 0x55, sizeof(back));
                wire_rec_body(&back, sizeof(back), &reg, 8);
                CHECK(back.client_id == 7);
                CHECK(back.inbound_qid == 0 && back.max_payload == 0 && back.instance == 0);

                memset(&err, 0x55, sizeof(err));
                wire_rec_body(&err, sizeof(err), big, 0);
                CHECK(err.error == 0 && err.message[0] == '\0');
        }
}

/* ---- inbound records ---- */

static void test_in(void)
{
        uint8_t buf[1024] __attribute__((aligned(8)));
        struct wire_in h = {.client_id = 99, .op = WIRE_OP_SEND, .flags = WIRE_IN_ACK,
                            .dst_len = 5, .type = 17, .cookie = 1234, .len = 4};
        struct wire_in got;
        const char *dst;
        const void *payload;
        size_t off = 0, end;

        for (size_t i = 0; i < WIRE_TOKEN_SIZE; i++)
                h.token[i] = (uint8_t)(0xf0 + i);

        /* Sizes: header, destination padded to 8, payload padded to 8. */
        CHECK(sizeof(struct wire_in) % 8 == 0);
        CHECK(wire_in_size(0, 0) == sizeof(struct wire_in));
        CHECK(wire_in_size(5, 3) == sizeof(struct wire_in) + 16);
        CHECK(wire_in_size(0, 8) == sizeof(struct wire_in) + 8);
        CHECK(wire_in_size(8, 9) == sizeof(struct wire_in) + 24);

        memset(buf, 0xee, sizeof(buf));
        CHECK(wire_in_put(buf, sizeof(buf), &off, &h, "alpha", "wxyz") == 0);
        CHECK(off == wire_in_size(5, 4));
        /* Padding is zeroed; the payload is 8-aligned. */
        for (size_t i = sizeof(h) + 5; i < sizeof(h) + 8; i++)
                CHECK(buf[i] == 0);
        CHECK(memcmp(buf + sizeof(h) + 8, "wxyz", 4) == 0);
        for (size_t i = sizeof(h) + 8 + 4; i < off; i++)
                CHECK(buf[i] == 0);

        /* A batch: several records in one message. */
        h.op = WIRE_OP_PULL;
        h.flags = 0;
        h.dst_len = 0;
        h.len = 0;
        CHECK(wire_in_put(buf, sizeof(buf), &off, &h, NULL, NULL) == 0);
        h.op = WIRE_OP_SEND;
        h.dst_len = 2;
        h.len = 9;
        h.type = WIRE_TYPE_USER_MAX;
        CHECK(wire_in_put(buf, sizeof(buf), &off, &h, "b2", "123456789") == 0);
        end = off;
        CHECK(end % 8 == 0);

        off = 0;
        CHECK(wire_in_next(buf, end, &off, &got, &dst, &payload) == 1);
        CHECK(got.client_id == 99 && got.op == WIRE_OP_SEND && got.flags == WIRE_IN_ACK);
        CHECK(got.type == 17 && got.cookie == 1234 && got.dst_len == 5 && got.len == 4);
        CHECK(memcmp(got.token, h.token, WIRE_TOKEN_SIZE) == 0);
        CHECK(memcmp(dst, "alpha", 5) == 0 && memcmp(payload, "wxyz", 4) == 0);
        CHECK(wire_in_next(buf, end, &off, &got, &dst, &payload) == 1);
        CHECK(got.op == WIRE_OP_PULL && got.dst_len == 0 && got.len == 0);
        CHECK(wire_in_next(buf, end, &off, &got, &dst, &payload) == 1);
        CHECK(got.op == WIRE_OP_SEND && got.type == WIRE_TYPE_USER_MAX);
        CHECK(memcmp(dst, "b2", 2) == 0 && memcmp(payload, "123456789", 9) == 0);
        CHECK(off == end);
        CHECK(wire_in_next(buf, end, &off, &got, &dst, &payload) == 0);
        CHECK(wire_in_next(buf, end, &off, &got, &dst, &payload) == 0);

        /* Empty message: no record. */
        off = 0;
        CHECK(wire_in_next(buf, 0, &off, &got, &dst, &payload) == 0);

        /* The last record may omit its padding... */
        off = 0;
        h.dst_len = 2;
        h.len = 9;
        CHECK(wire_in_put(buf, sizeof(buf), &off, &h, "b2", "123456789") == 0);
        off = 0;
        CHECK(wire_in_next(buf, sizeof(h) + 8 + 9, &off, &got, &dst, &payload) == 1);
        CHECK(off == sizeof(h) + 8 + 9);
        CHECK(((uintptr_t)payload - (uintptr_t)buf) % 8 == 0);
        CHECK(wire_in_next(buf, sizeof(h) + 8 + 9, &off, &got, &dst, &payload) == 0);
        /* ...but a truncated one is refused. */
        for (size_t n = 1; n < sizeof(h) + 8 + 9; n++) {
                off = 0;
                if (wire_in_next(buf, n, &off, &got, &dst, &payload) != -EBADMSG) {
                        fprintf(stderr, "accepted inbound record truncated to %zu\n", n);
                        failures++;
                }
        }
        /* Partial padding is not a record boundary either. */
        off = 0;
        CHECK(wire_in_next(buf, sizeof(h) + 8 + 9 + 1, &off, &got, &dst, &payload) == -EBADMSG);

        /* Malicious length fields. */
        {
                struct wire_in evil = h;
                static const uint32_t lens[] = {UINT32_MAX, UINT32_MAX - 7, 0x80000000u, 1000,
                                                (uint32_t)(sizeof(buf) - sizeof(h))};

                for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                        evil.dst_len = 0;
                        evil.len = lens[i];
                        memcpy(buf, &evil, sizeof(evil));
                        off = 0;
                        CHECK(wire_in_next(buf, 128, &off, &got, &dst, &payload) == -EBADMSG);
                        CHECK(off == 0);
                }
                evil.len = 0;
                evil.dst_len = WIRE_NAME_MAX; /* 64: a name is at most 63 */
                memcpy(buf, &evil, sizeof(evil));
                off = 0;
                CHECK(wire_in_next(buf, sizeof(buf), &off, &got, &dst, &payload) == -EBADMSG);
                evil.dst_len = 255;
                memcpy(buf, &evil, sizeof(evil));
                off = 0;
                CHECK(wire_in_next(buf, sizeof(buf), &off, &got, &dst, &payload) == -EBADMSG);
                /* dst_len pointing past the end */
                evil.dst_len = 40;
                memcpy(buf, &evil, sizeof(evil));
                off = 0;
                CHECK(wire_in_next(buf, sizeof(h) + 8, &off, &got, &dst, &payload) == -EBADMSG);
                /* A good record followed by a bad one: the good one decodes,
                 * the bad one is refused. */
                off = 0;
                h.dst_len = 1;
                h.len = 1;
                CHECK(wire_in_put(buf, sizeof(buf), &off, &h, "a", "b") == 0);
                end = off;
                evil.dst_len = 0;
                evil.len = UINT32_MAX;
                memcpy(buf + end, &evil, sizeof(evil));
                end += sizeof(evil);
                off = 0;
                CHECK(wire_in_next(buf, end, &off, &got, &dst, &payload) == 1);
                CHECK(wire_in_next(buf, end, &off, &got, &dst, &payload) == -EBADMSG);
        }

        /* Put: what does not fit is not written. */
        {
                uint8_t small[sizeof(struct wire_in) + 8];

                memset(small, 0x77, sizeof(small));
                off = 0;
                h.dst_len = 5;
                h.len = 3; /* needs header + 16 */
                CHECK(wire_in_put(small, sizeof(small), &off, &h, "alpha", "abc") == -EMSGSIZE);
                CHECK(off == 0);
                CHECK(small[0] == 0x77);
                h.len = 0; /* exactly header + 8 */
                CHECK(wire_in_put(small, sizeof(small), &off, &h, "alpha", NULL) == 0);
                CHECK(off == sizeof(small));
                CHECK(wire_in_put(small, sizeof(small), &off, &h, "alpha", NULL) == -EMSGSIZE);
                off = sizeof(small) + 1;
                CHECK(wire_in_put(small, sizeof(small), &off, &h, "alpha", NULL) == -EMSGSIZE);
        }
}

/* ---- delivered records ---- */

static void test_out(void)
{
        uint8_t buf[2048] __attribute__((aligned(8)));
        struct wire_out h = {.kind = WIRE_OUT_MSG, .flags = WIRE_OUT_BACKLOG, .name_len = 6,
                             .topic_len = 0, .type = 5, .sender_id = 11, .sender_uid = 1000,
                             .sender_pid = 4321, .cookie = 0, .status = 0, .len = 4};
        struct wire_out got;
        const char *name, *topic;
        const void *payload;
        size_t off = 0, end;
        int count;

        CHECK(sizeof(struct wire_out) % 8 == 0);
        CHECK(wire_out_size(0, 0, 0) == sizeof(struct wire_out));
        CHECK(wire_out_size(6, 0, 4) == sizeof(struct wire_out) + 16);
        CHECK(wire_out_size(1, 1, 6) == sizeof(struct wire_out) + 16);
        CHECK(wire_out_size(4, 4, 8) == sizeof(struct wire_out) + 16);

        /* A batch of several records of one type. */
        for (int i = 0; i < 10; i++) {
                char pl[4] = {'p', 'l', (char)('0' + i), '!'};

                CHECK(wire_out_put(buf, sizeof(buf), &off, &h, "sender", NULL, pl) == 0);
        }
        /* One with a topic, one anonymous and empty. */
        h.topic_len = 9;
        h.len = 2;
        CHECK(wire_out_put(buf, sizeof(buf), &off, &h, "sender", "sensors/t", "hi") == 0);
        h.name_len = 0;
        h.topic_len = 0;
        h.len = 0;
        h.kind = WIRE_OUT_NOTICE;
        h.status = WIRE_NOTICE_DROPPED;
        CHECK(wire_out_put(buf, sizeof(buf), &off, &h, NULL, NULL, NULL) == 0);
        end = off;
        CHECK(end % 8 == 0);

        off = 0;
        count = 0;
        for (;;) {
                int r = wire_out_next(buf, end, &off, &got, &name, &topic, &payload);

                if (r <= 0) {
                        CHECK(r == 0);
                        break;
                }
                if (count < 10) {
                        CHECK(got.kind == WIRE_OUT_MSG && got.type == 5 && got.len == 4);
                        CHECK(got.sender_id == 11 && got.sender_uid == 1000 &&
                              got.sender_pid == 4321);
                        CHECK(got.flags == WIRE_OUT_BACKLOG);
                        CHECK(got.name_len == 6 && memcmp(name, "sender", 6) == 0);
                        CHECK(got.topic_len == 0);
                        CHECK(memcmp(payload, "pl", 2) == 0 &&
                              ((const char *)payload)[2] == '0' + count);
                } else if (count == 10) {
                        CHECK(got.topic_len == 9 && memcmp(topic, "sensors/t", 9) == 0);
                        CHECK(memcmp(name, "sender", 6) == 0);
                        CHECK(got.len == 2 && memcmp(payload, "hi", 2) == 0);
                } else {
                        CHECK(got.kind == WIRE_OUT_NOTICE && got.status == WIRE_NOTICE_DROPPED);
                        CHECK(got.name_len == 0 && got.len == 0);
                }
                count++;
        }
        CHECK(count == 12);
        CHECK(off == end);

        /* Truncation anywhere inside a record is refused. */
        off = 0;
        h = (struct wire_out){.kind = WIRE_OUT_MSG, .name_len = 3, .topic_len = 2, .type = 1,
                              .len = 5};
        CHECK(wire_out_put(buf, sizeof(buf), &off, &h, "abc", "t1", "hello") == 0);
        for (size_t n = 1; n < sizeof(h) + 8 + 5; n++) {
                size_t o = 0;

                if (wire_out_next(buf, n, &o, &got, &name, &topic, &payload) != -EBADMSG) {
                        fprintf(stderr, "accepted delivered record truncated to %zu\n", n);
                        failures++;
                }
        }
        /* Exactly unpadded, and padded: both fine. */
        off = 0;
        CHECK(wire_out_next(buf, sizeof(h) + 8 + 5, &off, &got, &name, &topic, &payload) == 1);
        CHECK(((uintptr_t)payload - (uintptr_t)buf) % 8 == 0);
        off = 0;
        CHECK(wire_out_next(buf, wire_out_size(3, 2, 5), &off, &got, &name, &topic, &payload) ==
              1);
        CHECK(off == wire_out_size(3, 2, 5));
        CHECK(memcmp(name, "abc", 3) == 0 && memcmp(topic, "t1", 2) == 0 &&
              memcmp(payload, "hello", 5) == 0);

        /* Malicious lengths. */
        {
                struct wire_out evil = h;

                evil.len = UINT32_MAX;
                memcpy(buf, &evil, sizeof(evil));
                off = 0;
                CHECK(wire_out_next(buf, sizeof(buf), &off, &got, &name, &topic, &payload) ==
                      -EBADMSG);
                evil.len = (uint32_t)(sizeof(buf) - sizeof(evil)); /* == the rest, but + names */
                memcpy(buf, &evil, sizeof(evil));
                off = 0;
                CHECK(wire_out_next(buf, sizeof(buf), &off, &got, &name, &topic, &payload) ==
                      -EBADMSG);
                evil.len = 0;
                evil.name_len = WIRE_NAME_MAX;
                memcpy(buf, &evil, sizeof(evil));
                off = 0;
                CHECK(wire_out_next(buf, sizeof(buf), &off, &got, &name, &topic, &payload) ==
                      -EBADMSG);
                evil.name_len = 0;
                evil.topic_len = 200;
                memcpy(buf, &evil, sizeof(evil));
                off = 0;
                CHECK(wire_out_next(buf, sizeof(buf), &off, &got, &name, &topic, &payload) ==
                      -EBADMSG);
                evil.topic_len = 63;
                evil.name_len = 63;
                memcpy(buf, &evil, sizeof(evil));
                off = 0;
                CHECK(wire_out_next(buf, sizeof(evil) + 100, &off, &got, &name, &topic,
                                    &payload) == -EBADMSG);
                /* The names' padding is part of the record; only the
                 * payload's final padding may be left out. */
                CHECK(wire_out_next(buf, sizeof(evil) + 126, &off, &got, &name, &topic,
                                    &payload) == -EBADMSG);
                CHECK(wire_out_next(buf, sizeof(evil) + 128, &off, &got, &name, &topic,
                                    &payload) == 1);
        }

        /* Put into a full buffer writes nothing. */
        {
                uint8_t small[sizeof(struct wire_out)];

                off = 0;
                h = (struct wire_out){.kind = WIRE_OUT_ACK, .cookie = 5, .status = -ENOENT};
                CHECK(wire_out_put(small, sizeof(small), &off, &h, NULL, NULL, NULL) == 0);
                CHECK(off == sizeof(small));
                CHECK(wire_out_put(small, sizeof(small), &off, &h, NULL, NULL, NULL) ==
                      -EMSGSIZE);
                off = 0;
                CHECK(wire_out_next(small, sizeof(small), &off, &got, &name, &topic, &payload) ==
                      1);
                CHECK(got.kind == WIRE_OUT_ACK && got.cookie == 5 && got.status == -ENOENT);
        }
}

/* A record written over an earlier message's bytes: its padding (after
 * the names, after the payload) is zero, what it holds is exact, and the
 * bytes past it are left alone. */
static void test_padding(void)
{
        uint8_t buf[512] __attribute__((aligned(8)));
        struct wire_out h = {.kind = WIRE_OUT_MSG, .name_len = 3, .topic_len = 2, .type = 1,
                             .len = 5};
        struct wire_in in = {.client_id = 1, .op = WIRE_OP_SEND, .dst_len = 9, .type = 1,
                             .len = 13};
        size_t off = 0, hs = sizeof(struct wire_out), is = sizeof(struct wire_in);

        memset(buf, 0xa5, sizeof(buf));
        CHECK(wire_out_put(buf, sizeof(buf), &off, &h, "abc", "de", "hello") == 0);
        CHECK(off == wire_out_size(3, 2, 5));
        CHECK(memcmp(buf + hs, "abcde\0\0\0", 8) == 0);
        CHECK(memcmp(buf + hs + 8, "hello\0\0\0", 8) == 0);
        CHECK(buf[off] == 0xa5);
        off = 0;
        memset(buf, 0xa5, sizeof(buf));
        CHECK(wire_in_put(buf, sizeof(buf), &off, &in, "somewhere", "thirteen byte") == 0);
        CHECK(off == wire_in_size(9, 13));
        CHECK(memcmp(buf + is, "somewhere\0\0\0\0\0\0\0", 16) == 0);
        CHECK(memcmp(buf + is + 16, "thirteen byte\0\0\0", 16) == 0);
        CHECK(buf[off] == 0xa5);
        /* Nothing to pad: an empty record is its header alone. */
        off = 0;
        memset(buf, 0xa5, sizeof(buf));
        h.name_len = h.topic_len = 0;
        h.len = 0;
        CHECK(wire_out_put(buf, sizeof(buf), &off, &h, NULL, NULL, NULL) == 0);
        CHECK(off == hs && buf[hs] == 0xa5);
}

static void test_types(void)
{
        CHECK(WIRE_TYPE_USER_MAX == (1L << 30) - 1);
        CHECK(wire_type_is_user(1));
        CHECK(wire_type_is_user(WIRE_TYPE_USER_MAX));
        CHECK(!wire_type_is_user(0));
        CHECK(!wire_type_is_user(-1));
        CHECK(!wire_type_is_user(WIRE_TYPE_NOTICE));
        CHECK(!wire_type_is_user(WIRE_TYPE_PULL));
        /* Reserved types do not collide. */
        CHECK(WIRE_TYPE_NOTICE > WIRE_TYPE_USER_MAX);
        CHECK(WIRE_TYPE_PULL > WIRE_TYPE_NOTICE);
        CHECK(WIRE_TYPE_REPLY_BASE > WIRE_TYPE_PULL);
        CHECK(wire_reply_type(0) == WIRE_TYPE_REPLY_BASE);
        CHECK(wire_reply_type(1) == WIRE_TYPE_REPLY_BASE + 1);
        CHECK(wire_reply_type(WIRE_COOKIE_SLOT_MASK + 1) == WIRE_TYPE_REPLY_BASE);
        CHECK(wire_reply_type(UINT64_MAX) == WIRE_TYPE_REPLY_BASE + (long)WIRE_COOKIE_SLOT_MASK);
        /* Every reply type is a valid positive long mtype. */
        CHECK(wire_reply_type(UINT64_MAX) > 0);
        CHECK(wire_reply_type(UINT64_MAX) < (1L << 31));
}

/* A STATUS answer read back record by record, as ipcdctl does. */
static void test_status_set(void)
{
        struct wire_status_set set = { 0 };
        struct wire_status_daemon d = { .pid = 42, .nclients = 2 };
        struct wire_status_client c1 = { .id = 1 }, c2 = { .id = 2 };
        struct wire_status_topic t = { .name = "news", .published = 7 };

        CHECK(wire_status_set_add(&set, WIRE_REC_STATUS_DAEMON, &d) == 0);
        CHECK(wire_status_set_add(&set, WIRE_REC_STATUS_CLIENT, &c1) == 0);
        CHECK(wire_status_set_add(&set, WIRE_REC_STATUS_CLIENT, &c2) == 0);
        CHECK(wire_status_set_add(&set, WIRE_REC_STATUS_TOPIC, &t) == 0);
        CHECK(wire_status_set_add(&set, WIRE_REC_END, &t) == -EINVAL);
        CHECK(set.daemon.pid == 42 && set.daemon.nclients == 2);
        CHECK(set.nclients == 2 && set.clients[0].id == 1 && set.clients[1].id == 2);
        CHECK(set.ntopics == 1 && strcmp(set.topics[0].name, "news") == 0 &&
              set.topics[0].published == 7);
        CHECK(set.nqueues == 0 && set.nrings == 0);
        wire_status_set_free(&set);
        CHECK(set.clients == NULL && set.nclients == 0 && set.topics == NULL);
}

int main(void)
{
        test_ctl_valid();
        test_ctl_hostile();
        test_ctl_format();
        test_hex();
        test_token();
        test_rec();
        test_in();
        test_out();
        test_padding();
        test_types();
        test_status_set();
        return test_result("test-wire");
}
