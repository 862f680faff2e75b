#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-hostile.sh - garbage on the control FIFO and the inbound queue
# See test-hostile.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-hostile
ipcd_test_finish
