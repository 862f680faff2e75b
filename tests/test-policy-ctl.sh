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
ipcd_test_clients

JSONV=$top_builddir/src/ipcdctl/test-json

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
  { action = "receive"; name = "noisy"; sender_uid = 2003; decision = "deny"; },
  { action = "receive"; name = "chatty"; sender_unit = "loud.*"; decision = "deny"; },
  { action = "receive"; name = "quiet/*"; uid = 0; sender_uid = 0; decision = "deny"; }
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
grep -q '^10 rules in force' "$T/out" || fail "policy: no '10 rules in force' header"
# In order, with their lines.
[ "$(awk 'NR > 2 { print $1 }' "$T/out" | tr '\n' ' ')" = "4 5 6 7 8 9 10 11 12 13 " ] ||
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
grep -Eq '^12 +receive +deny +sender_unit=loud\.\* +name=chatty +0$' "$T/out" ||
        fail "policy: line 12 wrong (sender_unit)"
grep -Eq '^13 +receive +deny +uid=root\(0\),sender_uid=root\(0\) +name=quiet/\* +0$' "$T/out" ||
        fail "policy: line 13 wrong (uid and sender_uid)"
grep -q '1 action denied' "$T/out" || fail "policy: the denial is not counted"

ctl --json policy >"$T/json" || fail "policy --json failed"
"$JSONV" --validate <"$T/json" || fail "policy --json is not valid JSON: $(cat "$T/json")"
/usr/bin/python3 - "$T/json" <<'PY' || fail "policy --json: wrong content: $(cat "$T/json")"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["rules"]
assert d["rules_in_force"] == 10 and d["rules_shown"] == 10 and d["denied"] == 1, d
assert [x["line"] for x in r] == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
assert r[0] == {"line": 4, "action": "send", "decision": "deny", "uid": 0, "user": "root",
                "name": "blocked", "hits": 1}, r[0]
assert r[1]["hits"] == 2 and r[4]["gid"] == 44 and r[4]["group"] == "video"
assert r[4]["topic"] == "lab/*" and "name" not in r[4]
assert r[6]["unit"] == "allowed.*" and r[7]["sender_uid"] == 2003
assert r[8]["sender_unit"] == "loud.*" and r[8]["name"] == "chatty"
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

# receive: the subject is the receiver, the object the sender (OBJECT its
# name, "" anonymous; --sender-uid, --sender-unit), as ipcd decides.
expect_check '^deny: the rule at line 11 decides' --uid 0 --sender-uid 2003 receive noisy
expect_check '^default allow' --uid 0 --sender-uid 2004 receive noisy
expect_check '^deny: the rule at line 12 decides' --uid 5 --sender-unit loud.service receive chatty
expect_check '^default allow' --uid 5 --sender-unit calm.service receive chatty
expect_check '^default allow' --uid 5 receive chatty
expect_check '^deny: the rule at line 13 decides' --uid 0 --sender-uid root receive quiet/a
expect_check '^default allow' --uid 0 --sender-uid 7 receive quiet/a
expect_check '^default allow' --uid 5 receive quiet/a
expect_check '^default allow' --uid 0 receive ''
expect_check '^default allow' --uid 0 --sender-uid 2003 receive ''
ctl --json policy check --uid 0 --sender-uid 2003 --sender-unit x.service receive noisy \
        >"$T/json" || fail "policy check --json receive failed"
"$JSONV" --validate <"$T/json" || fail "policy check --json receive: invalid JSON"
/usr/bin/python3 - "$T/json" <<'PY' || fail "policy check --json receive: $(cat "$T/json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"action": "receive", "object": "noisy", "uid": 0, "sender_uid": 2003,
             "sender_unit": "x.service", "decision": "deny", "default": False, "line": 11}, d
PY
# The answer depends on the sender's uid: it must be given.
for args in "--uid 0 receive noisy" "--uid 0 --sender-unit a.service receive quiet/x"; do
        ctl policy check $args >"$T/out" 2>"$T/err"
        rc=$?
        [ "$rc" = 2 ] || fail "policy check $args: exit $rc, expected 2"
        grep -q 'names the sender.s uid: give --sender-uid' "$T/err" ||
                fail "policy check $args: $(cat "$T/err")"
done

# What ipcd decides for real, sender by sender (root's, to srv, root's
# too): the same as policy check says.
agree() { # agree NAME UNIT: a send from NAME ("-": anonymous) in UNIT ("-": none)
        local want got obj=$1 opts=(--uid 0 --sender-uid 0)
        [ "$obj" = - ] && obj=""
        [ "$2" = - ] || opts+=(--sender-unit "$2")
        ctl policy check "${opts[@]}" receive "$obj" >"$T/chk" 2>"$T/err" ||
                fail "policy check receive $1: $(cat "$T/err")"
        case $(cat "$T/chk") in
        deny:*) want=deny ;;
        *) want=allow ;;
        esac
        if [ "$2" = - ]; then
                "$CLIENT" send "$1" srv 1 "from $1" >/dev/null 2>"$T/err"
        else
                in_unit "$2" "$CLIENT" send "$1" srv 1 "from $1" >/dev/null 2>"$T/err"
        fi
        case $? in
        0) got=allow ;;
        *) grep -q 'Permission denied' "$T/err" || fail "send from $1: $(cat "$T/err")"
           got=deny ;;
        esac
        log "receive from $1 (unit $2): policy check says $want, ipcd $got"
        [ "$want" = "$got" ] || fail "receive from $1 in $2: policy check says $want, ipcd $got"
}
agree quiet/a -
agree quiet -
agree noisy -
agree chatty -
agree - -
if ipcd_fake_unit loud.service && ipcd_fake_unit calm.service; then
        agree chatty loud.service
        agree chatty calm.service
        agree quiet/b loud.service
else
        log "no writable cgroup2 hierarchy: the sender_unit sends are not tried"
fi
wait_for "$T/srv" "from chatty"
grep -q "from quiet/a" "$T/srv" && fail "srv got what rule 13 denies"

# Usage errors (exit 2).
for args in "policy check send srv" "policy check --uid nosuchuser-x send srv" \
        "policy check --uid 1 steal srv" "policy check --uid 1 own bad/*" \
        "policy check --uid 1 --group nosuchgroup-x own a" "policy frobnicate" \
        "status --uid 1" "policy --uid 1" "policy --sender-uid 1" \
        "policy check --uid 1 --sender-uid 1 send srv" "policy check --uid 1 --sender-unit a own b" \
        "policy check --uid 1 --sender-uid nosuchuser-x receive a" \
        "policy check --uid 1 --sender-unit= receive a" "status --sender-unit a"; do
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
