#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-ipcdctl.sh - ipcdctl against a real ipcd in a private IPC namespace:
# exit statuses and messages without a daemon, usage errors, status and
# clients (text and JSON, options before and after the command word),
# send with its errors, listen (what it prints, Ctrl-C, a taken name,
# ipcd going away), topics (counters for a known set of subscribers,
# history, rates), monitor (the lines for a known exchange, a pattern,
# JSON, refused for uid nobody, ipcd going away, the count of copies lost
# by a monitor that falls behind), and cleanup (refused
# while ipcd runs; after a crash it removes what the crashed ipcd left).

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# shellcheck source=../../tests/harness.sh
. "$top_srcdir/tests/harness.sh"
ipcd_test_setup "$@"

JSONCHECK=$top_builddir/src/ipcdctl/test-json
CLIENT=$top_builddir/src/ipcdctl/test-ctl-client
[ -x "$IPCDCTL" ] || fail "ipcdctl not built: $IPCDCTL"
[ -x "$JSONCHECK" ] || fail "test-json not built: $JSONCHECK"
[ -x "$CLIENT" ] || fail "test-ctl-client not built: $CLIENT"

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
out_has "monitor [PATTERN]"
out_has "--interval MS"
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
expect 2 ctl status --interval 5
err_has "--interval applies to topics and top only"
expect 2 ctl topics --interval
expect 2 ctl topics --interval x
err_has "invalid --interval 'x'"
expect 2 ctl topics --interval=-1
expect 2 ctl topics --interval 3600001
expect 2 ctl topics extra
expect 2 ctl monitor 'bad pattern'
err_has "invalid pattern 'bad pattern'"
expect 2 ctl monitor 'a/*/b'
expect 2 ctl monitor a b

# No daemon: a clear message, exit status 1, whichever the directory.
expect 1 ctl --runtime-dir "$T/nowhere" status
err_has "ipcd is not running at $T/nowhere (no control FIFO)"
expect 1 ctl send alice 1 hi
err_has "not running"
expect 1 ctl clients --json
[ ! -s "$T/out" ] || fail "clients --json printed something without a daemon"
expect 1 ctl --runtime-dir "$T/nowhere" topics
err_has "ipcd is not running at $T/nowhere (no control FIFO)"
expect 1 ctl --runtime-dir "$T/nowhere" monitor
err_has "ipcd is not running at $T/nowhere (no control FIFO)"
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
        '"clients":[' '"rings":[' '"counters":{"routed":' '"topics":[]' '"ntopics":0' \
        '"monitors":0' '"published":0,"unheard":0'; do
        out_has "$key"
done
# The default ring: its lanes and bytes in flight, in text and JSON.
grep -q '"rings":\[{"name":"default","shmid":[0-9]*,"size":[0-9]*,"used":0,"lanes":[0-9]*,"lanes_used":0,"lane_size":[0-9]*,"gid":[0-9]*}' "$T/out" ||
        fail "no default ring in status --json: $(cat "$T/out")"
expect 0 ctl status
out_has "publishes:      0 accepted, 0 heard by nobody"
out_has "topics:         0"
out_has "monitors:       0 watching"
grep -q "^  NAME  *SHMID  *GID  *SIZE  *LANE-SIZE  *LANES-USED  *IN-FLIGHT$" "$T/out" ||
        fail "no ring table header: $(cat "$T/out")"
grep -q "^  default  *[0-9][0-9]*  *[0-9][0-9]*  *[0-9.]*[KMG]  *[0-9.]*[KMG]  *0/[1-9][0-9]*  *0$" "$T/out" ||
        fail "no default ring line: $(cat "$T/out")"
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
grep -q "^\[type 7\] from - (id [0-9]*, uid $(id -u), pid [0-9]*\(, unit [^)]*\)\{0,1\}): hello alice$" "$T/alice" ||
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
for key in subscriptions pending_calls bulk_sent bulk_received bulk_held lanes; do
        grep -q '"name":"alice",[^}]*"'$key'":0[,}]' "$T/out" || fail "alice has no $key 0: $(cat "$T/out")"
done
expect 0 ctl status --json
out_has '"name":"alice"'
expect 0 ctl status
grep -q "^  ID  *NAME  *SUBSCRIPTIONS  *CALLS  *BULK-SENT  *BULK-RECEIVED  *BULK-HELD  *LANES  *UNROUTABLE$" "$T/out" ||
        fail "no client activity table: $(cat "$T/out")"
grep -q "^ *$alice_id  *alice  *0  *0  *0  *0  *0  *0  *0$" "$T/out" ||
        fail "alice not in the client activity table: $(cat "$T/out")"

