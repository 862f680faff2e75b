#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-downtime.sh - a registration written while ipcd is down waits in
# the control FIFO (held open as systemd's ListenFIFO= does) and succeeds
# once ipcd is up.  See test-downtime.c.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# The runtime directory as an earlier ipcd left it (tmpfiles.d makes it
# under systemd).
ipcd_start
ipcd_stop TERM
run_test_prog test-downtime
ipcd_test_finish
