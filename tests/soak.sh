#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/soak.sh [DURATION] - the soak: DURATION seconds (default 600) of
# many clients connecting and leaving, unicast (inline, IPCD_MORE batches,
# bulk), calls, topics and history, a client killed every 3 s and a
# re-exec every 60 s, against one ipcd in a private IPC namespace on a
# temporary runtime dir.  tests/soak-load.c is the load and the judge
# (what it checks: there); this script starts ipcd, runs it, and checks
# that ipcd exits 0 on SIGTERM with nothing left behind (no object, FIFO
# or process).  Not part of make check: `make soak` or, in the build
# tree, top_builddir=. bash tests/soak.sh 600.  SOAK_WORKERS (default 12)
# sets the number of worker slots.
. "$(dirname "$0")/harness.sh"
duration=${1:-600}
case $duration in
''|*[!0-9]*) fail "DURATION must be a number of seconds: $duration" ;;
esac
ipcd_test_setup "$@"
[ -x "$top_builddir/tests/soak-load" ] ||
        fail "tests/soak-load is not built (make check or make tests/soak-load)"
# Room for the bulk payloads and the workers' uid (one uid: every client).
ipcd_test_config 'max_clients_per_uid = 256;'
# Clients come and go faster than a user's would: no registration limit.
ipcd_test_config 'registration_rate = 100000;'
ipcd_test_config 'registration_burst = 100000;'
# A lane for every worker and the sink (all of one uid): 32 lanes of 1 MiB.
ipcd_test_config 'lanes_per_uid = 32;'
ipcd_test_config 'rings = ( { name = "default"; size = 33554432; lane_size = 1048576; } );'
ipcd_start
pid=$IPCD_PID
"$top_builddir/tests/soak-load" "$duration"
st=$?
[ "$st" = 0 ] || fail "soak-load exited with status $st"
kill -0 "$pid" 2>/dev/null || fail "ipcd is gone"
n=$(grep -c 're-exec: took over' "$IPCD_LOG")
log "ipcd took over its state $n times, pid $pid throughout"
grep -q 'unusable' "$IPCD_LOG" && fail "a re-exec state was refused"
ipcd_stop TERM
ipcd_check_clean
# No process of the soak is left (the workers die with soak-load anyway).
left=$(pgrep -f "$top_builddir/tests/soak-load" || true)
[ -z "$left" ] || fail "soak-load processes left: $left"
ipcd_test_finish
