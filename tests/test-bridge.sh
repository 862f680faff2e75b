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
#   - restart of B's ipcd: bridge B reconnects and traffic resumes
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
trap 'cleanup_more; _ipcd_test_cleanup' EXIT
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
                --cluster_name tb --routes "$routes" -n "n$i" >>"$T/nats$i.log" 2>&1 &
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

# Host A: the harness's namespace.  Host B: another one, entered with nsenter.
ipcd_start
RUNB=$T/runb
mkdir -p "$RUNB"
: >"$T/ipcdb.conf"
start_ipcdb() {
        unshare --ipc -- "$IPCD" --runtime-dir "$RUNB" --config "$T/ipcdb.conf" 2>>"$T/ipcdb.log" &
        IPCDB=$!
        PIDS="$PIDS $!"
        for i in $(seq 400); do [ -p "$RUNB/control" ] && break; sleep 0.05; done
        sleep 0.2
}
start_ipcdb
inb() { nsenter --ipc="/proc/$IPCDB/ns/ipc" -- "$@"; }

conf() { # file name host servers...
        local f=$1 name=$2 host=$3
        shift 3
        local s=""
        for u in "$@"; do s="$s${s:+, }\"$u\""; done
        cat >"$f" <<EOC
bridge = {
        servers = [ $s ];
        name = "$name";
        host = "$host";
        subject_prefix = "site";
        export = ( { topic = "robot/*"; }, { topic = "bulk/*"; } );
        import = ( { subject = "site.robot.>"; }, { subject = "site.bulk.>"; } );
};
EOC
}
conf "$T/a.conf" bridge-a host-a "$(url 0)" "$(url 1)" "$(url 2)"
conf "$T/b.conf" bridge-b host-b "$(url 1)" "$(url 2)" "$(url 0)"

"$BRIDGE" --config "$T/a.conf" --check-config || fail "check-config of a good file"
printf 'bridge = { servers = [ "nats://x:1" ];\n  bogus = 1; };\n' >"$T/bad.conf"
out=$("$BRIDGE" --config "$T/bad.conf" --check-config 2>&1)
st=$?
[ $st = 78 ] || fail "check-config of a bad file: status $st (expected 78)"
case $out in *bad.conf:2:*bogus*) ;; *) fail "check-config message: $out" ;; esac
# ipcd itself accepts the bridge group in its own file
"$IPCD" --config "$T/a.conf" --check-config || fail "ipcd rejects the bridge group"

"$BRIDGE" --config "$T/a.conf" --runtime-dir "$IPCD_RUNTIME_DIR" 2>>"$T/bridge-a.log" &
BA=$!
PIDS="$PIDS $BA"
inb "$BRIDGE" --config "$T/b.conf" --runtime-dir "$RUNB" 2>>"$T/bridge-b.log" &
BB=$!
PIDS="$PIDS $BB"
wait_status() { # rundir name [nsenter...]
        for i in $(seq 400); do
                "${@:3}" "$BRIDGE" --config "$T/a.conf" --runtime-dir "$1" --status 2>/dev/null |
                        grep -q '^nats connected' && return 0
                sleep 0.05
        done
        fail "bridge at $1 never connected"
}
status_a() { "$BRIDGE" --config "$T/a.conf" --runtime-dir "$IPCD_RUNTIME_DIR" --status; }
status_b() { inb "$BRIDGE" --config "$T/b.conf" --runtime-dir "$RUNB" --status; }
for i in $(seq 400); do status_a 2>/dev/null | grep -q '^nats connected' && break; sleep 0.05; done
for i in $(seq 400); do status_b 2>/dev/null | grep -q '^nats connected' && break; sleep 0.05; done
status_a | grep -q '^nats connected' || fail "bridge A not connected: $(status_a 2>&1)"
status_b | grep -q '^nats connected' || fail "bridge B not connected: $(status_b 2>&1)"
# NATS interest travels across the cluster asynchronously: a probe round
sleep 1

counter() { sed -n "s/^$2 //p" <<<"$1"; }
wait_ready() { for i in $(seq 400); do [ -e "$1" ] && return 0; sleep 0.05; done; fail "$1"; }

# 1. A -> B, exact: type, payload, order, origin host-a
rm -f "$T/r1"
inb "$P" sub "$RUNB" robot/arm 500 host-a exact "$T/r1" 10000 >"$T/s1" &
S1=$!
wait_ready "$T/r1"
"$P" pub "$IPCD_RUNTIME_DIR" robot/arm 500 || fail "publish on A"
wait $S1 || fail "A -> B: $(cat "$T/s1")"
log "A -> B: $(cat "$T/s1")"

# 2. B -> A, 4 KiB payloads (bulk imports: see the README, known issue)
rm -f "$T/r2"
"$P" sub "$IPCD_RUNTIME_DIR" bulk/cam 20 host-b exact "$T/r2" 10000 >"$T/s2" &
S2=$!
wait_ready "$T/r2"
inb "$P" pub "$RUNB" bulk/cam 20 4000 || fail "publish on B"
wait $S2 || fail "B -> A: $(cat "$T/s2")"
log "B -> A (4 KiB): $(cat "$T/s2")"

