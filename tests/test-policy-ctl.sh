#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-policy-ctl.sh - `ipcdctl policy` and `ipcdctl policy check` against
# a real ipcd: the rules in force are listed in order with their line
# numbers, subjects, objects, decisions and hit counts (text and JSON,
# validated); a denied send counts on its rule; `policy check` names the
# deciding rule (by uid number and name, group, unit, pattern) or says
# "default allow"; after a SIGHUP reload the new rules (and fresh counts)
# are listed; bad arguments are usage errors.

. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"

CLIENT=$top_builddir/src/ipcdctl/test-ctl-client
JSONV=$top_builddir/src/ipcdctl/test-json
[ -x "$CLIENT" ] || fail "test-ctl-client not built: $CLIENT"
T=$IPCD_TEST_TMP
ctl() { "$IPCDCTL" "$@"; }
bg_pids=""
trap 'rc=$?; for p in $bg_pids; do kill -KILL "$p" 2>/dev/null; done; (exit $rc); _ipcd_test_cleanup' EXIT

wait_for() {
        local i=0
        until grep -qF -- "$2" "$1" 2>/dev/null; do
                i=$((i + 1))
                [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "'$2' never appeared in $1: $(cat "$1")"
                sleep 0.05
        done
}

# line N of the config file (1-based) is the rule the tests name.
cat >"$IPCD_TEST_CONFIG" <<'CONF'
registration_rate = 100000;
registration_burst = 100000;
policy = (
  { action = "send"; name = "blocked"; uid = 0; decision = "deny"; },
  { action = "send"; name = "srv"; uid = "root"; decision = "allow"; },
  { action = "own"; name = "camera/*"; uid = 2001; decision = "allow"; },
  { action = "own"; name = "camera/*"; decision = "deny"; },
  { action = "subscribe"; topic = "lab/*"; group = "video"; decision = "allow"; },
  { action = "subscribe"; topic = "lab/*"; decision = "deny"; },
  { action = "call"; name = "svc"; unit = "allowed.*"; decision = "allow"; },
  { action = "receive"; name = "noisy"; sender_uid = 2003; decision = "deny"; }
);
CONF

# No daemon: an error, not a hang or a crash.
ctl policy >"$T/out" 2>"$T/err" && fail "policy without ipcd succeeded"
grep -q "not running" "$T/err" || fail "policy without ipcd: $(cat "$T/err")"

ipcd_start

"$CLIENT" sub srv x/y >"$T/srv" 2>&1 &
bg_pids="$bg_pids $!"
wait_for "$T/srv" ready
"$CLIENT" sub blocked x/z >"$T/blocked" 2>&1 &
bg_pids="$bg_pids $!"
wait_for "$T/blocked" ready
ctl send srv 1 one >/dev/null || fail "send to srv (allowed by line 5) failed"
ctl send srv 1 two >/dev/null || fail "second send to srv failed"
ctl send blocked 1 x >/dev/null 2>"$T/err" && fail "send to blocked (denied by line 4) succeeded"
grep -q EACCES "$T/err" || fail "send to blocked: not EACCES: $(cat "$T/err")"

ctl policy >"$T/out" 2>"$T/err" || fail "policy failed: $(cat "$T/err")"
cat "$T/out" >&2
grep -q '^8 rules in force' "$T/out" || fail "policy: no '8 rules in force' header"
# In order, with their lines.
[ "$(awk 'NR > 2 { print $1 }' "$T/out" | tr '\n' ' ')" = "4 5 6 7 8 9 10 11 " ] ||
        fail "policy: rules not in order: $(cat "$T/out")"
grep -Eq '^4 +send +deny +uid=root\(0\) +name=blocked +1$' "$T/out" ||
        fail "policy: line 4 wrong (expected 1 hit)"
grep -Eq '^5 +send +allow +uid=root\(0\) +name=srv +2$' "$T/out" ||
        fail "policy: line 5 wrong (expected 2 hits)"
grep -Eq '^8 +subscribe +allow +group=video\(44\) +topic=lab/\* +0$' "$T/out" ||
        fail "policy: line 8 wrong (group by name, topic)"
grep -Eq '^9 +subscribe +deny +\* +topic=lab/\* +0$' "$T/out" ||
        fail "policy: line 9 wrong (no subject)"
grep -Eq '^10 +call +allow +unit=allowed\.\* +name=svc +0$' "$T/out" ||
        fail "policy: line 10 wrong (unit)"
grep -Eq '^11 +receive +deny +sender_uid=2003 +name=noisy +0$' "$T/out" ||
        fail "policy: line 11 wrong (sender_uid)"
grep -q '1 action denied' "$T/out" || fail "policy: the denial is not counted"

ctl --json policy >"$T/json" || fail "policy --json failed"
"$JSONV" --validate <"$T/json" || fail "policy --json is not valid JSON: $(cat "$T/json")"
/usr/bin/python3 - "$T/json" <<'PY' || fail "policy --json: wrong content: $(cat "$T/json")"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["rules"]
assert d["rules_in_force"] == 8 and d["rules_shown"] == 8 and d["denied"] == 1, d
assert [x["line"] for x in r] == [4, 5, 6, 7, 8, 9, 10, 11]
assert r[0] == {"line": 4, "action": "send", "decision": "deny", "uid": 0, "user": "root",
                "name": "blocked", "hits": 1}, r[0]
assert r[1]["hits"] == 2 and r[4]["gid"] == 44 and r[4]["group"] == "video"
assert r[4]["topic"] == "lab/*" and "name" not in r[4]
assert r[6]["unit"] == "allowed.*" and r[7]["sender_uid"] == 2003
PY

# policy check: the deciding rule, by line.
expect_check() {
        local want=$1
        shift
        ctl policy check "$@" >"$T/chk" 2>"$T/err" || fail "policy check $* failed: $(cat "$T/err")"
        grep -q -- "$want" "$T/chk" || fail "policy check $*: expected '$want', got: $(cat "$T/chk")"
}
expect_check '^deny: the rule at line 4 decides' --uid 0 send blocked
expect_check '^deny: the rule at line 4 decides' --uid root send blocked
expect_check '^allow: the rule at line 5 decides' --uid=root send srv
expect_check '^default allow' --uid 2001 send srv
expect_check '^allow: the rule at line 6 decides' --uid 2001 own camera/front
expect_check '^deny: the rule at line 7 decides' --uid 2002 own camera/front
expect_check '^default allow' --uid 2002 own other
expect_check '^allow: the rule at line 8 decides' --uid 2002 --group video subscribe lab/cam
expect_check '^allow: the rule at line 8 decides' --uid 2002 --group 44 subscribe 'lab/*'
expect_check '^deny: the rule at line 9 decides' --uid 2002 subscribe lab/cam
expect_check '^deny: the rule at line 9 decides' --uid 2002 --group 3000 subscribe lab/cam
expect_check '^allow: the rule at line 10 decides' --uid 2003 --unit allowed.service call svc
expect_check '^default allow' --uid 2003 --unit other.service call svc
expect_check '^default allow' --uid 2003 call svc
ctl --json policy check --uid 2002 own camera/x >"$T/json" || fail "policy check --json failed"
"$JSONV" --validate <"$T/json" || fail "policy check --json: invalid JSON"
grep -q '"decision":"deny"' "$T/json" && grep -q '"line":7' "$T/json" ||
        fail "policy check --json: $(cat "$T/json")"
ctl --json policy check --uid 2002 own other | grep -q '"default":true' ||
        fail "policy check --json: no default"

# Usage errors (exit 2).
for args in "policy check send srv" "policy check --uid nosuchuser-x send srv" \
        "policy check --uid 1 steal srv" "policy check --uid 1 own bad/*" \
        "policy check --uid 1 --group nosuchgroup-x own a" "policy frobnicate" \
        "status --uid 1" "policy --uid 1"; do
        set -f; ctl $args >/dev/null 2>&1; rc=$?; set +f
        [ "$rc" = 2 ] || fail "'ipcdctl $args' exited $rc, expected 2"
done

# A reload: the new rules are in force, with their own counts.
cat >"$IPCD_TEST_CONFIG" <<'CONF'
policy = (
  { action = "publish"; topic = "x/*"; decision = "deny"; }
);
CONF
kill -HUP "$IPCD_PID"
i=0
until ctl policy 2>/dev/null | grep -q '^1 rule in force'; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "the reload's rules never showed: $(ctl policy)"
        sleep 0.05
done
ctl policy | grep -Eq '^2 +publish +deny +\* +topic=x/\* +0$' || fail "after reload: $(ctl policy)"
expect_check '^deny: the rule at line 2 decides' --uid 5 publish x/y
expect_check '^default allow' --uid 0 send blocked

# No rules at all.
: >"$IPCD_TEST_CONFIG"
kill -HUP "$IPCD_PID"
i=0
until ctl policy 2>/dev/null | grep -q '^no access rules'; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "the empty policy never showed: $(ctl policy)"
        sleep 0.05
done

for p in $bg_pids; do kill -TERM "$p"; wait "$p"; done
bg_pids=""
ipcd_stop
ipcd_test_finish
