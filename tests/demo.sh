#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/demo.sh - the live demo behind `make demo`:
#
#   sh tests/demo.sh ABS_BUILDDIR
#
# Starts ipcd on a private runtime directory inside its own IPC namespace
# (unshare --ipc, when allowed), lets clients talk both ways (two
# `ipcdctl listen`ers, `ipcdctl send`, and the README's example program
# examples/hello), shows `ipcdctl status` and its --json, stops ipcd with
# SIGTERM and checks that no System V object is left.  Leaves nothing
# behind: every process it starts and its temporary directory go on exit.
#
# Exit status: 0 if every step did what it shows, 1 otherwise.

set -u

builddir=${1:-}
if [ -z "$builddir" ]; then
        builddir=$(cd "$(dirname "$0")/.." && pwd)
fi
case $builddir in
/*) ;;
*) builddir=$(cd "$builddir" && pwd) ;;
esac

IPCD=$builddir/src/ipcd/ipcd
IPCDCTL=$builddir/src/ipcdctl/ipcdctl
HELLO=$builddir/examples/hello
PUBSUB=$builddir/examples/pubsub

for p in "$IPCD" "$IPCDCTL" "$HELLO"; do
        if [ ! -x "$p" ]; then
                echo "demo: $p is not built; run 'make' (or 'make demo') first" >&2
                exit 1
        fi
done

ipc_ns() { readlink /proc/self/ns/ipc 2>/dev/null; }

# Re-run ourselves in a private IPC namespace, so that the demo can prove
# that ipcd leaves nothing behind, and cannot touch anything else.
# IPCD_DEMO_OUTER_NS names the namespace we left.
if [ -z "${IPCD_DEMO_OUTER_NS:-}" ] || [ "$IPCD_DEMO_OUTER_NS" = "$(ipc_ns)" ]; then
        IPCD_DEMO_OUTER_NS=$(ipc_ns)
        export IPCD_DEMO_OUTER_NS
        if command -v unshare >/dev/null 2>&1; then
                if unshare --ipc true 2>/dev/null; then
                        exec unshare --ipc -- sh "$0" "$builddir"
                elif unshare --user --map-root-user --ipc true 2>/dev/null; then
                        exec unshare --user --map-root-user --ipc -- sh "$0" "$builddir"
                fi
        fi
        IPCD_DEMO_OUTER_NS=none
fi
private_ns=yes
[ "$IPCD_DEMO_OUTER_NS" = none ] && private_ns=no

# ------------------------------------------------------------------
# Helpers.

failed=0
ipcd_pid=
alice_pid=
bob_pid=
hello_pid=
sub_pid=
work=

step() {
        echo
        echo "== $*"
}
say() { echo "   $*"; }
# Show a command, then run it with its output indented.
run() {
        show=${1##*/}
        shift_first=yes
        for a in "$@"; do
                if [ $shift_first = yes ]; then
                        shift_first=no
                        continue
                fi
                case $a in
                "" | *[!A-Za-z0-9_./:=-]*) show="$show '$a'" ;;
                *) show="$show $a" ;;
                esac
        done
        echo "   \$ $show"
        "$@" >"$work/out" 2>&1
        st=$?
        sed 's/^/   /' "$work/out"
        return $st
}
bad() {
        echo "   !! $*"
        failed=1
}

# Wait up to $2 tenths of a second for file $1 to contain $3 (grep -F).
wait_for_line() {
        i=0
        while [ $i -lt "$2" ]; do
                grep -qF -- "$3" "$1" 2>/dev/null && return 0
                sleep 0.1
                i=$((i + 1))
        done
        return 1
}

# Lines in /proc/sysvipc/{msg,sem,shm}, headers excluded.
count_ipc_objects() {
        n=0
        for k in msg sem shm; do
                c=$(($(wc -l </proc/sysvipc/$k) - 1))
                n=$((n + c))
        done
        echo $n
}

