#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-statefile.sh - ipcd.state stays small; start-up after a crash
# See test-statefile.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# 100 000 registrations as fast as 4 processes make them; no log line each.
ipcd_test_config 'registration_rate = 1000000;'
ipcd_test_config 'registration_burst = 1000000;'
ipcd_test_config 'max_clients_per_uid = 4096;'
ipcd_test_config 'log_level = "notice";'
# test-statefile starts, kills and restarts ipcd itself.
run_test_prog test-statefile
ipcd_test_finish
