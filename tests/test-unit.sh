#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-unit.sh - the sender's systemd unit at the receiver
# (ipcd_msg_sender_unit, issue 13), with senders in fake units (cgroups
# .../sender.service made in a writable cgroup2 hierarchy; skipped
# without one): ipcdctl listen prints it and its JSON has "sender_unit";
# a sender in no unit gives "" and no unit part; a sender that left
# before the receiver read its message is still known (ipcd remembers the
# units of the clients that left last); ipcdctl monitor shows it; the
# Python binding's Message.sender_unit has it.  The unit comes from ipcd,
# so a sender cannot choose it: the same process gets another unit only
# by being moved to another cgroup.

. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"
ipcd_test_clients

ipcd_fake_unit sender.service ||
        skip "no writable cgroup2 hierarchy to fake a unit in"
ipcd_fake_unit other.service || fail "a second fake unit"
ipcd_start

ctl listen --json alice >"$T/alice" 2>&1 &
alice=$!
bg_pids="$bg_pids $alice"
ctl listen bob >"$T/bob" 2>&1 &
bg_pids="$bg_pids $!"
ctl monitor >"$T/mon" 2>&1 &
bg_pids="$bg_pids $!"
wait_for "$T/mon" "monitoring * (id "
i=0
until ctl clients | grep -q bob && ctl clients | grep -q alice; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "listeners never registered"
        sleep 0.05
done

# A sender in sender.service: JSON and text.
in_unit sender.service "$IPCDCTL" send alice 1 one >/dev/null || fail "send from sender.service"
wait_for "$T/alice" '"data":"one"'
grep '"data":"one"' "$T/alice" | grep -q '"sender_unit":"sender.service"' ||
        fail "alice: no sender_unit sender.service: $(cat "$T/alice")"
in_unit other.service "$IPCDCTL" send bob 2 two >/dev/null || fail "send from other.service"
wait_for "$T/bob" ": two"
grep -q '^\[type 2\] from - (id [0-9]*, uid [0-9]*, pid [0-9]*, unit other.service): two$' "$T/bob" ||
        fail "bob: unexpected line: $(cat "$T/bob")"
wait_for "$T/mon" "-> bob type 2 "
grep -F -- "-> bob type 2 " "$T/mon" | grep -q ', unit other.service) -> bob' ||
        fail "monitor: no unit: $(cat "$T/mon")"

# A sender in no unit (our own cgroup, if it names none): "".
own=$(ctl --json clients | /usr/bin/python3 -c '
import json, sys
print(next(c["unit"] for c in json.load(sys.stdin) if c["name"] == "alice"))')
ctl send alice 3 three >/dev/null || fail "send from our cgroup"
wait_for "$T/alice" '"data":"three"'
grep '"data":"three"' "$T/alice" | grep -q "\"sender_unit\":\"$own\"" ||
        fail "alice: sender_unit is not '$own': $(cat "$T/alice")"

# A sender gone before the receiver reads: alice is stopped while it
# sends and leaves; ipcd still knows the unit when alice asks.
kill -STOP $alice
in_unit sender.service "$IPCDCTL" send alice 4 four >/dev/null || fail "send to a stopped alice"
i=0
nclients() { ctl --json clients | /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
until [ "$(nclients)" = 3 ]; do
        i=$((i + 1))
        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] || fail "the sender never left"
        sleep 0.05
done
kill -CONT $alice
wait_for "$T/alice" '"data":"four"'
grep '"data":"four"' "$T/alice" | grep -q '"sender_unit":"sender.service"' ||
        fail "alice: the unit of a sender that left: $(cat "$T/alice")"

# The Python binding (not in a sanitized build: its runtimes would have
# to be preloaded into python3, as python/test-python does).
pyext=$(ls "$top_builddir"/python/ipcd/_ipcd*.so 2>/dev/null | head -1)
if [ -n "$pyext" ] && ldd "$pyext" 2>/dev/null | grep -q 'lib[at]san'; then
        log "SKIP the Python binding: built with sanitizers"
elif [ -n "$pyext" ]; then
        PYTHONPATH="$top_builddir/python" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - >"$T/py" 2>&1 <<'PY' &
import ipcd
c = ipcd.Client("pyrecv")
print("ready", flush=True)
m = c.recv(timeout=30000)
print("unit=%r uid=%d" % (m.sender_unit, m.sender_uid), flush=True)
c.close()
PY
        py=$!
        bg_pids="$bg_pids $py"
        wait_for "$T/py" ready
        in_unit other.service "$IPCDCTL" send pyrecv 5 five >/dev/null || fail "send to pyrecv"
        wait "$py" || fail "the Python receiver failed: $(cat "$T/py")"
        grep -q "^unit='other.service' uid=" "$T/py" || fail "Python: $(cat "$T/py")"
else
        log "SKIP the Python binding: not built"
fi

for p in $bg_pids; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
bg_pids=""
ipcd_stop
ipcd_test_finish
