#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-lanes.sh - issue 10: see test-attack-lanes.c for the attack and what must hold.
# The default ring's size and lanes, and the default lanes_per_uid: the
# attack is on the defaults.  The ring gets a group of its own (users),
# the group a site gives to the users of a ring: the hoarders join it and
# stay unprivileged (ipcd's own group, which the default ring has, would
# make them admins).
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
getent group users >/dev/null 2>&1 || skip "no group \"users\" for the ring"
ipcd_test_config 'rings = ( { name = "default"; size = 67108864; lane_size = 8388608; group = "users"; } );'
ipcd_start
run_test_prog test-attack-lanes
ipcd_test_finish
