#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-select.sh - selective receive and per-pair order
# See test-select.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-select
ipcd_test_finish