# listen --json: one JSON object per line.
"$IPCDCTL" listen --json >"$T/anon" 2>&1 &
anon=$!
bg_pids="$bg_pids $anon"
wait_for "$T/anon" '"event":"listening"'
anon_id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$T/anon" | head -n 1)
[ -n "$anon_id" ] || fail "no id in: $(cat "$T/anon")"
expect 0 ctl clients
grep -q "^ *$anon_id  *- " "$T/out" || fail "anonymous client not shown as '-': $(cat "$T/out")"

# ------------------------------------------------------------------
# topics: a known set of subscribers and publishes.
expect 0 ctl topics --interval 0
[ "$(cat "$T/out")" = "(no topics)" ] || fail "topics without topics: $(cat "$T/out")"
expect 0 ctl topics --json --interval=0
[ "$(cat "$T/out")" = "[]" ] || fail "topics --json without topics: $(cat "$T/out")"

"$CLIENT" sub sub1 t/a t/b >"$T/sub1" 2>&1 &
sub1=$!
bg_pids="$bg_pids $sub1"
"$CLIENT" sub sub2 t/a 't/*' >"$T/sub2" 2>&1 &
sub2=$!
bg_pids="$bg_pids $sub2"
wait_for "$T/sub1" ready
wait_for "$T/sub2" ready
# (the history's depth is its setter's: it stays connected)
"$CLIENT" history h/x 4 >"$T/hist" 2>&1 &
hist=$!
bg_pids="$bg_pids $hist"
wait_for "$T/hist" ready
"$CLIENT" pub h/x 1 6 || fail "publish on h/x"
"$CLIENT" pub t/a 2 5 || fail "publish on t/a"
wait_for "$T/sub1" "t/a 2 msg 5"
wait_for "$T/sub2" "t/a 2 msg 5"
# sub2 matches t/a twice (t/a and t/*) and gets each message once.
[ "$(grep -c '^t/a 2 ' "$T/sub2")" = 5 ] || fail "sub2 did not get t/a once each: $(cat "$T/sub2")"

# Text: one line per topic, sorted; "t" is there for the t/* subscription
# (wildcards are not counted as subscribers); h/x keeps 4 of its 6.
expect 0 ctl topics --interval 0
sed 's/  */ /g' "$T/out" >"$T/norm"
cat >"$T/want" <<'EOT'
TOPIC SUBSCRIBERS RELIABLE HISTORY PUBLISHED DELIVERED
h/x 0 0 4/4 6 0
t 0 0 - 0 0
t/a 2 0 - 5 10
t/b 1 0 - 0 0
EOT
diff -u "$T/want" "$T/norm" >&2 || fail "unexpected topics output: $(cat "$T/out")"
expect 0 ctl --json topics --interval 0
"$JSONCHECK" --validate <"$T/out" || fail "topics --json is not valid JSON: $(cat "$T/out")"
out_has '[{"name":"h/x","subscribers":0,"reliable_subscribers":0,"history_depth":4,"history_kept":4,"published":6,"delivered":0},'
out_has '{"name":"t/a","subscribers":2,"reliable_subscribers":0,"history_depth":0,"history_kept":0,"published":5,"delivered":10}'
out_has '{"name":"t/b","subscribers":1,'
grep -q '"rate"' "$T/out" && fail "rates with --interval 0: $(cat "$T/out")"

# status counts them too.
expect 0 ctl status --json
out_has '"ntopics":4'
out_has '"published":11,"unheard":6'
out_has '"topics":[{"name":"h/x",'
grep -q '"name":"sub1",[^}]*"subscriptions":2,' "$T/out" || fail "sub1 has not 2 subscriptions: $(cat "$T/out")"
expect 0 ctl status
out_has "publishes:      11 accepted, 6 heard by nobody"
out_has "topics:         4"

# Rates: a publisher that runs all through the measurement.
"$CLIENT" pub t/a 3 0 5 >"$T/pub" 2>&1 &
pub=$!
bg_pids="$bg_pids $pub"
wait_for "$T/sub1" "t/a 3 msg 2"
expect 0 ctl topics --json --interval 300
"$JSONCHECK" --validate <"$T/out" || fail "topics --json is not valid JSON: $(cat "$T/out")"
rate=$(grep -o '{"name":"t/a",[^}]*}' "$T/out" | sed -n 's/.*,"rate":\([0-9.]*\),"delivered_rate":\([0-9.]*\)}$/\1 \2/p')
[ -n "$rate" ] || fail "no rate for t/a: $(cat "$T/out")"
# Two subscribers: twice as many copies delivered as publishes (give or
# take the rounding to one decimal).
awk -v p="${rate% *}" -v d="${rate#* }" 'BEGIN { exit !(p > 0 && d - 2 * p < 0.2 && 2 * p - d < 0.2) }' ||
        fail "t/a: expected a rate > 0 and twice that delivered, got $rate"
