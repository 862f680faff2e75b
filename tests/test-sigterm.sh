#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-sigterm.sh - ipcd stops cleanly on SIGTERM and SIGINT while clients
# are connected, one of them with messages waiting in its queue and in
# ipcd's backlog.
#
# Asserts: ipcd exits 0; no queue, semaphore or segment is left in the IPC
# namespace, no FIFO in the runtime directory, no state file; clients
# blocked in ipcd_recv(-1) (named and anonymous) return -ECONNRESET; a
# client that never reads does not hold ipcd up; ipcd starts again on the
# same runtime directory afterwards.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"

probe=$top_builddir/tests/test-probe

# Wait (hang guard) until STATUS lists $1 clients.
wait_clients() {
        local want=$1 n i=0
        while :; do
                n=$("$probe" status | grep -c '^client ')
                [ "$n" = "$want" ] && return 0
                i=$((i + 1))
                [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "status shows $n clients, expected $want"
                sleep 0.05
        done
}

# Wait for a background process (hang guard); fail unless it exits 0.
wait_ok() {
        local pid=$1 what=$2 i=0 st
        while kill -0 "$pid" 2>/dev/null; do
                i=$((i + 1))
                [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "$what still running"
                sleep 0.05
        done
        wait "$pid"
        st=$?
        [ "$st" = 0 ] || fail "$what exited with status $st"
}

for sig in TERM INT; do
        log "--- SIG$sig"
        ipcd_start
        "$probe" hold holder-a >"$IPCD_TEST_TMP/a.out" &
        a=$!
        "$probe" hold - >"$IPCD_TEST_TMP/b.out" &
        b=$!
        # a client that never reads, then a flood for it: its queue fills
        # and the rest waits in ipcd's backlog (or is dropped)
        "$probe" idle idle-reader >/dev/null &
        c=$!
        wait_clients 3
        "$probe" send - idle-reader 1 "waiting for a reader that never comes" 500 ||
                fail "flooding idle-reader"
        "$probe" status >"$IPCD_TEST_TMP/status.txt" || fail "status"
        grep -q '^client .*name=idle-reader .*queued=[1-9]' "$IPCD_TEST_TMP/status.txt" ||
                fail "idle-reader has nothing queued: $(cat "$IPCD_TEST_TMP/status.txt")"

        ipcd_stop "$sig"
        ipcd_check_clean
        [ ! -e "$IPCD_RUNTIME_DIR/control" ] || fail "control FIFO left after SIG$sig"
        wait_ok $a "named client blocked in ipcd_recv (SIG$sig)"
        wait_ok $b "anonymous client blocked in ipcd_recv (SIG$sig)"
        grep -q 'recv: ECONNRESET' "$IPCD_TEST_TMP/a.out" || fail "holder-a: $(cat "$IPCD_TEST_TMP/a.out")"
        kill -KILL $c 2>/dev/null
        wait $c 2>/dev/null
done
ipcd_test_finish
