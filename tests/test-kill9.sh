#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-kill9.sh CASE - one case of the kill -9 matrix (test-kill9.c says
# what each asserts).  Each case is its own test, tests/test-kill9-CASE.sh,
# which sets IPCD_KILL9_CASE.
. "$(dirname "$0")/harness.sh"
case=${IPCD_KILL9_CASE:?"set by tests/test-kill9-CASE.sh"}
ipcd_test_setup "$@"
if [ "$case" = ipcd ]; then
        # It starts (and kills, and restarts) its own ipcd.
        run_test_prog test-kill9 ipcd
else
        ipcd_start
        run_test_prog test-kill9 "$case"
fi
ipcd_test_finish
