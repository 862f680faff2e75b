#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-quota.sh - issue 10: see test-attack-quota.c for the attack and what must hold.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# LIMIT and GLOBAL in test-attack-quota.c; registrations as fast as the
# attacker can make them.
ipcd_test_config 'max_clients_per_uid = 8;'
ipcd_test_config 'max_clients = 40;'
ipcd_test_config 'registration_rate = 100000; registration_burst = 100000;'
ipcd_start
run_test_prog test-attack-quota
ipcd_test_finish
