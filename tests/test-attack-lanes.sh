#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-lanes.sh - issue 10: see test-attack-lanes.c for the attack and what must hold.
# The default ring and lanes_per_uid: the attack is on the defaults.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start
run_test_prog test-attack-lanes
ipcd_test_finish
