/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-unicast - two clients exchange messages through ipcd.
 *
 * Asserts what a user relies on: the receiver sees the sender's type and
 * payload unchanged and the sender's name, id, uid and pid as ipcd stamped
 * them; both directions work between processes; IPCD_ACK reports 0 for a
 * delivered message and -ENOENT for a missing name; a client may send to
 * itself; an anonymous client sends with sender ""; payloads from 0 bytes
 * to the inline maximum arrive intact and one byte more is -EMSGSIZE; bad
 * arguments are -EINVAL; receive timeouts: 0 gives -EAGAIN, 100 ms gives
 * -ETIMEDOUT, -1 and a long timeout wait for a message sent later; the
 * status counters of the receiver add up; clean sessions make ipcd reject
 * nothing (bad_inbound, bad_control, refused stay 0).
 */
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

static void test_cross_process(ipcd_client *bob, unsigned *bob_received)
{
        int pipefd[2];
        pid_t child;
        ipcd_msg m;
        int status;

        CHECK(pipe(pipefd) == 0);
        child = fork();
        CHECK(child >= 0);
        if (child == 0) {
                /* A separate process, as a real peer would be. */
                ipcd_client *carol;
                char c;

                close(pipefd[1]);
                carol = tl_connect("carol");
                tl_send(carol, "bob", 42, "hello from carol", 16, IPCD_ACK);
                tl_recv(carol, &m, 0, 30000);
                CHECK_EQ(m.type, 43);
                CHECK_EQ(m.len, 8);
                CHECK(memcmp(m.data, "hi carol", 8) == 0);
                CHECK_STREQ(m.sender, "bob");
                CHECK_EQ(m.sender_uid, getuid());
                CHECK_EQ(m.sender_pid, getppid());
                ipcd_msg_release(carol, &m);
                /* stay registered until the parent has looked at status */
                CHECK(read(pipefd[0], &c, 1) == 1);
                ipcd_close(carol);
                _exit(0);
        }
        close(pipefd[0]);

        CHECK_OK(tl_recv(bob, &m, 0, 30000));
        (*bob_received)++;
        CHECK_EQ(m.type, 42);
        CHECK_EQ(m.len, 16);
        CHECK(memcmp(m.data, "hello from carol", 16) == 0);
        CHECK_STREQ(m.sender, "carol");
        CHECK_EQ(m.sender_uid, getuid());
        CHECK_EQ(m.sender_pid, child);
        CHECK(m.sender_id != 0);
        CHECK(m.sender_id != ipcd_id(bob));
        CHECK_EQ(m.flags & (IPCD_MSG_NOTICE | IPCD_MSG_REQUEST), 0);

        /* The id ipcd stamped is carol's id in status. */
        {
                struct tl_status st;
                const struct wire_status_client *sc;

                tl_status(&st);
                sc = tl_status_client(&st, "carol");
                CHECK_MSG(sc, "carol missing from status");
                CHECK_EQ(sc->id, m.sender_id);
                CHECK_EQ(sc->pid, child);
                CHECK_EQ(sc->uid, getuid());
                tl_status_free(&st);
        }

        /* Reply by the name we were given. */
        tl_send(bob, m.sender, 43, "hi carol", 8, 0);
        ipcd_msg_release(bob, &m);

        CHECK(write(pipefd[1], "x", 1) == 1);
        close(pipefd[1]);
        CHECK(waitpid(child, &status, 0) == child);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "carol failed (status %#x)",
                  status);
}

static void test_payloads(ipcd_client *alice, ipcd_client *bob, unsigned *bob_received)
{
        size_t max = ipcd_max_inline(alice);
        unsigned char bin[256];
        unsigned char *big;
        ipcd_msg m;

        tl_log("largest inline payload: %zu bytes", max);
        CHECK_MSG(max >= 1024, "ipcd_max_inline() = %zu is too small to be useful", max);

        /* empty payload */
        tl_send(alice, "bob", 1, NULL, 0, 0);
        tl_expect(bob, 0, 1, NULL, 0, "alice");
        /* binary bytes, NULs included */
        for (size_t i = 0; i < sizeof(bin); i++)
                bin[i] = (unsigned char)(255 - i);
        tl_send(alice, "bob", 2, bin, sizeof(bin), 0);
        tl_expect(bob, 0, 2, bin, sizeof(bin), "alice");
        /* the highest user type */
        tl_send(alice, "bob", IPCD_TYPE_MAX, "max", 3, 0);
        tl_expect(bob, 0, IPCD_TYPE_MAX, "max", 3, "alice");
        *bob_received += 3;

        /* the largest inline payload, intact */
        big = malloc(max + 1);
        CHECK(big);
        for (size_t i = 0; i < max + 1; i++)
                big[i] = (unsigned char)(i * 7 + 3);
        tl_send(alice, "bob", 3, big, max, IPCD_ACK);
        CHECK_OK(tl_recv(bob, &m, 3, 30000));
        (*bob_received)++;
        CHECK_EQ(m.len, max);
        CHECK(memcmp(m.data, big, max) == 0);
        ipcd_msg_release(bob, &m);

        /* one byte more does not fit inline: it travels through the bulk
         * ring, and the receiver sees the same bytes, flagged IPCD_MSG_BULK */
        CHECK_R(ipcd_send(alice, "bob", 3, big, max + 1, IPCD_ACK), 0);
        CHECK_OK(tl_recv(bob, &m, 3, 30000));
        (*bob_received)++;
        CHECK_EQ(m.len, max + 1);
        CHECK(m.flags & IPCD_MSG_BULK);
        CHECK(memcmp(m.data, big, max + 1) == 0);
        ipcd_msg_release(bob, &m);
        free(big);
        tl_expect_empty(bob);
}