out_has '"published":0,"delivered":0,"rate":0.0,"delivered_rate":0.0}'
expect 0 ctl topics
grep -q "^TOPIC  *SUBSCRIBERS  *RELIABLE  *HISTORY  *PUBLISHED  *DELIVERED  *MSG/S$" "$T/out" ||
        fail "no MSG/S column: $(cat "$T/out")"
grep -q "^t/b  *1  *0  *-  *0  *0  *0\.0$" "$T/out" || fail "t/b not idle: $(cat "$T/out")"
grep -q "^t/a  *2  *0  *-  *[0-9]*  *[0-9]*  *[0-9]*\.[0-9]$" "$T/out" || fail "no t/a rate: $(cat "$T/out")"
kill -TERM "$pub"
wait_exit "$pub"
[ "$wait_status" = 0 ] || fail "the publisher exited $wait_status: $(cat "$T/pub")"

# ------------------------------------------------------------------
# monitor: every message routed, as it passes.
"$IPCDCTL" monitor >"$T/mon" 2>&1 &
mon=$!
bg_pids="$bg_pids $mon"
wait_for "$T/mon" "monitoring * (id "
"$IPCDCTL" monitor --json 'x/*' >"$T/monx" 2>&1 &
monx=$!
bg_pids="$bg_pids $monx"
wait_for "$T/monx" '{"event":"monitoring","pattern":"x/*","id":'
expect 0 ctl status
out_has "monitors:       2 watching"

# A message to alice: the monitor's line names the sender as alice sees it.
expect 0 ctl send alice 7 'hi "alice"'
wait_for "$T/alice" ': hi "alice"'
who=$(sed -n 's/^\[type 7\] from - \((id [0-9]*, uid [0-9]*, pid [0-9]*\(, unit [^)]*\)\{0,1\})\): hi "alice"$/\1/p' "$T/alice")
[ -n "$who" ] || fail "no sender in alice's line: $(cat "$T/alice")"
wait_for "$T/mon" "-> alice type 7 "
line=$(grep -F -- "-> alice type 7 " "$T/mon")
printf '%s\n' "$line" | grep -q '^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9][0-9][0-9] ' ||
        fail "no time in the monitor line: $line"
[ "${line#* }" = "- $who -> alice type 7 size 10 \"hi \\\"alice\\\"\"" ] ||
        fail "unexpected monitor line: $line"

# A longer payload: its size and its first 64 bytes.
long=$(printf '0123456789%.0s' 1 2 3 4 5 6 7 8 9 10)
expect 0 ctl send alice 8 "$long"
wait_for "$T/mon" "-> alice type 8 "
grep -qF -- "-> alice type 8 size 100 \"${long:0:64}\"..." "$T/mon" ||
        fail "long payload not cut at 64 bytes: $(cat "$T/mon")"

# A publish, and one on x/y that nobody hears: the filtered monitor sees
# only the latter.
"$CLIENT" pub t/b 4 1 || fail "publish on t/b"
wait_for "$T/mon" '-> topic:t/b type 4 size 5 "msg 1"'
"$CLIENT" pub x/y 5 1 || fail "publish on x/y"
wait_for "$T/mon" '-> topic:x/y type 5 size 5 "msg 1"'
wait_for "$T/monx" '"destination":"x/y"'
grep -q '"destination":"x/y","topic":true,"type":5,"size":5,"bulk":false,"data":"msg 1","truncated":false}$' "$T/monx" ||
        fail "unexpected monitor --json line: $(cat "$T/monx")"
grep -q 'alice\|t/b' "$T/monx" && fail "the x/* monitor saw other messages: $(cat "$T/monx")"
while read -r l; do
        printf '%s' "$l" | "$JSONCHECK" --validate || fail "not JSON: $l"
done <"$T/monx"

# A bulk payload (larger than an inline message): its size only.
big=$(head -c 20000 /dev/zero | tr '\0' b)
expect 0 ctl send alice 9 "$big"
wait_for "$T/mon" "-> alice type 9 "
grep -qF -- "-> alice type 9 size 20000 bulk" "$T/mon" || fail "no bulk line: $(cat "$T/mon")"

# Refused for uid nobody (not root, not in ipcd's group).
nobody_run() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
        log "skipping monitor as nobody: needs root and setpriv(1)"
elif ! nobody_run test -x "$IPCDCTL" || ! nobody_run test -w "$IPCD_RUNTIME_DIR/clients"; then
        log "skipping monitor as nobody: nobody cannot reach $IPCDCTL or $IPCD_RUNTIME_DIR"
else
        expect 1 nobody_run "$IPCDCTL" monitor
        err_has "ipcdctl: monitor: permission denied (root or members of ipcd's group only)"
        [ ! -s "$T/out" ] || fail "a refused monitor printed: $(cat "$T/out")"
fi

