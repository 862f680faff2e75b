#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-flood.sh - issue 10: see test-attack-flood.c for the attack and what must hold.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# test-attack-flood starts, kills and restarts ipcd itself.
run_test_prog test-attack-flood
ipcd_test_finish
