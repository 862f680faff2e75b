#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-history.sh - issue 10: see test-attack-history.c for the attack and what must hold.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_test_config 'history_total = 1024;'
ipcd_start
run_test_prog test-attack-history
ipcd_test_finish
