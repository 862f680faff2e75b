#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-reexec.sh - ipcd re-executes itself keeping every client (`ipcdctl
# reexec`, SIGUSR2); a state it cannot read makes it start afresh.  See
# test-reexec.c for what each mode asserts.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"

ipcd_start
pid=$IPCD_PID
run_test_prog test-reexec identity
run_test_prog test-reexec call
run_test_prog test-reexec stream
run_test_prog test-reexec channel
# Seven re-execs, one process: the pid never changed.
n=$(grep -c 're-exec: took over' "$IPCD_LOG")
[ "$n" = 7 ] || fail "$n re-execs taken over, 7 expected"
n=$(grep -c 're-exec: took over .*, 1 channels' "$IPCD_LOG")
[ "$n" = 2 ] || fail "$n re-execs took a channel over, 2 expected"
grep -q 'channel .* dropped' "$IPCD_LOG" && fail "a channel was dropped"
kill -0 "$pid" || fail "ipcd's pid changed"
grep -q 'unusable' "$IPCD_LOG" && fail "a state was refused"
ipcd_stop TERM
ipcd_check_clean

# A state that cannot be read: garbage, then the fixtures cut short.
head -c 4096 /dev/urandom >"$IPCD_TEST_TMP/garbage.state"
head -c 100 "$top_srcdir/tests/reexec-v1.state" >"$IPCD_TEST_TMP/short.state"
head -c 1000 "$top_srcdir/tests/reexec-v2.state" >"$IPCD_TEST_TMP/short2.state"
for bad in garbage short short2; do
        : >"$IPCD_LOG"
        export IPCD_TEST_REEXEC_STATE=$IPCD_TEST_TMP/$bad.state
        ipcd_start
        unset IPCD_TEST_REEXEC_STATE
        run_test_prog test-reexec corrupt
        grep -q 'state of the previous image is unusable (' "$IPCD_LOG" ||
                fail "$bad: no reason logged"
        grep 'unusable' "$IPCD_LOG" >&2
        ipcd_stop TERM
        ipcd_check_clean
done
ipcd_test_finish
