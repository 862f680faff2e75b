#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-bridge: ipcd-bridge between two "hosts" (two ipcd in two IPC
# namespaces, with their own runtime dirs) through a 3-node NATS cluster on
# loopback; bridge A on node 1 (then 2, 3), bridge B on node 2 (then 3, 1).
#   - A -> B and B -> A: type, payload, order, origin (IPCD_MSG_REMOTE)
#   - a client without privilege cannot claim IPCD_REMOTE (-EACCES)
#   - both bridges export and import the same patterns: no echo
#   - a hostile header from a raw NATS client: dropped and counted
#   - kill -9 of A's NATS node while A publishes 10000: A reconnects to
#     another node; the loss (core NATS) is printed, not asserted
#   - JetStream (the cluster runs it, stream IPCDJS with 3 replicas, created
#     by bridge A; bridge B imports through the durable "bridge-b"): kill -9
#     of the node A's JetStream connection is on while A publishes 10000:
#     B gets all of them exactly once (out of order counted: a leader change
#     may store a resent message after later ones); a restart of bridge B
#     (TERM, then kill -9): nothing lost (after kill -9 at least once)
#   - imports ipcd refuses (policy on B) count as import_refused, not
#     imported; a hostile header in the stream is refused and acked
#   - restart of B's ipcd: bridge B reconnects (name, subscriptions) and
#     traffic resumes both ways; re-exec, then restart of A's ipcd: the same
# Host B's namespace is held by a sleeper, so B's ipcd can be restarted in
# it; every process the test starts is killed at exit, and it checks that
# nothing (IPC objects in either namespace, FIFOs) is left.  Waits have
# hang guards (IPCD_TEST_WAIT); nothing asserts timing.
. "$(dirname "$0")/harness.sh"
command -v nats-server >/dev/null 2>&1 || skip "nats-server not installed"
BRIDGE=$top_builddir/src/bridge/ipcd-bridge
[ -x "$BRIDGE" ] || skip "ipcd-bridge not built (configure --with-nats)"
ipcd_test_setup "$@"
P=$top_builddir/tests/test-bridge
T=$IPCD_TEST_TMP
PIDS=""
cleanup_more() {
        for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
        for p in $PIDS; do wait "$p" 2>/dev/null; done
}
trap 'rc=$?; cleanup_more; (exit $rc); _ipcd_test_cleanup' EXIT
fail() {
        echo "$T_NAME: FAIL: $*" >&2
        status_a 2>&1 | sed 's/^/A: /' >&2
        status_b 2>&1 | sed 's/^/B: /' >&2
        for f in "$T"/bridge-*.log "$T"/ipcdb.log "$T"/ipcd.log; do
                [ -s "$f" ] && { echo "---- $f ----"; tail -20 "$f"; } >&2
        done
        exit 1
}

free_ports() { python3 -c 'import socket
ss=[socket.socket() for _ in range(6)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))'; }
read -r C1 C2 C3 R1 R2 R3 <<<"$(free_ports)"
CP=($C1 $C2 $C3)
RP=($R1 $R2 $R3)
routes="nats://127.0.0.1:$R1,nats://127.0.0.1:$R2,nats://127.0.0.1:$R3"
NATS_PID=()
start_node() { # index 0..2
        local i=$1
        nats-server -a 127.0.0.1 -p "${CP[$i]}" --cluster "nats://127.0.0.1:${RP[$i]}" \
                --cluster_name tb --routes "$routes" -n "n$i" -js -sd "$T/js$i" \
                >>"$T/nats$i.log" 2>&1 &
        NATS_PID[$i]=$!
        PIDS="$PIDS $!"
}
for i in 0 1 2; do start_node $i; done
url() { echo "nats://127.0.0.1:${CP[$1]}"; }
# wait for the cluster to form (hang guard; the bridges would wait anyway)
for i in $(seq 200); do
        grep -q 'route connection' "$T/nats0.log" 2>/dev/null && break
        sleep 0.05
done

# Host A: the harness's namespace.  Host B: another one, held by a sleeper
# (so that it outlives B's ipcd, which the test restarts) and entered with
# nsenter, which execs: every $! below is the process itself, so the
# cleanup kills what the test started and nothing is left running.
ipcd_start
unshare --ipc -- sleep 3600 &
NSB=$!
PIDS="$PIDS $NSB"
for i in $(seq 200); do
        [ "$(readlink /proc/$NSB/ns/ipc 2>/dev/null)" != "$(readlink /proc/self/ns/ipc)" ] && break
        sleep 0.05
