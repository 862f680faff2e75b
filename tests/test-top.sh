#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-top.sh - `ipcdctl top` driven in tmux (send-keys, capture-pane)
# against a real ipcd with traffic: the header and the client table with
# rates, `t` to the topics, `>` to sort by the next column, a resized
# window redrawn to its new size, `q` quits with status 0; and the plain
# repeated table when stdout is not a terminal (SIGINT ends it, status 0).
# Skipped (77) without tmux or without an ipcdctl built with ncurses.

. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_test_clients 'tm kill-server 2>/dev/null'

TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" -f /dev/null "$@"; }

# Wait (hang guard) until the pane shows every string given; the screen
# in $T/screen.
screen_has() {
        local i=0 s ok
        while :; do
                tm capture-pane -p -t top >"$T/screen" 2>/dev/null
                ok=1
                for s in "$@"; do
                        grep -qF -- "$s" "$T/screen" || ok=0
                done
                [ $ok = 1 ] && return 0
                i=$((i + 1))
                [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "the screen never showed '$*':
$(cat "$T/screen")"
                sleep 0.05
        done
}

# ------------------------------------------------------------------
# Without ipcd, and usage.
ctl top >"$T/out" 2>"$T/err" && fail "top without ipcd succeeded"
grep -q "not running\|ECONNREFUSED\|No such" "$T/err" || fail "top without ipcd: $(cat "$T/err")"
ctl top --interval 0 >/dev/null 2>&1
[ $? = 2 ] || fail "top --interval 0 is not a usage error"

ipcd_start
"$CLIENT" sub srv a/b >"$T/srv" 2>&1 &
bg_pids="$bg_pids $!"
wait_for "$T/srv" ready
# A publisher until the end: a rate to show.
"$CLIENT" pub a/b 3 0 10 2>"$T/pub" &
pub=$!
bg_pids="$bg_pids $pub"
wait_for "$T/srv" "msg 2"

# ------------------------------------------------------------------
# Plain: stdout is a file.
# (ipcdctl itself in the background, not a shell function: the signal
# goes to it.)
"$IPCDCTL" top --interval 100 >"$T/plain" 2>"$T/plain.err" &
plain=$!
bg_pids="$bg_pids $plain"
wait_for "$T/plain" "per second:"
kill -INT $plain
i=0
while kill -0 $plain 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "plain top did not end on SIGINT"
        sleep 0.05
done
wait $plain
st=$?
[ $st = 0 ] || fail "plain top exited $st after SIGINT: $(cat "$T/plain.err")"
grep -q '^NAME  *ID  *UID  *SENT/S\*  *RECV/S' "$T/plain" || fail "no table heading: $(cat "$T/plain")"
grep -q '^srv ' "$T/plain" || fail "no srv row: $(cat "$T/plain")"
grep -q '^- ' "$T/plain" || fail "no row for the anonymous publisher: $(cat "$T/plain")"
grep -q $'\e' "$T/plain" && fail "escape sequences in the plain output"

# ------------------------------------------------------------------
# Full screen, in tmux.
command -v tmux >/dev/null 2>&1 || skip "tmux not installed"
"$IPCDCTL" --help >/dev/null
tm new-session -d -s top -x 150 -y 30 \
        "TERM=screen IPCD_RUNTIME_DIR='$IPCD_RUNTIME_DIR' '$IPCDCTL' top --interval 200" ||
        fail "tmux new-session"
tm set-option -t top remain-on-exit on >/dev/null
tm capture-pane -p -t top >"$T/screen"
# A build without ncurses prints the plain table in the pane: skip.
sleep 0.5
tm capture-pane -p -t top >"$T/screen"
if grep -q "^ipcd .*\[clients\]" "$T/screen" && ! grep -q "q quit" "$T/screen"; then
        skip "ipcdctl built without ncurses"
fi
screen_has "[clients]" "SENT/S*" "q quit" "per second:"
# srv's row: it receives what pub publishes, so its RECV/S is above 0.
screen_has "srv "
awk '$1 == "srv" { if ($5 + 0 > 0) ok = 1 } END { exit !ok }' "$T/screen" ||
        screen_has "__srv_rate_above_0__"
cp "$T/screen" "$T/clients-screen"

tm send-keys -t top t
screen_has "[topics]" "TOPIC" "PUB/S*" "a/b"
tm send-keys -t top '>'
screen_has "DELIV/S*"
grep -qF "PUB/S*" "$T/screen" && fail "two sort marks: $(cat "$T/screen")"
cp "$T/screen" "$T/topics-screen"

# Resized: redrawn to the new size, the help on its new last line.
tm resize-window -t top -x 60 -y 12
i=0
until tm capture-pane -p -t top >"$T/screen" && [ "$(wc -l <"$T/screen")" -le 12 ] &&
        sed -n 12p "$T/screen" | grep -q "^q quit"; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "not redrawn at 60x12: $(cat "$T/screen")"
        sleep 0.05
done
awk 'length($0) > 60 { exit 1 }' "$T/screen" || fail "lines wider than 60: $(cat "$T/screen")"

tm send-keys -t top q
i=0
until [ "$(tm display-message -p -t top '#{pane_dead}')" = 1 ]; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "q did not end top"
        sleep 0.05
done
dead=$(tm display-message -p -t top '#{pane_dead_status}/#{pane_dead_signal}')
case $dead in
0/*) ;;
/*)
        # Seen twice under heavy load: tmux reports no exit status for the
        # pane (the issue-13 note tracks it); anything but a clean exit or
        # this is a failure.
        log "top ended after q, tmux reports no exit status ($dead)" ;;
*) fail "q did not end top with status 0: $dead" ;;
esac
tm kill-server
log "screens:"
cat "$T/clients-screen" "$T/topics-screen" >&2

ipcd_check_alive
kill -TERM $bg_pids 2>/dev/null
for p in $bg_pids; do wait "$p" 2>/dev/null; done
bg_pids=""
ipcd_test_finish
