#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-ipcdctl.sh - ipcdctl against a real ipcd in a private IPC namespace:
# exit statuses and messages without a daemon, usage errors, status and
# clients (text and JSON, options before and after the command word),
# send with its errors, listen (what it prints, Ctrl-C, a taken name,
# ipcd going away), and cleanup (refused while ipcd runs; after a crash
# it removes what the crashed ipcd left).

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# shellcheck source=../../tests/harness.sh
. "$top_srcdir/tests/harness.sh"
ipcd_test_setup "$@"

JSONCHECK=$top_builddir/src/ipcdctl/test-json
[ -x "$IPCDCTL" ] || fail "ipcdctl not built: $IPCDCTL"
[ -x "$JSONCHECK" ] || fail "test-json not built: $JSONCHECK"

T=$IPCD_TEST_TMP
ctl() { "$IPCDCTL" "$@"; }

# Processes started in the background, ended on any exit.
bg_pids=""
kill_bg() {
        local p
        for p in $bg_pids; do
                kill -KILL "$p" 2>/dev/null
        done
}
trap 'rc=$?; kill_bg; (exit $rc); _ipcd_test_cleanup' EXIT

# expect STATUS CMD... : run CMD, its stdout in $T/out, stderr in $T/err.
expect() {
        local want=$1 st
        shift
        "$@" >"$T/out" 2>"$T/err"
        st=$?
        [ "$st" = "$want" ] || fail "'$*' exited $st, expected $want; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
}
out_has() { grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1': $(cat "$T/out")"; }
err_has() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1': $(cat "$T/err")"; }

# Wait (hang guard) until file $1 contains $2.
wait_for() {
        local i=0
        until grep -qF -- "$2" "$1" 2>/dev/null; do
                i=$((i + 1))
                [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "'$2' never appeared in $1: $(cat "$1")"
                sleep 0.05
        done
}

# Wait (hang guard) until process $1 exits; its status in $wait_status.
wait_exit() {
        local i=0
        while kill -0 "$1" 2>/dev/null; do
                i=$((i + 1))
                [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "process $1 did not exit"
                sleep 0.05
        done
        wait "$1"
        wait_status=$?
}

# ------------------------------------------------------------------
# Usage and version, no daemon needed.
expect 0 ctl --version
out_has "ipcdctl "
expect 0 ctl --help
out_has "listen [NAME]"
expect 2 ctl
expect 2 ctl frobnicate
err_has "unknown command 'frobnicate'"
expect 2 ctl status --bogus
expect 2 ctl send alice 1
expect 2 ctl send alice 0 text
err_has "invalid message type"
expect 2 ctl send alice 1073741824 text
expect 2 ctl send 'bad name' 1 text
expect 2 ctl listen a b

# No daemon: a clear message, exit status 1, whichever the directory.
expect 1 ctl --runtime-dir "$T/nowhere" status
err_has "ipcd is not running at $T/nowhere (no control FIFO)"
expect 1 ctl send alice 1 hi
err_has "not running"
expect 1 ctl clients --json
[ ! -s "$T/out" ] || fail "clients --json printed something without a daemon"
expect 0 ctl --runtime-dir "$T/nowhere" cleanup
out_has "nothing to clean up"

# ------------------------------------------------------------------
"$IPCD" --runtime-dir "$IPCD_RUNTIME_DIR" --config "$IPCD_TEST_CONFIG" 2>>"$IPCD_LOG" &
IPCD_PID=$!
i=0
until ctl status >/dev/null 2>&1; do
        kill -0 "$IPCD_PID" 2>/dev/null || fail "ipcd exited during start-up"
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "ipcd did not answer ipcdctl status"
        sleep 0.05
done

# status: text, then JSON with the options on either side of the word.
expect 0 ctl status
out_has "pid $IPCD_PID"
out_has "clients:"
out_has "inbound queues"
expect 0 ctl status --json
"$JSONCHECK" --validate <"$T/out" || fail "status --json is not valid JSON: $(cat "$T/out")"
[ "$(wc -l <"$T/out")" = 1 ] || fail "status --json is not one line"
for key in '"pid":'"$IPCD_PID" '"version":"' '"uptime_s":' '"inbound_queues":[' \
        '"clients":[' '"rings":[' '"counters":{"routed":'; do
        out_has "$key"
done
expect 0 ctl --json --runtime-dir "$IPCD_RUNTIME_DIR" status
out_has '"pid":'"$IPCD_PID"
expect 0 env -u IPCD_RUNTIME_DIR "$IPCDCTL" status --runtime-dir="$IPCD_RUNTIME_DIR" --json
out_has '"pid":'"$IPCD_PID"

# listen: its id first, then each message on one line, flushed at once.
"$IPCDCTL" listen alice >"$T/alice" 2>&1 &
alice=$!
bg_pids="$bg_pids $alice"
wait_for "$T/alice" "listening as alice (id "
alice_id=$(sed -n 's/^listening as alice (id \([0-9]*\))$/\1/p' "$T/alice")
[ -n "$alice_id" ] || fail "no id in: $(cat "$T/alice")"

expect 1 ctl listen alice
err_has "the name is taken"

expect 0 ctl send alice 7 'hello alice'
out_has "delivered to 'alice' (type 7, 11 bytes)"
wait_for "$T/alice" "[type 7] from - (id "
grep -q "^\[type 7\] from - (id [0-9]*, uid $(id -u), pid [0-9]*): hello alice$" "$T/alice" ||
        fail "unexpected listen line: $(cat "$T/alice")"

# Bytes that are not printable text are escaped; "--" passes a '-' text.
expect 0 ctl send alice 8 "$(printf 'tab\there\\back')"
wait_for "$T/alice" 'tab\there\\back'
expect 0 ctl send alice 9 -- '-dash'
wait_for "$T/alice" "): -dash"

# send errors: exit status 1 and a message that says what happened.
expect 1 ctl send nobody 1 hi
err_has "send to 'nobody': no such client (ENOENT)"

# clients, text and JSON, while alice listens.
expect 0 ctl clients
out_has "NAME"
grep -q "^ *$alice_id  *alice " "$T/out" || fail "alice not in the client table: $(cat "$T/out")"
expect 0 ctl clients --json
"$JSONCHECK" --validate <"$T/out" || fail "clients --json is not valid JSON: $(cat "$T/out")"
out_has '"id":'"$alice_id"',"name":"alice","uid":'"$(id -u)"
expect 0 ctl status --json
out_has '"name":"alice"'

# listen --json: one JSON object per line.
"$IPCDCTL" listen --json >"$T/anon" 2>&1 &
anon=$!
bg_pids="$bg_pids $anon"
wait_for "$T/anon" '"event":"listening"'
anon_id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$T/anon" | head -n 1)
[ -n "$anon_id" ] || fail "no id in: $(cat "$T/anon")"
expect 0 ctl clients
grep -q "^ *$anon_id  *- " "$T/out" || fail "anonymous client not shown as '-': $(cat "$T/out")"

# Ctrl-C ends a listener with exit status 0.
kill -INT "$alice"
wait_exit "$alice"
[ "$wait_status" = 0 ] || fail "listen exited $wait_status after SIGINT"

# cleanup refuses while ipcd runs.
expect 1 ctl cleanup
err_has "ipcd is running (pid $IPCD_PID)"

# ipcd going away: the listener says so and exits 1.
ipcd_stop TERM
wait_exit "$anon"
[ "$wait_status" = 1 ] || fail "listen exited $wait_status when ipcd stopped, expected 1: $(cat "$T/anon")"
grep -q "ipcd went away" "$T/anon" || fail "listen did not say that ipcd went away: $(cat "$T/anon")"
while read -r line; do
        printf '%s' "$line" | "$JSONCHECK" --validate || fail "not JSON: $line"
done < <(grep '^{' "$T/anon")
ipcd_check_clean

# After a clean stop there is nothing to remove.
expect 0 ctl cleanup
out_has "removed 0 System V objects"

# ------------------------------------------------------------------
# After a crash, cleanup removes what the crashed ipcd left.
crash=$T/crash
"$IPCD" --runtime-dir "$crash" --config "$IPCD_TEST_CONFIG" 2>>"$IPCD_LOG" &
crash_pid=$!
bg_pids="$bg_pids $crash_pid"
i=0
until ctl --runtime-dir "$crash" status >/dev/null 2>&1; do
        kill -0 "$crash_pid" 2>/dev/null || fail "second ipcd exited during start-up"
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "second ipcd did not answer"
        sleep 0.05
done
"$IPCDCTL" --runtime-dir "$crash" listen bob >"$T/bob" 2>&1 &
bob=$!
bg_pids="$bg_pids $bob"
wait_for "$T/bob" "listening as bob"
# bash reports "Killed" on its own stderr: that is what we did.
exec 3>&2 2>/dev/null
kill -KILL "$crash_pid"
wait "$crash_pid"
exec 2>&3 3>&-
kill -INT "$bob"
wait_exit "$bob"
_ipc_objects >/dev/null || fail "the crashed ipcd left no object to clean up"
expect 0 ctl --runtime-dir "$crash" cleanup
grep -q "^removed [1-9][0-9]* System V object" "$T/out" || fail "cleanup removed nothing: $(cat "$T/out")"
if objs=$(_ipc_objects); then
        fail "objects left after cleanup: $objs"
fi
rm -rf "$crash"

ipcd_test_finish
