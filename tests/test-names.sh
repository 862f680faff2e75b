#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-names.sh - registration: names, errors, limits
# See test-names.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_test_config 'max_clients_per_uid = 8;'
ipcd_start
run_test_prog test-names
ipcd_test_finish