done
INB=(nsenter --ipc="/proc/$NSB/ns/ipc" --)
RUNB=$T/runb
mkdir -p "$RUNB"
# what ipcd B refuses to the bridge: counted as refused, not imported
echo 'policy = ( { action = "publish"; topic = "robot/denied"; decision = "deny"; } );' >"$T/ipcdb.conf"
start_ipcdb() {
        "${INB[@]}" "$IPCD" --runtime-dir "$RUNB" --config "$T/ipcdb.conf" 2>>"$T/ipcdb.log" &
        IPCDB=$!
        PIDS="$PIDS $!"
        for i in $(seq $((IPCD_TEST_WAIT * 20))); do
                kill -0 "$IPCDB" 2>/dev/null || fail "ipcd B exited at start-up"
                [ -p "$RUNB/control" ] && "${INB[@]}" env IPCD_RUNTIME_DIR="$RUNB" \
                        "$top_builddir/tests/test-probe" status >/dev/null 2>&1 && return 0
                sleep 0.05
        done
        fail "ipcd B did not answer STATUS"
}
start_ipcdb
inb() { "${INB[@]}" "$@"; }

conf() { # file name host extra servers...
        local f=$1 name=$2 host=$3 extra=$4
        shift 4
        local s=""
        for u in "$@"; do s="$s${s:+, }\"$u\""; done
        cat >"$f" <<EOC
bridge = {
        servers = [ $s ];
        name = "$name";
        host = "$host";
        subject_prefix = "site";
        export = ( { topic = "robot/*"; }, { topic = "bulk/*"; }$XEXP );
        import = ( { subject = "site.robot.>"; ack = true; }, { subject = "site.bulk.>"; }$XIMP );
        $extra
};
EOC
}
XEXP=', { topic = "js/*"; stream = "IPCDJS"; create = true; replicas = 3; }' XIMP=''
conf "$T/a.conf" bridge-a host-a 'serve = ( { name = "arm-ctl"; } );' "$(url 0)" "$(url 1)" "$(url 2)"
XEXP='' XIMP=', { subject = "site.js.>"; stream = "IPCDJS"; durable = "bridge-b"; }'
conf "$T/b.conf" bridge-b host-b 'max_payload = 1020000;
        remote = ( { name = "arm-ctl"; }, { name = "nobody"; } );' "$(url 1)" "$(url 2)" "$(url 0)"

"$BRIDGE" --config "$T/a.conf" --check-config || fail "check-config of a good file"
printf 'bridge = { servers = [ "nats://x:1" ];\n  bogus = 1; };\n' >"$T/bad.conf"
out=$("$BRIDGE" --config "$T/bad.conf" --check-config 2>&1)
st=$?
[ $st = 78 ] || fail "check-config of a bad file: status $st (expected 78)"
case $out in *bad.conf:2:*bogus*) ;; *) fail "check-config message: $out" ;; esac
printf 'bridge = { servers = [ "nats://x:1" ];\n  remote = ( { name = "ok" },\n { name = "x"; subject = "a.*"; } ); };\n' >"$T/bad.conf"
out=$("$BRIDGE" --config "$T/bad.conf" --check-config 2>&1)
st=$?
[ $st = 78 ] || fail "check-config of a bad remote: status $st (expected 78)"
case $out in *bad.conf:3:*subject*) ;; *) fail "check-config message: $out" ;; esac
# the JetStream keys
bad_js() { # expected-line expected-word config-lines
        printf 'bridge = { servers = [ "nats://x:1" ];\n%s\n};\n' "$3" >"$T/bad.conf"
        out=$("$BRIDGE" --config "$T/bad.conf" --check-config 2>&1)
        st=$?
        [ $st = 78 ] || fail "check-config of \"$3\": status $st (expected 78)"
        case $out in *bad.conf:$1:*$2*) ;; *) fail "check-config message for \"$3\": $out" ;; esac
}
bad_js 2 durable 'import = ( { subject = "a.>"; durable = "d"; } );'
bad_js 2 stream 'import = ( { subject = "a.>"; stream = "S"; } );'
bad_js 2 'no stream name' 'export = ( { topic = "a/*"; stream = "a.b"; } );'
bad_js 2 replicas 'export = ( { topic = "a/*"; stream = "S"; create = true; replicas = 9; } );'
bad_js 2 'without create' 'export = ( { topic = "a/*"; stream = "S"; replicas = 3; } );'
bad_js 2 'without stream' 'export = ( { topic = "a/*"; create = true; } );'
bad_js 2 js_inflight 'js_inflight = 0x100000;'
"$BRIDGE" --config "$T/b.conf" --check-config || fail "check-config of B's file"
# ipcd itself accepts the bridge group in its own file
"$IPCD" --config "$T/a.conf" --check-config || fail "ipcd rejects the bridge group"

