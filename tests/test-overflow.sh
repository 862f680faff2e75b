#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-overflow.sh - a receiver that does not keep up
# See test-overflow.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# Small and fixed whatever the capabilities: 16 KiB queues, 4 KiB backlog.
ipcd_test_config 'queue_bytes = 16384;'
ipcd_test_config 'backlog_bytes = 4096;'
ipcd_start
run_test_prog test-overflow
ipcd_test_finish
