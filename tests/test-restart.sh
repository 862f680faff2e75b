#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-restart.sh - the daemon goes away and comes back
# See test-restart.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# test-restart starts and stops ipcd itself.
run_test_prog test-restart
ipcd_test_finish
