#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-channel.sh - direct channels (issue 16)
# See test-channel.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-channel
ipcd_test_finish
