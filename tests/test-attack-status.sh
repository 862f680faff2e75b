#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-attack-status.sh - issue 10: see test-attack-status.c for the attack and what must hold.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
# A sanitizer build keeps freed memory in ASan's quarantine (256 MiB by
# default), which would be measured as ipcd's: turn it off for this ipcd,
# so the bound is about what ipcd keeps, not about the sanitizer.
if ldd "$IPCD" 2>/dev/null | grep -q 'libasan'; then
        export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
fi
ipcd_start
run_test_prog test-attack-status
ipcd_test_finish