# Ctrl-C and SIGTERM end monitors with exit status 0; ipcd forgets them.
kill -INT "$mon"
wait_exit "$mon"
[ "$wait_status" = 0 ] || fail "monitor exited $wait_status after SIGINT"
kill -TERM "$monx"
wait_exit "$monx"
[ "$wait_status" = 0 ] || fail "monitor exited $wait_status after SIGTERM"
i=0
until ctl status | grep -q "monitors:       0 watching"; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "ipcd still counts monitors: $(ctl status)"
        sleep 0.05
done
kill -TERM "$sub1" "$sub2" "$hist"
wait_exit "$hist"
[ "$wait_status" = 0 ] || fail "the history client exited $wait_status: $(cat "$T/hist")"
wait_exit "$sub1"
[ "$wait_status" = 0 ] || fail "sub1 exited $wait_status: $(cat "$T/sub1")"
wait_exit "$sub2"
[ "$wait_status" = 0 ] || fail "sub2 exited $wait_status: $(cat "$T/sub2")"

# One more monitor, to see it go when ipcd stops.
"$IPCDCTL" monitor >"$T/mon3" 2>&1 &
mon3=$!
bg_pids="$bg_pids $mon3"
wait_for "$T/mon3" "monitoring * (id "

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
wait_exit "$mon3"
[ "$wait_status" = 1 ] || fail "monitor exited $wait_status when ipcd stopped, expected 1: $(cat "$T/mon3")"
grep -q "ipcd went away" "$T/mon3" || fail "monitor did not say that ipcd went away: $(cat "$T/mon3")"
while read -r line; do
        printf '%s' "$line" | "$JSONCHECK" --validate || fail "not JSON: $line"
done < <(grep '^{' "$T/anon")
ipcd_check_clean

# After a clean stop there is nothing to remove.
expect 0 ctl cleanup
out_has "removed 0 System V objects"

# ------------------------------------------------------------------
# A monitor that falls behind loses copies, never slows the bus, and says
# how many it lost (an ipcd with a small backlog, so that it happens soon).
slow=$T/slow
printf 'backlog_bytes = 4096;\n' >"$T/slow.conf"
"$IPCD" --runtime-dir "$slow" --config "$T/slow.conf" 2>>"$IPCD_LOG" &
slow_pid=$!
bg_pids="$bg_pids $slow_pid"
i=0
until ctl --runtime-dir "$slow" status >/dev/null 2>&1; do
        kill -0 "$slow_pid" 2>/dev/null || fail "the small-backlog ipcd exited during start-up"
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "the small-backlog ipcd did not answer"
        sleep 0.05
done
"$IPCDCTL" --runtime-dir "$slow" monitor >"$T/slowmon" 2>&1 &
slowmon=$!
bg_pids="$bg_pids $slowmon"
wait_for "$T/slowmon" "monitoring * (id "
kill -STOP "$slowmon"
i=0
until [ "$(sed 's/.*) //' "/proc/$slowmon/stat" | cut -d' ' -f1)" = T ]; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "the monitor did not stop"
        sleep 0.05
done
IPCD_RUNTIME_DIR=$slow "$CLIENT" pub x/y 1 2000 || fail "publish 2000 on x/y"
kill -CONT "$slowmon"
wait_for "$T/slowmon" "[notice 1] from ipcd ("
IPCD_RUNTIME_DIR=$slow "$CLIENT" pub x/end 1 1 || fail "publish on x/end"
wait_for "$T/slowmon" "-> topic:x/end type 1 "
# (The lost copies may come in more than one notice.)
missed=$(sed -n 's/^[0-9:.]* \[notice 1\] from ipcd (\([0-9]*\)): .*/\1/p' "$T/slowmon" |
        awk '{ n += $1 } END { print n + 0 }')
seen=$(grep -c -- "-> topic:x/y type 1 " "$T/slowmon")
if [ "$missed" = 0 ] || [ $((seen + missed)) != 2000 ]; then
        fail "monitor saw $seen copies and missed $missed, expected 2000 in all: $(grep -v -- "-> topic:x/y" "$T/slowmon")"
fi
kill -TERM "$slowmon"
wait_exit "$slowmon"
[ "$wait_status" = 0 ] || fail "monitor exited $wait_status after SIGTERM"
kill -TERM "$slow_pid"
wait_exit "$slow_pid"
[ "$wait_status" = 0 ] || fail "the small-backlog ipcd exited $wait_status"
rm -rf "$slow"

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
# ipcd's sentinel (ipcd(8)) would remove the objects the moment ipcd
# dies: kill it first, as when the whole service is killed at once.
sentinel=$(pgrep -P "$crash_pid")
[ -n "$sentinel" ] || fail "ipcd $crash_pid has no sentinel"
kill -KILL $sentinel
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
