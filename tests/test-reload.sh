#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-reload.sh - SIGHUP applies every key or names it
# See test-reload.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# test-reload writes the config, starts, reloads and stops ipcd itself.
run_test_prog test-reload
ipcd_test_finish