static void test_bad_arguments(ipcd_client *alice, ipcd_client *bob)
{
        ipcd_msg m;

        CHECK_R(ipcd_send(alice, "bob", 0, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(alice, "bob", -1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(alice, "bob", IPCD_TYPE_MAX + 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(alice, "bob", WIRE_TYPE_NOTICE, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(alice, "bob", WIRE_TYPE_REPLY_BASE, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(alice, "no such!", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(alice, "", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_send(alice, "bob\nREGISTER", 1, "x", 1, 0), -EINVAL);
        CHECK_R(ipcd_recv(bob, &m, IPCD_TYPE_MAX + 1, 0), -EINVAL);
        CHECK_R(ipcd_recv(bob, &m, -(IPCD_TYPE_MAX + 1), 0), -EINVAL);
        tl_expect_empty(bob);
}

static void test_ack(ipcd_client *alice, ipcd_client *bob, unsigned *bob_received)
{
        int r;

        /* delivered: 0, and the message is there */
        tl_send(alice, "bob", 10, "acked", 5, IPCD_ACK);
        tl_expect(bob, 10, 10, "acked", 5, "alice");
        (*bob_received)++;

        /* nobody of that name: -ENOENT */
        CHECK_R(ipcd_send(alice, "nobody-here", 10, "lost", 4, IPCD_ACK), -ENOENT);
        /* without IPCD_ACK the library cannot know; it must not fail
         * otherwise */
        r = ipcd_send(alice, "nobody-here", 10, "lost", 4, 0);
        CHECK_MSG(r == 0 || r == -ENOENT, "send without ACK to a missing name: %d (%s)", r,
                  tl_errname(r));
        tl_expect_empty(bob);
}

static void test_self_and_anonymous(ipcd_client *alice, ipcd_client *bob, unsigned *bob_received)
{
        ipcd_client *anon;
        ipcd_msg m;

        /* to myself */
        tl_send(alice, "alice", 5, "me", 2, IPCD_ACK);
        CHECK_OK(tl_recv(alice, &m, 0, 30000));
        CHECK_EQ(m.type, 5);
        CHECK_STREQ(m.sender, "alice");
        CHECK_EQ(m.sender_id, ipcd_id(alice));
        CHECK_EQ(m.sender_pid, getpid());
        CHECK_EQ(m.sender_uid, getuid());
        ipcd_msg_release(alice, &m);

        /* anonymous sender: "" and its own id */
        anon = tl_connect(NULL);
        CHECK_STREQ(ipcd_name(anon), "");
        CHECK(ipcd_id(anon) != 0);
        CHECK(ipcd_id(anon) != ipcd_id(alice));
        tl_send(anon, "bob", 6, "who am i", 8, IPCD_ACK);
        CHECK_OK(tl_recv(bob, &m, 0, 30000));
        (*bob_received)++;
        CHECK_EQ(m.type, 6);
        CHECK_STREQ(m.sender, "");
        CHECK_EQ(m.sender_id, ipcd_id(anon));
        CHECK_EQ(m.sender_pid, getpid());
        CHECK_EQ(m.sender_uid, getuid());
        ipcd_msg_release(bob, &m);

        /* a second anonymous client coexists with the first */
        {
                ipcd_client *anon2 = tl_connect(NULL);

                CHECK(ipcd_id(anon2) != ipcd_id(anon));
                ipcd_close(anon2);
        }
        ipcd_close(anon);
}

static void test_timeouts(ipcd_client *bob, unsigned *bob_received)
{
        uint64_t t0;
        ipcd_msg m;
        pid_t child;
        int status;

        /* timeout 0, nothing there: -EAGAIN */
        CHECK_R(ipcd_recv(bob, &m, 0, 0), -EAGAIN);
        CHECK_R(ipcd_recv(bob, &m, 7, 0), -EAGAIN);
        CHECK_R(ipcd_recv(bob, &m, -7, 0), -EAGAIN);

        /* a positive timeout that expires: -ETIMEDOUT, not earlier than asked */
        t0 = tl_now_ms();
        CHECK_R(ipcd_recv(bob, &m, 0, 100), -ETIMEDOUT);
        CHECK_MSG(tl_now_ms() - t0 >= 95, "100 ms timeout returned after %llu ms",
                  (unsigned long long)(tl_now_ms() - t0));

        /* a message sent while we wait, with timeout -1 (plain blocking
         * msgrcv) and then with a long timeout (timed wait on Sc) */
        for (int round = 0; round < 2; round++) {
                child = fork();
                CHECK(child >= 0);
                if (child == 0) {
                        /* a name per round: a closed client's name is
                         * released by ipcd asynchronously (test-names) */
                        ipcd_client *dave = tl_connect(round == 0 ? "dave" : "dave2");

                        tl_sleep_ms(200);
                        tl_send(dave, "bob", 20 + round, "later", 5, IPCD_ACK);
                        ipcd_close(dave);
                        _exit(0);
                }
                CHECK_OK(tl_recv(bob, &m, 0, round == 0 ? -1 : 60000));
                (*bob_received)++;
                CHECK_EQ(m.type, 20 + round);
                CHECK_STREQ(m.sender, round == 0 ? "dave" : "dave2");
                CHECK_EQ(m.sender_pid, child);
                ipcd_msg_release(bob, &m);
                CHECK(waitpid(child, &status, 0) == child);
                CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "dave failed (%#x)",
                          status);
        }

        /* a message already there with a timeout: returned at once */
        tl_send(bob, "bob", 30, "there", 5, IPCD_ACK);
        tl_expect(bob, 0, 30, "there", 5, "bob");
        (*bob_received)++;
}

int main(int argc, char **argv)
{
        ipcd_client *alice, *bob;
        unsigned bob_received = 0;
        struct tl_status st;
        const struct wire_status_client *sb, *sa;

        tl_init(argc, argv);

        alice = tl_connect("alice");
        bob = tl_connect("bob");
        CHECK_STREQ(ipcd_name(alice), "alice");
        CHECK(ipcd_id(alice) != 0);
        CHECK(ipcd_id(bob) != 0);
        CHECK(ipcd_id(alice) != ipcd_id(bob));

        /* alice -> bob -> alice in one process */
        tl_send(alice, "bob", 7, "hello", 5, 0);
        {
                ipcd_msg m;

                CHECK_OK(tl_recv(bob, &m, 0, 30000));
                bob_received++;
                CHECK_EQ(m.type, 7);
                CHECK_EQ(m.len, 5);
                CHECK(memcmp(m.data, "hello", 5) == 0);
                CHECK_STREQ(m.sender, "alice");
                CHECK_EQ(m.sender_id, ipcd_id(alice));
                CHECK_EQ(m.sender_uid, getuid());
                CHECK_EQ(m.sender_pid, getpid());
                CHECK_STREQ(m.topic, "");
                ipcd_msg_release(bob, &m);
        }
        tl_send(bob, "alice", 8, "world", 5, 0);
        tl_expect(alice, 0, 8, "world", 5, "bob");

        test_cross_process(bob, &bob_received);
        test_payloads(alice, bob, &bob_received);
        test_bad_arguments(alice, bob);
        test_ack(alice, bob, &bob_received);
        test_self_and_anonymous(alice, bob, &bob_received);
        test_timeouts(bob, &bob_received);

        /* status: what bob got adds up, nothing waits, nothing dropped */
        tl_status(&st);
        sb = tl_status_client(&st, "bob");
        sa = tl_status_client(&st, "alice");
        CHECK_MSG(sb && sa, "alice or bob missing from status");
        CHECK_EQ(sb->id, ipcd_id(bob));
        CHECK_EQ(sb->pid, getpid());
        CHECK_EQ(sb->uid, getuid());
        CHECK_EQ(sb->received, bob_received);
        CHECK_EQ(sb->queued, 0);
        CHECK_EQ(sb->dropped, 0);
        CHECK(tl_sysv_find("msg", sb->qid, NULL));
        CHECK(tl_sysv_find("msg", sb->inbound_qid, NULL));
        CHECK_EQ(sa->inbound_qid, sb->inbound_qid); /* one Qu per uid */
        CHECK(sa->qid != sb->qid);
        CHECK(st.daemon.routed >= bob_received);
        tl_status_free(&st);

        ipcd_close(alice);
        ipcd_close(bob);

        /* well-behaved clients never make ipcd reject anything */
        tl_wait_clients(0);
        tl_status(&st);
        CHECK_EQ(st.daemon.bad_inbound, 0);
        CHECK_EQ(st.daemon.bad_control, 0);
        CHECK_EQ(st.daemon.refused, 0);
        CHECK_EQ(st.n_queues, 0); /* no client of our uid: no inbound queue */
        tl_status_free(&st);
        return 0;
}
