#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-bulk.sh - payloads through the shared-memory ring
# See test-bulk.c for what it asserts.  A small ring (4 lanes of 256 KiB)
# and two lanes per uid make a full lane cheap.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_test_config 'rings = ( { name = "default"; size = 1048576; lane_size = 262144; } );'
ipcd_test_config 'lanes_per_uid = 2;'
ipcd_start
run_test_prog test-bulk
ipcd_stop TERM
ipcd_check_clean
# Then across a restart, with ipcds of its own.
run_test_prog test-bulk restart
ipcd_test_finish
