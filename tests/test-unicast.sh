#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-unicast.sh - two clients exchange messages
# See test-unicast.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-unicast
ipcd_test_finish
