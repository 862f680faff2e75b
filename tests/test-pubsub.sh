#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-pubsub.sh - publish/subscribe, history, slow subscribers, monitor
# See test-pubsub.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# Small queues whatever the capabilities: a subscriber that does not read
# overflows after a few hundred messages.
ipcd_test_config 'queue_bytes = 16384;'
# test-pubsub starts ipcd itself (it restarts it at the end).
run_test_prog test-pubsub
ipcd_test_finish
