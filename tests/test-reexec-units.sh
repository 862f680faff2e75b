#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-reexec-units.sh - a re-exec (`ipcdctl reexec`, twice) keeps each
# client's systemd unit and what ipcd.conf's unit_limits count for it
# (re-exec state version 2; fake units a.service and b.service, cgroups
# made in a writable cgroup2 hierarchy; skipped without one):
#  - `ipcdctl --json clients` shows the same unit for every client before
#    and after, even for a client whose process moved to another cgroup
#    meanwhile (the unit is the one read at registration, as before);
#  - a.service's clients limit (2) still refuses its third client;
#  - a.service's backlog_bytes (16 KiB) still counts what ipcd held for a
#    stopped receiver before the re-execs: a second flood adds nothing;
#  - the access rules still hold (a denied name stays denied).

. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"

CLIENT=$top_builddir/src/ipcdctl/test-ctl-client
[ -x "$CLIENT" ] || fail "test-ctl-client not built: $CLIENT"
T=$IPCD_TEST_TMP
ctl() { "$IPCDCTL" "$@"; }
bg_pids=""
trap 'rc=$?; for p in $bg_pids; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done; (exit $rc); _ipcd_test_cleanup' EXIT

wait_for() {
        local i=0
        until grep -qF -- "$2" "$1" 2>/dev/null; do
                i=$((i + 1))
                [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "'$2' never appeared in $1: $(cat "$1")"
                sleep 0.05
        done
}
# sub UNIT NAME TOPIC: a subscriber in UNIT ("-": ours), left running.
sub() {
        if [ "$1" = - ]; then
                "$CLIENT" sub "$2" "$3" >"$T/$2" 2>&1 &
        else
                sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$IPCD_FAKE_SLICE/$1" \
                        "$CLIENT" sub "$2" "$3" >"$T/$2" 2>&1 &
        fi
        bg_pids="$bg_pids $!"
        eval "pid_${2//[^a-z0-9]/_}=$!"
        wait_for "$T/$2" ready
}
# refused UNIT NAME: its registration fails with EDQUOT.
refused() {
        : >"$T/$2"
        in_unit "$1" "$CLIENT" sub "$2" x/y >"$T/$2" 2>&1 &
        local p=$!
        bg_pids="$bg_pids $p"
        local i=0
        while kill -0 $p 2>/dev/null; do
                grep -q ready "$T/$2" && fail "$2 in $1 registered past its unit's limit"
                i=$((i + 1))
                [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "$2 in $1: neither refused nor ready"
                sleep 0.05
        done
        grep -q 'EDQUOT\|quota\|limit' "$T/$2" || fail "$2 in $1: not refused for a limit: $(cat "$T/$2")"
}
# "name unit id" per client, sorted.
units() {
        ctl --json clients | /usr/bin/python3 -c '
import json, sys
for c in sorted(json.load(sys.stdin), key=lambda c: c["name"]):
    print(c["name"], c["unit"] or "-", c["id"])'
}
backlog_of() {
        ctl --json clients | /usr/bin/python3 -c '
import json, sys
print(next(c["backlog_bytes"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]))' "$1"
}
# denied: registering the name locked/x is refused by the rule.
denied() {
        timeout "$IPCD_TEST_WAIT" "$CLIENT" sub locked/x x/y >"$T/locked" 2>&1 &&
                fail "locked/x $1: $(cat "$T/locked")"
        grep -q ready "$T/locked" && fail "locked/x registered $1"
        grep -q 'EACCES\|ermission' "$T/locked" || fail "locked/x $1: $(cat "$T/locked")"
        log "locked/x $1: $(head -1 "$T/locked")"
}
reexec() {
        ctl reexec >"$T/reexec" 2>&1 || fail "ipcdctl reexec: $(cat "$T/reexec")"
}

ipcd_fake_unit a.service || skip "no writable cgroup2 hierarchy to fake a unit in"
ipcd_fake_unit b.service || fail "a second fake unit"

cat >"$IPCD_TEST_CONFIG" <<'CONF'
registration_rate = 100000;
registration_burst = 100000;
queue_bytes = 16384;
backlog_bytes = 1048576;
backlog_total_bytes = 16777216;
unit_limits = (
  { unit = "a.service"; clients = 2; backlog_bytes = 16384; }
);
policy = (
  { action = "own"; name = "locked/*"; decision = "deny"; }
);
CONF
ipcd_start

sub a.service a1 t/a
sub a.service a2 t/a2
sub b.service b1 t/b
sub - n1 t/n
refused a.service a3
denied "before the re-execs"
units >"$T/units.before"
grep -qx 'a1 a.service [0-9]*' "$T/units.before" || fail "a1's unit: $(cat "$T/units.before")"
grep -qx 'n1 - [0-9]*' "$T/units.before" || fail "n1's unit: $(cat "$T/units.before")"
# a2 moves to b.service's cgroup: its unit stays the one it registered in.
echo "$pid_a2" >"$IPCD_FAKE_SLICE/b.service/cgroup.procs" || fail "moving a2"

# a1 stops reading: ipcd holds at most a.service's 16 KiB for it.
kill -STOP $pid_a1
"$CLIENT" pub t/a 1 3000 >/dev/null || fail "flood to a1"
ba=$(backlog_of a1)
[ "$ba" -gt 0 ] && [ "$ba" -le 16384 ] || fail "a1's backlog before the re-execs: $ba"

reexec
reexec
grep -c 're-exec: took over' "$IPCD_LOG" | grep -qx 2 || fail "not two re-execs taken over"
grep -q 'unusable' "$IPCD_LOG" && fail "a state was refused"
units >"$T/units.after"
diff -u "$T/units.before" "$T/units.after" >&2 || fail "units changed across the re-execs"
log "units before and after 2 re-execs: $(tr '\n' ';' <"$T/units.after")"

[ "$(backlog_of a1)" = "$ba" ] || fail "a1's backlog $ba became $(backlog_of a1)"
"$CLIENT" pub t/a 1 3000 >/dev/null || fail "second flood to a1"
ba2=$(backlog_of a1)
log "a1's backlog (a.service, 16 KiB): $ba bytes before, $ba2 after a second flood"
[ "$ba2" -le 16384 ] || fail "a.service's backlog $ba2 is over its 16384 after the re-execs"
refused a.service a3
denied "after the re-execs"
kill -CONT $pid_a1

for p in $bg_pids; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
bg_pids=""
ipcd_stop
ipcd_test_finish