# 3. only a privileged client may claim a remote origin
setpriv --reuid=65534 --regid=65534 --clear-groups "$P" raw "$IPCD_RUNTIME_DIR" robot/x ||
        fail "an unprivileged client published with IPCD_REMOTE"

# 4. no echo: both bridges export robot/* and import site.robot.> ; a
#    local subscriber on A sees nothing of A's own publish come back.
sa=$(status_a); sb=$(status_b)
ea=$(counter "$sa" exported); ib=$(counter "$sb" imported); ia=$(counter "$sa" imported)
"$P" pub "$IPCD_RUNTIME_DIR" robot/echo 100 || fail "publish echo"
for i in $(seq 400); do
        sb=$(status_b)
        [ "$(counter "$sb" imported)" -ge $((ib + 100)) ] && break
        sleep 0.05
done
sleep 0.5
sa=$(status_a); sb=$(status_b)
[ "$(counter "$sa" exported)" = $((ea + 100)) ] || fail "A exported $(counter "$sa" exported) - $ea"
[ "$(counter "$sb" imported)" = $((ib + 100)) ] || fail "B imported $(counter "$sb" imported) - $ib"
[ "$(counter "$sb" exported)" = "$(counter "$(status_b)" exported)" ] || fail "B exported again"
[ "$(counter "$sb" skipped_remote)" -ge 100 ] || fail "B did not skip its imports: $sb"
[ "$(counter "$sa" imported)" = "$ia" ] || fail "echo: A imported $(counter "$sa" imported)"

# 5. hostile header, raw NATS client on node 3: dropped and counted by B
exec 5<>"/dev/tcp/127.0.0.1/${CP[2]}"
hdr=$'NATS/1.0\r\nIpcd-Type: 99999999999999999999\r\nIpcd-Host: \x01evil\r\n\r\n'
printf 'CONNECT {"headers":true,"verbose":false}\r\nHPUB site.robot.evil %d %d\r\n%sxyz\r\nPING\r\n' \
        "${#hdr}" $((${#hdr} + 3)) "$hdr" >&5
sleep 1
exec 5>&-
bh=$(counter "$(status_b)" dropped_bad_header)
[ "$bh" -ge 1 ] || fail "hostile header not counted: $(status_b)"
log "hostile header: dropped_bad_header $bh on B (and A: $(counter "$(status_a)" dropped_bad_header))"

# 6. kill -9 A's node while A publishes 10000 (core NATS: loss reported)
rm -f "$T/r6"
inb "$P" sub "$RUNB" robot/fail 10000 host-a lossy "$T/r6" 5000 >"$T/s6" &
S6=$!
wait_ready "$T/r6"
"$P" pub "$IPCD_RUNTIME_DIR" robot/fail 10000 &
PUB=$!
sleep 0.05
t0=$(date +%s%N)
kill -KILL "${NATS_PID[0]}"
wait $PUB || fail "publish during failover"
for i in $(seq 400); do status_a | grep -q '^nats connected' && break; sleep 0.05; done
t1=$(date +%s%N)
status_a | grep -q '^nats connected' || fail "A did not reconnect: $(status_a)"
wait $S6 || fail "failover subscriber: $(cat "$T/s6")"
log "failover: A now $(status_a | sed -n 's/^nats //p'); $(cat "$T/s6"); reconnected within $(( (t1 - t0) / 1000000 )) ms; overflow $(counter "$(status_a)" dropped_bridge_overflow)"

# 7. restart B's ipcd: bridge B reconnects and traffic resumes
kill -TERM "$IPCDB"; wait "$IPCDB" 2>/dev/null
# the same namespace (bridge B keeps it alive)
nsenter --ipc="/proc/$BB/ns/ipc" -- "$IPCD" --runtime-dir "$RUNB" --config "$T/ipcdb.conf" 2>>"$T/ipcdb.log" &
IPCDB=$!
PIDS="$PIDS $!"
for i in $(seq 400); do status_b 2>/dev/null | grep -q '^nats connected' && break; sleep 0.1; done
sleep 0.5
rm -f "$T/r7"
inb "$P" sub "$RUNB" robot/after 50 host-a exact "$T/r7" 10000 >"$T/s7" &
S7=$!
wait_ready "$T/r7"
sleep 0.5
"$P" pub "$IPCD_RUNTIME_DIR" robot/after 50 || fail "publish after restart"
wait $S7 || fail "after B's ipcd restart: $(cat "$T/s7")"
log "after ipcd restart: $(cat "$T/s7")"

kill -TERM "$BA" "$BB"
wait "$BA" || fail "bridge A exit status $?"
wait "$BB" || fail "bridge B exit status $?"
kill -TERM "$IPCDB"; wait "$IPCDB" 2>/dev/null
grep -h 'Sanitizer\|runtime error' "$T"/bridge-*.log && fail "sanitizer report in a bridge log"
ipcd_test_finish
