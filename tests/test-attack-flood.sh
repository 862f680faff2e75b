#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-flood.sh - issue 10: see test-attack-flood.c for the attack and what must hold.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# The default ring's size and lanes, with a group of its own (users) for
# the lane_burst variant: the attacker joins it and stays unprivileged
# (ipcd's own group, which the default ring has, would make it an admin).
if getent group users >/dev/null 2>&1; then
        ipcd_test_config 'rings = ( { name = "default"; size = 67108864; lane_size = 8388608; group = "users"; } );'
fi
# test-attack-flood starts, kills and restarts ipcd itself.
run_test_prog test-attack-flood
ipcd_test_finish
