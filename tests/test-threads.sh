#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-threads.sh - one handle used by several threads
# See test-threads.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_test_config 'backlog_bytes = 67108864;'
ipcd_test_config 'backlog_total_bytes = 268435456;'
ipcd_start
run_test_prog test-threads
ipcd_test_finish
