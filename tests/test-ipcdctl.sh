#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-ipcdctl.sh - ipcdctl against a real ipcd.
#
# Asserts: `status` prints a summary and lists clients by name; `status
# --json` is one JSON object with the fields of DESIGN.md (numbers as
# numbers), and the queue ids it gives exist in /proc/sysvipc/msg; global
# options work before and after the command word and IPCD_RUNTIME_DIR is
# honoured; `listen NAME` prints each message with its type, sender and
# text, line by line; `send NAME TYPE TEXT` exits 0 when delivered and
# non-zero for a missing name; with no daemon, status exits non-zero with
# a message on stderr.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
[ -x "$IPCDCTL" ] || fail "ipcdctl not built: $IPCDCTL"
ipcd_start

ctl() { "$IPCDCTL" --runtime-dir "$IPCD_RUNTIME_DIR" "$@"; }
out=$IPCD_TEST_TMP/out
err=$IPCD_TEST_TMP/err

# a listener, line-buffered into a file
# (not through the ctl function: $! must be ipcdctl's own pid)
"$IPCDCTL" --runtime-dir "$IPCD_RUNTIME_DIR" listen ctl-listener \
        >"$IPCD_TEST_TMP/listen.out" 2>"$IPCD_TEST_TMP/listen.err" &
listener=$!
i=0
until ctl status >"$out" 2>"$err" && grep -q ctl-listener "$out"; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "listener never showed up in status: $(cat "$out" "$err" "$IPCD_TEST_TMP/listen.err")"
        sleep 0.05
done

ctl send ctl-listener 7 "hello listener" >"$out" 2>"$err" || fail "send: exit $? $(cat "$err")"
ctl send ctl-listener 8 "second line" >"$out" 2>"$err" || fail "send: exit $? $(cat "$err")"
i=0
until grep -q "second line" "$IPCD_TEST_TMP/listen.out"; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "listen printed: $(cat "$IPCD_TEST_TMP/listen.out")"
        sleep 0.05
done
grep "hello listener" "$IPCD_TEST_TMP/listen.out" | grep -q "7" ||
        fail "listen output lacks the type: $(cat "$IPCD_TEST_TMP/listen.out")"
[ "$(grep -c 'hello listener\|second line' "$IPCD_TEST_TMP/listen.out")" = 2 ] ||
        fail "listen output: $(cat "$IPCD_TEST_TMP/listen.out")"

ctl send no-such-client 1 "lost" >"$out" 2>"$err" && fail "send to a missing name exited 0"
[ -s "$err" ] || fail "send to a missing name: no message on stderr"

# options after the command word; the environment variable
"$IPCDCTL" status --runtime-dir "$IPCD_RUNTIME_DIR" >"$out" 2>"$err" || fail "status --runtime-dir after the command: $?"
grep -q ctl-listener "$out" || fail "status does not list ctl-listener"
IPCD_RUNTIME_DIR=$IPCD_RUNTIME_DIR "$IPCDCTL" status >"$out" 2>"$err" || fail "status with IPCD_RUNTIME_DIR: $?"
grep -q ctl-listener "$out" || fail "status (env) does not list ctl-listener"

ctl status --json >"$IPCD_TEST_TMP/status.json" 2>"$err" || fail "status --json: exit $?"
"$IPCDCTL" --json status --runtime-dir "$IPCD_RUNTIME_DIR" >"$out" 2>"$err" || fail "--json before the command: $?"
if command -v python3 >/dev/null 2>&1; then
        python3 - "$IPCD_TEST_TMP/status.json" "$IPCD_PID" <<'PY' || fail "status --json content"
import json, sys
d = json.load(open(sys.argv[1]))
def num(o, k):
    v = o[k]
    assert isinstance(v, (int, float)) and not isinstance(v, bool), "%s is not a number: %r" % (k, v)
    return v
assert num(d, "pid") == int(sys.argv[2]), "pid"
assert isinstance(d["version"], str) and d["version"], "version"
num(d, "uptime_s")
qids = set(l.split()[1] for l in open("/proc/sysvipc/msg").readlines()[1:])
assert isinstance(d["inbound_queues"], list) and d["inbound_queues"], "inbound_queues"
for q in d["inbound_queues"]:
    num(q, "uid")
    assert str(num(q, "id")) in qids, "inbound queue %r not in /proc/sysvipc/msg" % q
names = {}
for c in d["clients"]:
    for k in ("id", "uid", "pid", "queue", "inbound_queue", "queued", "sent", "received", "dropped"):
        num(c, k)
    assert isinstance(c["name"], str)
    assert str(c["queue"]) in qids, "client queue %r not in /proc/sysvipc/msg" % c
    names[c["name"]] = c
l = names["ctl-listener"]
assert l["received"] == 2, "ctl-listener received %r" % l["received"]
assert l["queued"] == 0 and l["dropped"] == 0, l
assert isinstance(d["rings"], list)
for r in d["rings"]:
    assert isinstance(r["name"], str)
    for k in ("shmid", "size", "used"):
        num(r, k)
num(d["counters"], "routed")
num(d["counters"], "dropped")
assert d["counters"]["routed"] >= 2
PY
else
        log "python3 not found: JSON structure not checked"
        grep -q '"clients"' "$IPCD_TEST_TMP/status.json" || fail "status --json has no clients"
fi

kill -INT $listener
i=0
while kill -0 $listener 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "listen ignores SIGINT"
        sleep 0.05
done
wait $listener
st=$?
case $st in 0 | 130) ;; *) fail "listen exited with $st after SIGINT" ;; esac

ipcd_stop TERM
ctl status >"$out" 2>"$err" && fail "status with no daemon exited 0"
[ -s "$err" ] || fail "status with no daemon: nothing on stderr"
ipcd_test_finish
