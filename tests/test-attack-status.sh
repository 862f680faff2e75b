#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-status.sh - issue 10: see test-attack-status.c for the attack and what must hold.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-attack-status
ipcd_test_finish
