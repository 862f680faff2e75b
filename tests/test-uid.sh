#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-uid.sh - a client of another uid
# See test-uid.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-uid
ipcd_test_finish
