#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-calls.sh - request/reply: ipcd_call and ipcd_reply
# See test-calls.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-calls
ipcd_test_finish
