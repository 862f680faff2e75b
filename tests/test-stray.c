/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-stray - stray bytes on the control FIFO cost no one else's line
 * (issue 10, finding 2).
 *
 * A child turned nobody (uid 65534) writes one byte 'x' to RUNDIR/control
 * 50 times a second, never a newline.  Meanwhile root makes 200
 * registrations, each exactly one request through ctlchan (the code the
 * library and ipcdctl use: "\nREGISTER ...\n" in one write) and one wait
 * for the answer with a generous hang guard, no retry.  Asserts: every one
 * is answered REGISTERED on that first try; the stray bytes reached ipcd
 * (counted as bad control lines, so the test is not vacuous); a
 * registration through the library afterwards works.  Skips when not root
 * or when nobody is not mapped in the user namespace.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/ctlchan.h"
#include "tlib.h"

#define REGISTRATIONS 200
#define ANSWER_GUARD_MS 20000 /* hang guard for one answer, not a threshold */

/* nobody: a byte every 20 ms until killed; "r" on ready_fd once writing. */
static _Noreturn void stray_writer(int ready_fd)
{
        char path[PATH_MAX];
        int fd;

        tl_become_nobody();
        snprintf(path, sizeof(path), "%s/control", tl_rundir());
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        CHECK_MSG(fd >= 0, "nobody opens %s: %s", path, strerror(errno));
        CHECK(write(fd, "x", 1) == 1);
        CHECK(write(ready_fd, "r", 1) == 1);
        for (;;) {
                tl_sleep_ms(20);
                if (write(fd, "x", 1) != 1 && errno != EAGAIN)
                        _exit(1);
        }
}

/* One request, one answer: the record kind, or a negative errno. */
static int register_once(void)
{
        struct ctlchan ch;
        struct wire_ctl req = { .cmd = WIRE_CTL_REGISTER, .pid = getpid() };
        union {
                struct wire_rec_error err;
                struct wire_rec_registered reg;
        } body;
        int r;

        r = ctlchan_open(&ch, tl_rundir());
        if (r < 0)
                return r;
        r = ctlchan_send(&ch, &req, ANSWER_GUARD_MS);
        if (r == 0)
                r = ctlchan_read(&ch, &body, sizeof(body), ANSWER_GUARD_MS);
        if (r == WIRE_REC_ERROR)
                tl_log("registration refused: %s", strerror(-body.err.error));
        /* Closing the reply FIFO unregisters. */
        ctlchan_close(&ch, 0);
        return r;
}

int main(int argc, char **argv)
{
        struct tl_status st;
        unsigned ok = 0, refused = 0, unanswered = 0;
        uint64_t bad_before;
        int ready[2], status;
        ipcd_client *c;
        pid_t pid;
        char x;

        tl_init(argc, argv);
        tl_skip_unless_nobody();

        tl_status(&st);
        bad_before = st.daemon.bad_control;
        tl_status_free(&st);

        CHECK(pipe(ready) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(ready[0]);
                stray_writer(ready[1]);
        }
        close(ready[1]);
        CHECK_MSG(read(ready[0], &x, 1) == 1, "the stray writer did not start");
        close(ready[0]);

        for (unsigned i = 0; i < REGISTRATIONS; i++) {
                int r = register_once();

                if (r == WIRE_REC_REGISTERED)
                        ok++;
                else if (r == WIRE_REC_ERROR)
                        refused++;
                else
                        unanswered++;
                /* Spread the registrations over a second or more, so that
                 * stray bytes fall between them. */
                tl_sleep_ms(5);
        }
        kill(pid, SIGKILL);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFSIGNALED(status), "the stray writer exited early (%#x)", status);
        /* tlib's STATUS request is written without a leading newline (as an
         * old client would): end the stray writer's last partial line. */
        CHECK_OK(tl_control_write("\n", 1));

        tl_log("%u of %u registrations answered REGISTERED on their first try "
               "(%u refused, %u unanswered)",
               ok, REGISTRATIONS, refused, unanswered);
        CHECK_EQ(ok, REGISTRATIONS);

        tl_status(&st);
        tl_log("bad control lines: %llu", (unsigned long long)(st.daemon.bad_control - bad_before));
        CHECK_MSG(st.daemon.bad_control > bad_before, "no stray byte reached ipcd");
        tl_status_free(&st);

        /* The library still registers. */
        c = tl_connect("after-stray");
        ipcd_close(c);
        tl_wait_clients(0);
        return 0;
}
