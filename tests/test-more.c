/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-more - IPCD_MORE: sends held by the library and sent together.
 *
 * Asserts: thousands of messages sent with IPCD_MORE (and a last one
 * without) all arrive, in order, with their types, sizes and sender, and
 * interleaved with plain and IPCD_ACK sends the order still holds; a held
 * message leaves when the sender then receives (request/response does not
 * hang), publishes or closes; a message over the inline limit after held
 * ones goes through the ring and still arrives after them; bad flags are
 * -EINVAL.
 */
#include "tlib.h"

#define N 5000

static void expect_seq(ipcd_client *r, uint32_t seq, long type)
{
        ipcd_msg m;
        uint32_t v;

        CHECK_OK(tl_recv(r, &m, 0, 30000));
        CHECK_EQ(m.type, type);
        CHECK_MSG(m.len >= sizeof(v), "len %zu", m.len);
        memcpy(&v, m.data, sizeof(v));
        CHECK_MSG(v == seq, "got %u, expected %u", v, seq);
        CHECK_STREQ(m.sender, "more-s");
        ipcd_msg_release(r, &m);
}

int main(int argc, char **argv)
{
        ipcd_client *s, *r;
        uint8_t buf[512];

        tl_init(argc, argv);
        s = tl_connect("more-s");
        r = tl_connect("more-r");

        /* Many held sends, varied sizes, in rounds of 200 whose last one
         * is not held (the receiver reads between rounds: no backlog
         * limit is tested here). */
        for (uint32_t base = 0; base < N; base += 200) {
                for (uint32_t i = base; i < base + 200; i++) {
                        size_t len = sizeof(i) + (i * 37) % 400;
                        int flags = i == base + 199 ? 0 : IPCD_MORE;

                        memset(buf, (int)(i & 0xff), sizeof(buf));
                        memcpy(buf, &i, sizeof(i));
                        CHECK_R(ipcd_send(s, "more-r", 1 + (long)(i % 3), buf, len, flags), 0);
                }
                for (uint32_t i = base; i < base + 200; i++)
                        expect_seq(r, i, 1 + (long)(i % 3));
        }
        tl_expect_empty(r);

        /* Held, then plain, then ACK: the order of sending. */
        for (uint32_t i = 0; i < 30; i++) {
                int flags = i % 10 == 9 ? IPCD_ACK : i % 3 == 2 ? 0 : IPCD_MORE;

                memcpy(buf, &i, sizeof(i));
                CHECK_R(ipcd_send(s, "more-r", 5, buf, sizeof(i), flags), 0);
        }
        for (uint32_t i = 0; i < 30; i++)
                expect_seq(r, i, 5);

        /* A held request leaves when the sender looks for the answer:
         * a receive (here with timeout 0) sends what is held first. */
        {
                uint32_t q = 77;
                ipcd_msg m;

                CHECK_R(ipcd_send(s, "more-r", 6, &q, sizeof(q), IPCD_MORE), 0);
                CHECK_R(ipcd_recv(r, &m, 0, 0), -EAGAIN); /* still held */
                CHECK_R(ipcd_recv(s, &m, 0, 0), -EAGAIN);
                expect_seq(r, 77, 6);
                tl_send(r, "more-s", 6, &q, sizeof(q), 0);
                CHECK_OK(tl_recv(s, &m, 6, 30000));
                ipcd_msg_release(s, &m);
                /* so does a publish */
                CHECK_R(ipcd_send(s, "more-r", 6, &q, sizeof(q), IPCD_MORE), 0);
                CHECK(ipcd_publish(s, "more/nobody", 1, "p", 1, 0) >= 0);
                expect_seq(r, 77, 6);
        }

        /* Held sends, then a payload over the inline limit (the ring):
         * it arrives after them. */
        {
                size_t big = ipcd_max_inline(s) + 100;
                uint8_t *p = calloc(1, big);
                ipcd_msg m;
                uint32_t k = 1000;

                CHECK(p);
                for (uint32_t i = 0; i < 10; i++) {
                        memcpy(buf, &i, sizeof(i));
                        CHECK_R(ipcd_send(s, "more-r", 7, buf, sizeof(i), IPCD_MORE), 0);
                }
                memcpy(p, &k, sizeof(k));
                CHECK_R(ipcd_send(s, "more-r", 7, p, big, IPCD_ACK), 0);
                for (uint32_t i = 0; i < 10; i++)
                        expect_seq(r, i, 7);
                CHECK_OK(tl_recv(r, &m, 7, 30000));
                CHECK_EQ(m.len, big);
                CHECK(m.flags & IPCD_MSG_BULK);
                CHECK(memcmp(m.data, &k, sizeof(k)) == 0);
                ipcd_msg_release(r, &m);
                free(p);
        }

        /* Close sends what is held. */
        {
                uint32_t q = 4242;

                CHECK_R(ipcd_send(s, "more-r", 8, &q, sizeof(q), IPCD_MORE), 0);
                ipcd_close(s);
                expect_seq(r, 4242, 8);
        }
        s = tl_connect("more-s");
        CHECK_R(ipcd_send(s, "more-r", 1, "x", 1, 1 << 12), -EINVAL);
        tl_expect_empty(r);
        ipcd_close(s);
        ipcd_close(r);
        return 0;
}
