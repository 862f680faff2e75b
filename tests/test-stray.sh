#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-stray.sh - stray bytes on the control FIFO cost no one else's line
# See test-stray.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# 200 registrations in a second or two, each one a client for a moment.
ipcd_test_config 'registration_rate = 100000;'
ipcd_test_config 'registration_burst = 100000;'
ipcd_test_config 'max_clients_per_uid = 4096;'
ipcd_start
run_test_prog test-stray
ipcd_test_finish
