#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-policy.sh - the access rules of ipcd.conf across uids, groups, units
# See test-policy.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# test-policy writes the config, starts, reloads and stops ipcd itself.
run_test_prog test-policy
ipcd_test_finish