"$BRIDGE" --config "$T/a.conf" --runtime-dir "$IPCD_RUNTIME_DIR" 2>>"$T/bridge-a.log" &
BA=$!
PIDS="$PIDS $BA"
"${INB[@]}" "$BRIDGE" --config "$T/b.conf" --runtime-dir "$RUNB" 2>>"$T/bridge-b.log" &
BB=$!
PIDS="$PIDS $BB"
status_a() { timeout 20 "$BRIDGE" --config "$T/a.conf" --runtime-dir "$IPCD_RUNTIME_DIR" --status; }
status_b() { timeout 20 "${INB[@]}" "$BRIDGE" --config "$T/b.conf" --runtime-dir "$RUNB" --status; }
counter() { sed -n "s/^$2 //p" <<<"$1"; }
# hang guards: WAIT tenths of a second at most
WAIT=$((IPCD_TEST_WAIT * 10))
wait_connected() { # status_a|status_b
        for i in $(seq $WAIT); do
                $1 2>/dev/null | grep -q '^nats connected' && return 0
                sleep 0.1
        done
        fail "$1: not connected: $($1 2>&1)"
}
wait_ready() { for i in $(seq $WAIT); do [ -e "$1" ] && return 0; sleep 0.1; done; fail "$1"; }
# wait for a process we started, with a hang guard; its exit status
await() {
        for i in $(seq $WAIT); do
                kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
                sleep 0.1
        done
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        fail "process $1 ($2) still running after ${IPCD_TEST_WAIT}s"
}
IDLE=$((IPCD_TEST_WAIT * 1000))
# A probe through the bridges: NATS interest (and a bridge's subscriptions
# after a reconnection) travel asynchronously; publish one message at a time
# until a subscriber on the other side has one.  Not a timing assertion.
probe() { # ab|ba
        local from=() to=() fromdir=$IPCD_RUNTIME_DIR todir=$RUNB host=host-a s
        if [ "$1" = ba ]; then from=("${INB[@]}"); fromdir=$RUNB; todir=$IPCD_RUNTIME_DIR; host=host-b
        else to=("${INB[@]}"); fi
        rm -f "$T/rp"
        "${to[@]}" "$P" sub "$todir" robot/probe 1 $host exact "$T/rp" $IDLE >"$T/sp" &
        s=$!
        PIDS="$PIDS $s"
        wait_ready "$T/rp"
        for i in $(seq $WAIT); do
                kill -0 $s 2>/dev/null || break
                "${from[@]}" "$P" pub "$fromdir" robot/probe 1 || fail "probe publish $1"
                sleep 0.1
        done
        await $s "probe $1" || fail "probe $1: $(cat "$T/sp")"
}
# Every message exported by one bridge imported by the other (nothing in
# flight): the counters' deltas below are then exact.  XA, XB: messages of
# plain NATS publishers A, B imported.
XA=0 XB=0
settle() {
        local sa sb
        for i in $(seq $WAIT); do
                sa=$(status_a); sb=$(status_b)
                [ $(($(counter "$sa" exported) + XB - LAB)) = "$(counter "$sb" imported)" ] &&
                        [ $(($(counter "$sb" exported) + XA - LBA)) = "$(counter "$sa" imported)" ] && return 0
                sleep 0.1
        done
        fail "the bridges' counters do not settle"
}
wait_connected status_a
wait_connected status_b
wait_js() { # status_a|status_b: the JetStream connection is up
        for i in $(seq $WAIT); do
                $1 2>/dev/null | grep -q '^jetstream connected' && return 0
                sleep 0.1
        done
        fail "$1: JetStream not connected: $($1 2>&1)"
}
wait_js status_a
wait_js status_b
probe ab
probe ba
# Probes published before a bridge's NATS interest reached the other
# server are lost by core NATS (at most once): count them once the
# differences stop moving, and take them out of settle's sums.
diffs() {
        local sa sb
        sa=$(status_a); sb=$(status_b)
        echo "$(($(counter "$sa" exported) - $(counter "$sb" imported))) $(($(counter "$sb" exported) - $(counter "$sa" imported)))"
}
prev="" cur=""
for i in $(seq $WAIT); do
        cur=$(diffs)
        [ "$cur" = "$prev" ] && break
        prev=$cur
        sleep 0.5
