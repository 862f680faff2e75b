#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-more.sh - IPCD_MORE: held sends, sent together, in order
# See test-more.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-more
ipcd_test_finish