# shellcheck disable=SC2317
stop_pid() { # pid signal
        [ -n "$1" ] || return 0
        kill -"$2" "$1" 2>/dev/null
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
        for p in $alice_pid $bob_pid $hello_pid $sub_pid; do
                stop_pid "$p" TERM
        done
        if [ -n "$ipcd_pid" ] && kill -0 "$ipcd_pid" 2>/dev/null; then
                kill -TERM "$ipcd_pid" 2>/dev/null
                sleep 0.5
                kill -KILL "$ipcd_pid" 2>/dev/null
        fi
        wait 2>/dev/null
        [ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

work=$(mktemp -d "${TMPDIR:-/tmp}/ipcd-demo.XXXXXX") || exit 1
rundir=$work/run
: >"$work/ipcd.conf" # empty: built-in defaults, never an installed config
export IPCD_RUNTIME_DIR="$rundir"
objects_before=$(count_ipc_objects)

echo "ipcd demo: a broker, two listeners, a few messages, a clean stop."
say "programs:          $builddir/src/{ipcd,ipcdctl}, examples/hello"
say "runtime directory: $rundir"
if [ $private_ns = yes ]; then
        say "IPC namespace:     $(ipc_ns), private to this demo (unshare --ipc)"
else
        say "IPC namespace:     the machine's own (unshare --ipc is not permitted here)"
fi

# ------------------------------------------------------------------
step "1. Start ipcd"
echo "   \$ ipcd --runtime-dir $rundir --config $work/ipcd.conf &"
"$IPCD" --runtime-dir "$rundir" --config "$work/ipcd.conf" 2>"$work/ipcd.log" &
ipcd_pid=$!
i=0
until [ -p "$rundir/control" ] && "$IPCDCTL" status >/dev/null 2>&1; do
        if ! kill -0 "$ipcd_pid" 2>/dev/null; then
                say "ipcd exited during start-up; its log:"
                sed 's/^/   | /' "$work/ipcd.log"
                ipcd_pid=
                exit 1
        fi
        i=$((i + 1))
        if [ $i -ge 200 ]; then
                say "ipcd did not answer within 20 s; its log:"
                sed 's/^/   | /' "$work/ipcd.log"
                exit 1
        fi
        sleep 0.1
done
say "ipcd is up (pid $ipcd_pid) and answers on $rundir/control"

# ------------------------------------------------------------------
step "2. alice and bob register and listen"
echo "   \$ ipcdctl listen alice &"
"$IPCDCTL" listen alice >"$work/alice.out" 2>&1 &
alice_pid=$!
echo "   \$ ipcdctl listen bob &"
"$IPCDCTL" listen bob >"$work/bob.out" 2>&1 &
bob_pid=$!
wait_for_line "$work/alice.out" 100 "listening as alice" || bad "alice did not register"
wait_for_line "$work/bob.out" 100 "listening as bob" || bad "bob did not register"
say "alice: $(head -n 1 "$work/alice.out")"
say "bob:   $(head -n 1 "$work/bob.out")"

# ------------------------------------------------------------------
step "3. Send to each (ipcdctl send waits until ipcd has delivered)"
run "$IPCDCTL" send alice 1 "hello alice" || bad "send to alice failed"
run "$IPCDCTL" send bob 2 "hi bob, how are you?" || bad "send to bob failed"
run "$IPCDCTL" send alice 3 "one more for alice" || bad "send to alice failed"
say "Nobody is called carol, so this one fails (exit status 1):"
if run "$IPCDCTL" send carol 1 "anyone there?"; then
        bad "send to a missing client succeeded"
fi

# ------------------------------------------------------------------
step "4. Two C programs talk both ways (examples/hello.c, the README's example)"
echo "   \$ hello dave erin & hello erin dave"
"$HELLO" dave erin >"$work/dave.out" 2>&1 &
hello_pid=$!
"$HELLO" erin dave >"$work/erin.out" 2>&1 || bad "hello erin dave failed"
wait "$hello_pid" || bad "hello dave erin failed"
hello_pid=
sed 's/^/   /' "$work/dave.out" "$work/erin.out"
grep -q "from dave" "$work/erin.out" || bad "erin did not hear from dave"
grep -q "from erin" "$work/dave.out" || bad "dave did not hear from erin"

# ------------------------------------------------------------------
step "5. Publish/subscribe with history for a late joiner (examples/pubsub.c)"
say "The publisher keeps the topic's last 8 messages; nobody listens yet:"
run "$PUBSUB" pub home/kitchen/temp 21.5 21.7 || bad "publish failed"
say "A subscriber to everything below home/kitchen joins late: it gets the"
say "history first, oldest first, then what is published after it:"
echo "   \$ pubsub sub 'home/kitchen/*' 3 &"
"$PUBSUB" sub 'home/kitchen/*' 3 >"$work/sub.out" 2>&1 &
sub_pid=$!
wait_for_line "$work/sub.out" 100 "21.7" || bad "the late joiner did not get the history"
run "$PUBSUB" pub home/kitchen/temp 22.0 || bad "publish failed"
wait "$sub_pid" || bad "the subscriber failed"
sub_pid=
sed 's/^/   sub| /' "$work/sub.out"
grep -q "22.0" "$work/sub.out" || bad "the subscriber missed the live message"

# ------------------------------------------------------------------
step "6. What the listeners printed"
wait_for_line "$work/alice.out" 50 "one more for alice" || bad "alice missed a message"
wait_for_line "$work/bob.out" 50 "how are you" || bad "bob missed a message"
sed 's/^/   alice| /' "$work/alice.out"
sed 's/^/   bob  | /' "$work/bob.out"

# ------------------------------------------------------------------
step "7. ipcdctl status (alice and bob are still connected; the topic has its history)"
run "$IPCDCTL" status || bad "ipcdctl status failed"
echo
run "$IPCDCTL" status --json || bad "ipcdctl status --json failed"
grep -q "\"pid\":$ipcd_pid" "$work/out" || bad "the JSON does not name ipcd's pid"

# ------------------------------------------------------------------
step "8. Stop"
say "Ctrl-C (SIGINT) ends a listener cleanly:"
for who in alice bob; do
        eval "p=\$${who}_pid"
        kill -INT "$p"
        if wait "$p"; then
                say "ipcdctl listen $who: exit status 0"
        else
                bad "ipcdctl listen $who: exit status $?"
        fi
        eval "${who}_pid="
done
echo "   \$ kill -TERM $ipcd_pid"
kill -TERM "$ipcd_pid"
if wait "$ipcd_pid"; then
        say "ipcd: exit status 0"
else
        bad "ipcd: exit status $?"
fi
ipcd_pid=
say "ipcd's log:"
sed 's/^/   | /' "$work/ipcd.log"

# ------------------------------------------------------------------
step "9. Nothing left behind"
run ipcs -q -s -m
objects_after=$(count_ipc_objects)
if [ $private_ns = yes ]; then
        if [ "$objects_after" -eq 0 ]; then
                say "OK: no message queue, semaphore set or shared memory segment is left in this namespace."
        else
                bad "$objects_after System V object(s) left in the demo's namespace"
        fi
elif [ "$objects_after" -le "$objects_before" ]; then
        say "OK: no more System V objects than before the demo ($objects_before)."
else
        bad "$((objects_after - objects_before)) System V object(s) more than before the demo"
fi
left=$(find "$rundir" -type p 2>/dev/null)
if [ -z "$left" ]; then
        say "OK: no FIFO left in the runtime directory."
else
        bad "FIFOs left: $left"
fi

echo
if [ $failed = 0 ]; then
        echo "demo: done, every step did what it shows."
else
        echo "demo: FAILED (see the lines marked !!)"
fi
exit $failed