done
read -r LAB LBA <<<"$cur"
log "probes lost before the other side's interest arrived: $LAB A -> B, $LBA B -> A"

# 1. A -> B, exact: type, payload, order, origin host-a
rm -f "$T/r1"
"${INB[@]}" "$P" sub "$RUNB" robot/arm 500 host-a exact "$T/r1" $IDLE >"$T/s1" &
S1=$!
PIDS="$PIDS $S1"
wait_ready "$T/r1"
"$P" pub "$IPCD_RUNTIME_DIR" robot/arm 500 || fail "publish on A"
await $S1 "A -> B" || fail "A -> B: $(cat "$T/s1")"
log "A -> B: $(cat "$T/s1")"

# 2. B -> A, 4 KiB payloads
rm -f "$T/r2"
"$P" sub "$IPCD_RUNTIME_DIR" bulk/cam 20 host-b exact "$T/r2" $IDLE >"$T/s2" &
S2=$!
PIDS="$PIDS $S2"
wait_ready "$T/r2"
"${INB[@]}" "$P" pub "$RUNB" bulk/cam 20 4000 || fail "publish on B"
await $S2 "B -> A" || fail "B -> A: $(cat "$T/s2")"
log "B -> A (4 KiB): $(cat "$T/s2")"

# 2b. bulk (ring) payloads both ways: 64 KiB and close to NATS's max_payload
for size in 65536 1000000; do
        rm -f "$T/r2"
        "$P" sub "$IPCD_RUNTIME_DIR" bulk/big 5 host-b exact "$T/r2" $IDLE >"$T/s2" &
        S2=$!
        PIDS="$PIDS $S2"
        wait_ready "$T/r2"
        "${INB[@]}" "$P" pub "$RUNB" bulk/big 5 $size || fail "publish $size on B"
        await $S2 "B -> A bulk" || fail "B -> A, $size bytes: $(cat "$T/s2")"
        rm -f "$T/r2"
        "${INB[@]}" "$P" sub "$RUNB" bulk/big 5 host-a exact "$T/r2" $IDLE >"$T/s2" &
        S2=$!
        PIDS="$PIDS $S2"
        wait_ready "$T/r2"
        "$P" pub "$IPCD_RUNTIME_DIR" bulk/big 5 $size || fail "publish $size on A"
        await $S2 "A -> B bulk" || fail "A -> B, $size bytes: $(cat "$T/s2")"
        log "bulk $size bytes: B -> A and A -> B: $(cat "$T/s2")"
done
# over NATS's max_payload (1 MiB) with the headers: refused by A, counted
settle
ta=$(counter "$(status_a)" refused_too_large)
"$P" pub "$IPCD_RUNTIME_DIR" bulk/big 1 1048576 || fail "publish 1 MiB on A"
for i in $(seq $WAIT); do
        [ "$(counter "$(status_a)" refused_too_large)" -gt "$ta" ] && break
        sleep 0.1
done
[ "$(counter "$(status_a)" refused_too_large)" = $((ta + 1)) ] || fail "1 MiB export not refused: $(status_a)"
# a plain NATS publish over B's local limit (max_payload = 1020000): B
# refuses it, counted; A (no limit of its own) delivers it
tb=$(counter "$(status_b)" refused_too_large)
ia=$(counter "$(status_a)" imported)
exec 5<>"/dev/tcp/127.0.0.1/${CP[2]}"
{ printf 'CONNECT {"verbose":false}\r\nPUB site.bulk.raw 1040000\r\n'; head -c 1040000 /dev/zero
  printf '\r\nPING\r\n'; } >&5
for i in $(seq $WAIT); do
        [ "$(counter "$(status_b)" refused_too_large)" -gt "$tb" ] &&
                [ "$(counter "$(status_a)" imported)" -gt "$ia" ] && break
        sleep 0.1
