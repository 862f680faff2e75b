#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-death.sh - clients that die
# See test-death.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-death
ipcd_test_finish
