/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-downtime - a registration that arrives while ipcd is down waits in
 * the control FIFO and succeeds once ipcd is up, within ipcd_connect()'s
 * time.  Under systemd, ipcd.socket (ListenFIFO=) keeps the FIFO open
 * while ipcd is stopped, crashed or restarting; here this test holds it
 * open the same way (O_RDWR), sees the request wait in it (FIONREAD),
 * and only then starts ipcd (test-downtime.sh made the runtime directory
 * with an ipcd that ran and stopped).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

int main(int argc, char **argv)
{
        char path[4096];
        int holder, waiting = 0, st;
        pid_t child, ipcd;

        tl_init(argc, argv);
        snprintf(path, sizeof(path), "%s/control", tl_rundir());
        CHECK_MSG(mkfifo(path, 0622) == 0, "mkfifo %s: %s", path, strerror(errno));
        CHECK(chmod(path, 0622) == 0);
        holder = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC); /* what systemd does */
        CHECK(holder >= 0);

        child = fork();
        CHECK(child >= 0);
        if (child == 0) {
                ipcd_client *c = tl_connect("dt-a");

                tl_send(c, "dt-a", 1, "up", 2, IPCD_ACK);
                tl_expect(c, 0, 1, "up", 2, "dt-a");
                ipcd_close(c);
                _exit(0);
        }
        /* Its REGISTER line waits in the FIFO: nobody serves it yet. */
        while (waiting <= 0) {
                CHECK(ioctl(holder, FIONREAD, &waiting) == 0);
                CHECK_MSG(waitpid(child, &st, WNOHANG) == 0, "the client gave up with no ipcd");
                tl_sleep_ms(5);
        }
        tl_log("%d bytes of registration wait in the FIFO; starting ipcd", waiting);
        ipcd = tl_ipcd_start();
        CHECK(waitpid(child, &st, 0) == child);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client: status %#x", st);
        CHECK_EQ(tl_ipcd_stop(ipcd, SIGTERM), 0);
        close(holder);
        return 0;
}
