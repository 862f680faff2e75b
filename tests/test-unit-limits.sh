#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-unit-limits.sh - ipcd.conf's unit_limits (issue 13): two services
# of one uid (fake units a.service and b.service, cgroups made in a
# writable cgroup2 hierarchy; skipped without one) cannot starve each
# other.  a.service may have 2 clients: its third is refused (EDQUOT)
# while b.service still registers; "*.service" gives each unit it matches
# its own 3 (b's fourth is refused, a client in no unit is not limited);
# with client queues of 16 KiB, ipcd holds at most 16 KiB of backlog for a.service's clients, while a
# stopped receiver of b.service gets far more; the limits are live on
# SIGHUP (a.service then registers a third); with lanes = 2, a.service's
# clients get 2 lanes of a ring (the third is refused, EDQUOT) while
# b.service's take 8 (all of one uid, lanes_per_uid 16: the unit's limit
# is what refuses); a bad entry is a config error with its line.

. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_test_clients

# sub UNIT NAME TOPIC: a subscriber in UNIT ("-": ours), left running.
sub() {
        if [ "$1" = - ]; then
                "$CLIENT" sub "$2" "$3" >"$T/$2" 2>&1 &
        else
                # sh execs the client: $! is its pid (kill -STOP below).
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
backlog_of() {
        ctl --json clients | /usr/bin/python3 -c '
import json, sys
print(next(c["backlog_bytes"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]))' "$1"
}

ipcd_fake_unit a.service || skip "no writable cgroup2 hierarchy to fake a unit in"
ipcd_fake_unit b.service || fail "a second fake unit"

# A bad entry: file:line, exit 78.
cat >"$IPCD_TEST_CONFIG" <<'CONF'
unit_limits = (
  { unit = "a.service"; clients = 2; },
  { clients = 3; }
);
CONF
"$IPCD" --config "$IPCD_TEST_CONFIG" --check-config >"$T/chk" 2>&1
rc=$?
[ "$rc" = 78 ] || fail "check-config of a unit_limits entry without a unit: exit $rc"
grep -q ':3: unit_limits entry without a unit' "$T/chk" || fail "no file:line: $(cat "$T/chk")"
printf 'unit_limits = ( { unit = "a.service"; frobs = 1; } );\n' >"$IPCD_TEST_CONFIG"
"$IPCD" --config "$IPCD_TEST_CONFIG" --check-config >"$T/chk" 2>&1 && fail "an unknown key passed"
grep -q "unknown unit_limits key 'frobs'" "$T/chk" || fail "unknown key: $(cat "$T/chk")"

# A ring of 16 lanes, lanes_per_uid 16: every client here has our uid, so
# only a unit's lanes limit can keep a unit from taking lanes.
RING='rings = ( { name = "default"; size = 16777216; lane_size = 1048576; } );'
cat >"$IPCD_TEST_CONFIG" <<CONF
$RING
lanes_per_uid = 16;
registration_rate = 100000;
registration_burst = 100000;
queue_bytes = 16384;
backlog_bytes = 1048576;
backlog_total_bytes = 16777216;
unit_limits = (
  { unit = "a.service"; clients = 2; backlog_bytes = 16384; },
  { unit = "*.service"; clients = 3; }
);
CONF
ipcd_start

# Clients: a.service 2, b.service 3, our own (no unit) unlimited.
sub a.service a1 t/a
sub a.service a2 t/a2
refused a.service a3
sub b.service b1 t/b
sub b.service b2 t/b2
sub b.service b3 t/b3
refused b.service b4
sub - n1 t/n
sub - n2 t/n
sub - n3 t/n
sub - n4 t/n
log "clients: a.service 2 of 2 (third refused), b.service 3 of 3 (fourth refused), no unit: 4"

# Backlog: a1 and b1 stop reading; the same flood to each.
kill -STOP $pid_a1 $pid_b1
"$CLIENT" pub t/a 1 3000 >/dev/null || fail "flood to a1"
"$CLIENT" pub t/b 1 3000 >/dev/null || fail "flood to b1"
ba=$(backlog_of a1)
bb=$(backlog_of b1)
log "backlog held: a1 (a.service, 16 KiB) $ba bytes, b1 (b.service) $bb bytes"
[ "$ba" -le 16384 ] || fail "a.service's backlog $ba is over its 16384"
[ "$bb" -gt 32768 ] || fail "b.service's backlog $bb: not held past a.service's limit"
kill -CONT $pid_a1 $pid_b1

# Live on reload: a.service may have 3 now.
sed -i 's/clients = 2; backlog_bytes = 16384;/clients = 3;/' "$IPCD_TEST_CONFIG"
kill -HUP "$IPCD_PID"
i=0
until grep -q "configuration reloaded\|reloaded" "$IPCD_LOG" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "no reload logged"
        sleep 0.05
done
sub a.service a3 t/a3
refused a.service a4

for p in $bg_pids; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
bg_pids=""

# Lanes: a.service may produce into 2 lanes of the ring; b.service (no
# entry matches it now) into as many as it asks for, while a.service holds
# its 2.  Each lane-taker is one process of many clients, each holding a
# buffer in a lane of its own.
cat >"$IPCD_TEST_CONFIG" <<CONF
$RING
lanes_per_uid = 16;
registration_rate = 100000;
registration_burst = 100000;
unit_limits = ( { unit = "a.service"; lanes = 2; } );
CONF
kill -HUP "$IPCD_PID"
i=0
until [ "$(grep -c "configuration reloaded\|reloaded" "$IPCD_LOG")" -ge 2 ]; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "no second reload logged"
        sleep 0.05
done
# lanes UNIT COUNT: a lane-taker in UNIT, left running; its "lanes N ERR".
lanes() {
        # sh execs the client: $! is its pid (in_unit & would be a subshell's).
        sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$IPCD_FAKE_SLICE/$1" \
                "$CLIENT" lanes "$2" >"$T/lanes-$1" 2>&1 &
        bg_pids="$bg_pids $!"
        wait_for "$T/lanes-$1" "lanes "
        got=$(grep '^lanes ' "$T/lanes-$1")
}
lanes a.service 8
log "a.service (lanes = 2), asking for 8: $got"
[ "$got" = "lanes 2 EDQUOT" ] || fail "a.service's lanes limit is not enforced: $got"
lanes b.service 8
log "b.service (no lanes limit), asking for 8 while a.service holds 2: $got"
[ "$got" = "lanes 8 -" ] || fail "b.service was held to a.service's lanes: $got"
used=$(ctl --json status | /usr/bin/python3 -c '
import json, sys
print(json.load(sys.stdin)["rings"][0]["lanes_used"])')
[ "$used" = 10 ] || fail "lanes used: $used, expected 2 + 8"

for p in $bg_pids; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
bg_pids=""
ipcd_stop
ipcd_test_finish