done
exec 5>&-
[ "$(counter "$(status_b)" refused_too_large)" = $((tb + 1)) ] || fail "B did not refuse 1040000 bytes: $(status_b)"
[ "$(counter "$(status_a)" imported)" = $((ia + 1)) ] || fail "A did not import 1040000 bytes: $(status_a)"
XA=$((XA + 1))
[ "$(counter "$(status_a)" import_failed)" = 0 ] || fail "A: import_failed"
log "over the limits: 1 MiB export refused by A; 1040000-byte import refused by B, delivered by A"

# 3. only a privileged client may claim a remote origin, or give a
#    bridge's verdict for a call (ipcd_reply_error)
setpriv --reuid=65534 --regid=65534 --clear-groups "$P" raw "$IPCD_RUNTIME_DIR" robot/x ||
        fail "an unprivileged client published with IPCD_REMOTE"
mkdir -m 1777 "$T/nobody"
setpriv --reuid=65534 --regid=65534 --clear-groups "$P" callee "$IPCD_RUNTIME_DIR" unpriv \
        "$T/nobody/ready" >/dev/null &
CU=$!
PIDS="$PIDS $CU"
wait_ready "$T/nobody/ready"
timeout 60 "$P" latecall "$IPCD_RUNTIME_DIR" unpriv || fail "an unprivileged ipcd_reply_error was not refused"
kill $CU; wait $CU 2>/dev/null

# 4. no echo: both bridges export robot/* and import site.robot.> ; what
#    B imported from A is not exported again, A imports nothing of its own.
settle
sa=$(status_a); sb=$(status_b)
ea=$(counter "$sa" exported); ib=$(counter "$sb" imported); ia=$(counter "$sa" imported)
eb=$(counter "$sb" exported); rb=$(counter "$sb" skipped_remote)
"$P" pub "$IPCD_RUNTIME_DIR" robot/echo 100 || fail "publish echo"
for i in $(seq $WAIT); do
        sb=$(status_b)
        [ "$(counter "$sb" skipped_remote)" -ge $((rb + 100)) ] && break
        sleep 0.1
done
settle
sa=$(status_a); sb=$(status_b)
[ "$(counter "$sa" exported)" = $((ea + 100)) ] || fail "A exported $(counter "$sa" exported) - $ea"
[ "$(counter "$sb" imported)" = $((ib + 100)) ] || fail "B imported $(counter "$sb" imported) - $ib"
[ "$(counter "$sb" exported)" = "$eb" ] || fail "B exported again: $(counter "$sb" exported) - $eb"
[ "$(counter "$sb" skipped_remote)" = $((rb + 100)) ] || fail "B did not skip its imports: $sb"
[ "$(counter "$sa" imported)" = "$ia" ] || fail "echo: A imported $(counter "$sa" imported)"

