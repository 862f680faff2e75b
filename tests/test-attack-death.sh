#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-death.sh - issue 10: see test-attack-death.c for the attack and what must hold.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# test-attack-death starts, kills and restarts ipcd itself.
run_test_prog test-attack-death
ipcd_test_finish
