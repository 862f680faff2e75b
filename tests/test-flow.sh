#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-flow.sh - lossless unicast by default (flow control), default config
# See test-flow.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-flow
ipcd_stop TERM
ipcd_check_clean
run_test_prog test-flow kill
ipcd_test_finish