# 5. hostile header, raw NATS client on node 3: dropped and counted by B
bh0=$(counter "$(status_b)" dropped_bad_header)
exec 5<>"/dev/tcp/127.0.0.1/${CP[2]}"
hdr=$'NATS/1.0\r\nIpcd-Type: 99999999999999999999\r\nIpcd-Host: \x01evil\r\n\r\n'
printf 'CONNECT {"headers":true,"verbose":false}\r\nHPUB site.robot.evil %d %d\r\n%sxyz\r\nPING\r\n' \
        "${#hdr}" $((${#hdr} + 3)) "$hdr" >&5
for i in $(seq $WAIT); do
        bh=$(counter "$(status_b)" dropped_bad_header)
        [ "$bh" -gt "$bh0" ] && break
        sleep 0.1
done
exec 5>&-
[ "$bh" -gt "$bh0" ] || fail "hostile header not counted: $(status_b)"
log "hostile header: dropped_bad_header $bh on B (and A: $(counter "$(status_a)" dropped_bad_header))"

# 5a. what ipcd B refuses (its policy denies robot/denied) is counted as
#     refused, not imported (the bridge publishes with IPCD_ACK)
sb=$(status_b)
rb0=$(counter "$sb" import_refused); ib0=$(counter "$sb" imported)
ia=$(counter "$(status_a)" imported)
exec 5<>"/dev/tcp/127.0.0.1/${CP[2]}"
printf 'CONNECT {"verbose":false}\r\nPUB site.robot.denied 2\r\nm0\r\nPING\r\n' >&5
for i in $(seq $WAIT); do
        [ "$(counter "$(status_b)" import_refused)" -gt "$rb0" ] &&
                [ "$(counter "$(status_a)" imported)" -gt "$ia" ] && break
        sleep 0.1
done
exec 5>&-
XA=$((XA + 1))
sb=$(status_b)
[ "$(counter "$sb" import_refused)" = $((rb0 + 1)) ] || fail "B: a denied import not refused: $sb"
[ "$(counter "$sb" imported)" = "$ib0" ] || fail "B: a denied import counted as imported: $sb"
log "a publish ipcd B denies: import_refused $(counter "$sb" import_refused), imported unchanged"

# 5c. a hostile header in the stream: B refuses it, counted on the durable
#     import, and acks it (no redelivery)
jr() { sed -n 's/^import site\.js\.> .* refused \([0-9]*\)$/\1/p' <<<"$1"; }
jr0=$(jr "$(status_b)")
[ -n "$jr0" ] || fail "B's status has no durable import line: $(status_b)"
exec 5<>"/dev/tcp/127.0.0.1/${CP[2]}"
printf 'CONNECT {"headers":true,"verbose":false}\r\nHPUB site.js.evil %d %d\r\n%sxyz\r\nPING\r\n' \
        "${#hdr}" $((${#hdr} + 3)) "$hdr" >&5
for i in $(seq $WAIT); do
        [ "$(jr "$(status_b)")" -gt "$jr0" ] && break
        sleep 0.1
done
exec 5>&-
[ "$(jr "$(status_b)")" = $((jr0 + 1)) ] || fail "B: hostile header in the stream: $(status_b)"

# 5b. calls across hosts: B's bridge holds "arm-ctl" (remote) and forwards
#     to A, whose bridge serves the local "arm-ctl": replies, and timeout,
#     dead callee and no callee give what a local call gives; an ipcd_send
#     to the name is forwarded too; nobody serves "nobody": -ENOENT.
rm -f "$T/rc"
"$P" callee "$IPCD_RUNTIME_DIR" arm-ctl "$T/rc" >"$T/callee.out" &
CE=$!
PIDS="$PIDS $CE"
wait_ready "$T/rc"
"${INB[@]}" timeout 120 "$P" caller "$RUNB" arm-ctl 200 >"$T/caller.out" || fail "calls B -> A: $(cat "$T/caller.out")"
await $CE "callee" || fail "callee exit status $?"
grep -qx 'send 40 hello' "$T/callee.out" || fail "forwarded send not received: $(cat "$T/callee.out")"
"${INB[@]}" timeout 60 "$P" nocall "$RUNB" nobody || fail "a call to an unserved subject"
sa=$(status_a); sb=$(status_b)
[ "$(counter "$sa" calls_served)" = 200 ] || fail "A served $(counter "$sa" calls_served) calls"
[ "$(counter "$sb" calls_forwarded)" = 200 ] || fail "B forwarded $(counter "$sb" calls_forwarded) calls"
log "calls B -> A: $(cat "$T/caller.out"); A served $(counter "$sa" calls_served), failed $(counter "$sa" calls_failed); B forwarded $(counter "$sb" calls_forwarded), failed $(counter "$sb" calls_failed), sends $(counter "$sb" sends_forwarded)"

# 6. kill -9 A's node while A publishes 10000 (core NATS: loss reported;
#    the subscriber stops after 2 s without a message)
rm -f "$T/r6"
"${INB[@]}" "$P" sub "$RUNB" robot/fail 10000 host-a lossy "$T/r6" 2000 >"$T/s6" &
S6=$!
PIDS="$PIDS $S6"
wait_ready "$T/r6"
"$P" pub "$IPCD_RUNTIME_DIR" robot/fail 10000 &
PUB=$!
PIDS="$PIDS $PUB"
sleep 0.05
t0=$(date +%s%N)
kill -KILL "${NATS_PID[0]}"
wait "${NATS_PID[0]}" 2>/dev/null
await $PUB "publish during failover" || fail "publish during failover"
wait_connected status_a
t1=$(date +%s%N)
await $S6 "failover subscriber" || fail "failover subscriber: $(cat "$T/s6")"
log "[${SECONDS}s] failover: A now $(status_a | sed -n 's/^nats //p'); $(cat "$T/s6"); reconnected within $(( (t1 - t0) / 1000000 )) ms; overflow $(counter "$(status_a)" dropped_bridge_overflow)"

# 6b. the same through JetStream: node 0 comes back (its store kept, it
#     catches up), then kill -9 of the node A's JetStream connection is on
#     while A publishes 10000 on js/fail: B gets every one exactly once, in
#     order (the subscriber checks); A's retries and the stream's
#     duplicates are printed.
nready() { grep -c 'Server is ready' "$T/nats$1.log"; }
start_node 0
for i in $(seq $WAIT); do [ "$(nready 0)" -ge 2 ] && break; sleep 0.1; done
jsprobe() { # a message A -> B through the stream (not a timing assertion)
        rm -f "$T/rjp"
        "${INB[@]}" "$P" sub "$RUNB" js/probe 1 host-a exact "$T/rjp" $IDLE >"$T/sjp" &
        local s=$!
        PIDS="$PIDS $s"
        wait_ready "$T/rjp"
        "$P" pub "$IPCD_RUNTIME_DIR" js/probe 1 || fail "JetStream probe publish"
        await $s "JetStream probe" || fail "JetStream probe: $(cat "$T/sjp")"
}
jsprobe
jsline() { sed -n 's/^export js\/\* //p' <<<"$1"; }
port=$(status_a | sed -n 's|^jetstream connected nats://127.0.0.1:\([0-9]*\).*|\1|p')
k=""
for i in 0 1 2; do [ "${CP[$i]}" = "$port" ] && k=$i; done
[ -n "$k" ] || fail "A's JetStream connection: $(status_a)"
before=$(jsline "$(status_a)")
rm -f "$T/r6j"
"${INB[@]}" "$P" sub "$RUNB" js/fail 10000 host-a once "$T/r6j" $IDLE >"$T/s6j" &
S6=$!
PIDS="$PIDS $S6"
wait_ready "$T/r6j"
"$P" pub "$IPCD_RUNTIME_DIR" js/fail 10000 &
PUB=$!
PIDS="$PIDS $PUB"
sleep 0.05
t0=$(date +%s%N)
kill -KILL "${NATS_PID[$k]}"
wait "${NATS_PID[$k]}" 2>/dev/null
wait_js status_a
t1=$(date +%s%N)
await $PUB "publish during JetStream failover" || fail "publish during JetStream failover"
await $S6 "JetStream failover subscriber" || fail "JetStream failover: $(cat "$T/s6j")"
t2=$(date +%s%N)
log "[${SECONDS}s] JetStream failover (node n$k killed): B $(cat "$T/s6j") (each exactly once); A's JetStream connection $(status_a | sed -n 's/^jetstream connected .*(last outage \([0-9]*\) ms)/reconnected after \1 ms/p') (its status answered $(( (t1 - t0) / 1000000 )) ms after the kill), all 10000 in B $(( (t2 - t0) / 1000000 )) ms after the kill; A before: $before; after: $(jsline "$(status_a)")"
start_node $k

# 7. restart B's ipcd: bridge B reconnects (its name, its subscriptions)
#    and traffic resumes both ways
kill -TERM "$IPCDB"
await "$IPCDB" "ipcd B stopping" || fail "ipcd B exit status $?"
start_ipcdb
wait_connected status_b
probe ab
probe ba
rm -f "$T/r7"
"${INB[@]}" "$P" sub "$RUNB" robot/after 50 host-a exact "$T/r7" $IDLE >"$T/s7" &
S7=$!
PIDS="$PIDS $S7"
wait_ready "$T/r7"
"$P" pub "$IPCD_RUNTIME_DIR" robot/after 50 || fail "publish after restart"
await $S7 "after restart" || fail "A -> B after B's ipcd restart: $(cat "$T/s7")"
rm -f "$T/r8"
"$P" sub "$IPCD_RUNTIME_DIR" robot/after 50 host-b exact "$T/r8" $IDLE >"$T/s8" &
S8=$!
PIDS="$PIDS $S8"
wait_ready "$T/r8"
"${INB[@]}" "$P" pub "$RUNB" robot/after 50 || fail "publish on B after restart"
await $S8 "after restart" || fail "B -> A after B's ipcd restart: $(cat "$T/s8")"
# the remote mapping's client ("arm-ctl" on B) is back too
rm -f "$T/rc"
"$P" callee "$IPCD_RUNTIME_DIR" arm-ctl "$T/rc" >"$T/callee.out" &
CE=$!
PIDS="$PIDS $CE"
wait_ready "$T/rc"
"${INB[@]}" timeout 120 "$P" caller "$RUNB" arm-ctl 10 >"$T/caller.out" ||
        fail "calls B -> A after B's ipcd restart: $(cat "$T/caller.out")"
await $CE "callee" || fail "callee exit status $?"
[ "$(counter "$(status_b)" ipcd_reconnects)" -ge 1 ] || fail "B's reconnection not counted"
log "after B's ipcd restart: A -> B $(cat "$T/s7"); B -> A $(cat "$T/s8")"

# 8. re-exec of A's ipcd keeps the bridge's session; then a restart of A's
#    ipcd: bridge A reconnects; traffic resumes after each.  ipcdctl
#    shows the bridge as a client.
"$IPCDCTL" --runtime-dir "$IPCD_RUNTIME_DIR" clients | grep -q bridge-a ||
        fail "ipcdctl clients does not show bridge-a"
timeout 60 "$IPCDCTL" --runtime-dir "$IPCD_RUNTIME_DIR" reexec >/dev/null || fail "ipcdctl reexec"
probe ab
probe ba
ipcd_stop TERM
ipcd_start
wait_connected status_a
probe ab
probe ba

# 9. bridge B stops (TERM) while A publishes 1000 on js/durable: started
#    again, it resumes through its durable consumer, nothing lost or
#    duplicated; then kill -9 of bridge B while A publishes 2000 on
#    js/crash: after its restart all 2000 come (at least once: what the
#    killed bridge had published but not acked comes again, printed)
start_bridge_b() {
        "${INB[@]}" "$BRIDGE" --config "$T/b.conf" --runtime-dir "$RUNB" 2>>"$T/bridge-b.log" &
        BB=$!
        PIDS="$PIDS $BB"
}
rm -f "$T/r9"
"${INB[@]}" "$P" sub "$RUNB" js/durable 1000 host-a exact "$T/r9" $IDLE >"$T/s9" &
S9=$!
PIDS="$PIDS $S9"
wait_ready "$T/r9"
kill -TERM "$BB"
await "$BB" "bridge B" || fail "bridge B exit status $?"
"$P" pub "$IPCD_RUNTIME_DIR" js/durable 1000 || fail "publish js/durable"
start_bridge_b
await $S9 "durable subscriber" || fail "bridge B restart (durable): $(cat "$T/s9")"
log "[${SECONDS}s] bridge B restarted (TERM): $(cat "$T/s9"); B: $(status_b | sed -n 's/^import site\.js\.> //p')"
rm -f "$T/r10"
"${INB[@]}" "$P" sub "$RUNB" js/crash 2000 host-a atleast "$T/r10" $IDLE >"$T/s10" &
S10=$!
PIDS="$PIDS $S10"
wait_ready "$T/r10"
wait_js status_b
"$P" pub "$IPCD_RUNTIME_DIR" js/crash 2000 &
PUB=$!
PIDS="$PIDS $PUB"
sleep 0.1
kill -KILL "$BB"
wait "$BB" 2>/dev/null
start_bridge_b
await $PUB "publish js/crash" || fail "publish js/crash"
await $S10 "crash subscriber" || fail "bridge B kill -9 (durable): $(cat "$T/s10")"
log "[${SECONDS}s] bridge B killed (-9) and restarted: $(cat "$T/s10"); B: $(status_b | sed -n 's/^import site\.js\.> //p')"

kill -TERM "$BA" "$BB"
await "$BA" "bridge A" || fail "bridge A exit status $?"
await "$BB" "bridge B" || fail "bridge B exit status $?"
kill -TERM "$IPCDB"
await "$IPCDB" "ipcd B" || fail "ipcd B exit status $?"
objs=$("${INB[@]}" sh -c 'sed 1d /proc/sysvipc/msg; sed 1d /proc/sysvipc/sem; sed 1d /proc/sysvipc/shm')
[ -z "$objs" ] || fail "IPC objects left in B's namespace: $objs"
[ -z "$(find "$RUNB" -type p)" ] || fail "FIFOs left in $RUNB"
grep -h 'Sanitizer\|runtime error' "$T"/bridge-*.log "$T"/ipcdb.log && fail "sanitizer report in a log"
ipcd_test_finish
