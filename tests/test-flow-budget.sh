#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-flow-budget.sh - flow control at scale: ipcd's memory limits never
# drop what a window let through; a client's budget bounds it in all.
# See test-flow-budget.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_test_config 'backlog_bytes = 65536;'
ipcd_test_config 'backlog_total_bytes = 262144;'
ipcd_test_config 'max_message_size = 4096;'
ipcd_start
run_test_prog test-flow-budget
ipcd_stop TERM
ipcd_check_clean
ipcd_test_finish
