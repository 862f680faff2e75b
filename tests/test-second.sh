#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-second.sh - a second ipcd on the same runtime directory is refused.
#
# Asserts: the second ipcd exits non-zero (promptly: a hang guard only);
# the first keeps serving: same pid answers STATUS, its control FIFO and
# state file are still there, its clients and their queues survive, and
# a new exchange works; the second one created or removed no IPC object.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_start

probe=$top_builddir/tests/test-probe
"$probe" idle keeper >/dev/null &
keeper=$!
i=0
until "$probe" status | grep -q 'name=keeper '; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "keeper never registered"
        sleep 0.05
done
ipc_ids() { awk 'FNR > 1 { print FILENAME, $2 }' /proc/sysvipc/msg /proc/sysvipc/sem /proc/sysvipc/shm; }
before=$(ipc_ids)
pid_before=$("$probe" status | sed -n 's/^daemon pid=\([0-9]*\) .*/\1/p')
[ "$pid_before" = "$IPCD_PID" ] || fail "status pid $pid_before, ipcd runs as $IPCD_PID"

for args in "" "--log-level debug"; do
        # shellcheck disable=SC2086
        timeout "$IPCD_TEST_WAIT" "$IPCD" --runtime-dir "$IPCD_RUNTIME_DIR" \
                --config "$IPCD_TEST_CONFIG" $args 2>"$IPCD_TEST_TMP/second.log"
        st=$?
        log "second ipcd exited with $st: $(head -c 300 "$IPCD_TEST_TMP/second.log")"
        [ "$st" != 124 ] || fail "the second ipcd did not exit within ${IPCD_TEST_WAIT}s"
        [ "$st" != 0 ] || fail "the second ipcd exited 0"
done

kill -0 "$IPCD_PID" 2>/dev/null || fail "the first ipcd died"
[ -p "$IPCD_RUNTIME_DIR/control" ] || fail "control FIFO gone"
[ -e "$IPCD_RUNTIME_DIR/ipcd.state" ] || fail "ipcd.state gone"
after=$(ipc_ids)
[ "$before" = "$after" ] || fail "IPC objects changed:
before:
$before
after:
$after"
pid_after=$("$probe" status | sed -n 's/^daemon pid=\([0-9]*\) .*/\1/p')
[ "$pid_after" = "$IPCD_PID" ] || fail "STATUS answered by pid '$pid_after'"
"$probe" status | grep -q 'name=keeper ' || fail "keeper lost its registration"
"$probe" exchange || fail "exchange through the first ipcd"

kill -TERM $keeper
wait $keeper 2>/dev/null
ipcd_test_finish
