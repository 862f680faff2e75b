#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-fd.sh - ipcd_fd in an epoll loop
# See test-fd.c for what it asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# test-fd starts ipcd itself (it restarts it on the way).
run_test_prog test-fd
ipcd_test_finish
