#!/bin/sh
# test-bench.sh - smoke test of ipcd-bench: a --quick run completes, writes
# its text and CSV results, and measures every transport that is available
# on this machine (the others must say why they were skipped).  Never
# asserts a timing.
set -u
builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
bench="$builddir/bench/ipcd-bench"
[ -x "$bench" ] || { echo "SKIP: $bench not built"; exit 77; }

out=$(mktemp -d "${TMPDIR:-/tmp}/test-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

"$bench" --quick --out "$out" >"$out/stdout" 2>"$out/stderr"
rc=$?
[ $rc -eq 0 ] || bad "ipcd-bench --quick exited $rc"
[ -s "$out/latest.txt" ] || bad "no latest.txt"
[ -s "$out/latest.csv" ] || bad "no latest.csv"
if [ $fail -ne 0 ]; then
        cat "$out/stdout" "$out/stderr"
        exit 1
fi
csv="$out/latest.csv"
head -1 "$csv" | grep -q '^section,test,transport,mode,size,metric,unit,median,min,max,ratio,ratio_to$' ||
        bad "CSV header"

# A measured row has a median; a skipped one carries its reason.
measured() { # section transport
        awk -F, -v s="$1" -v t="$2" '$1 == s && $3 == t && $8 != "" { f = 1 } END { exit !f }' "$csv"
}
for t in floor sysv pipe unix; do
        measured latency "$t" || bad "latency: $t not measured"
done
for t in floor floor-batch floor-more sysv unix; do
        measured throughput "$t" || bad "throughput: $t not measured"
done

# ipcd: measured whenever it was built next to the bench.
if [ -x "${IPCD:-$builddir/src/ipcd/ipcd}" ]; then
        measured latency ipcd || bad "latency: ipcd not measured"
        measured throughput ipcd || bad "throughput: ipcd not measured"
        measured throughput ipcd-more || bad "throughput: ipcd with IPCD_MORE not measured"
        measured isolation ipcd || bad "isolation: not measured"
        measured scale ipcd || bad "scale: not measured"
else
        grep -q 'ipcd unicast *skipped' "$out/latest.txt" || bad "ipcd missing but not reported as skipped"
fi

# Optional peers: measured when installed, else reported as skipped.
peer() { # transport section installed?
        if [ "$3" = yes ]; then
                measured "$2" "$1" || grep -q "^$2,.*,$1,.*skipped" "$csv" ||
                        bad "$2: $1 installed but neither measured nor skipped with a reason"
        else
                grep -q "^$2,[^,]*,$1,.*skipped" "$csv" || bad "$2: $1 not reported as skipped"
        fi
}
have() { command -v "$1" >/dev/null 2>&1 && echo yes || echo no; }
peer dbus-daemon latency "$(have dbus-daemon)"
peer dbus-broker latency "$(have dbus-broker-launch)"
zmq=no
for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
        [ -e "$d/libzmq.so.5" ] && zmq=yes
done
peer zmq throughput "$zmq"

# Bulk, fan-out and calls: every ipcd row is there, measured or with the
# reason it is not (the ring and topics may be younger than the bench).
for s in bulk fanout calls; do
        grep -q "^$s," "$csv" || bad "section $s: no rows"
done
measured bulk unix-stream || bad "bulk: unix-stream not measured"
for t in ipcd-ring ipcd-ring-ack; do
        grep -q "^bulk,[^,]*,$t," "$csv" || bad "bulk: no $t rows"
done
measured bulk pipe || bad "bulk: pipe not measured"
grep -q '^== Targets' "$out/latest.txt" || bad "no targets summary"

# Section 8, the Python binding: measured where it is built (and pyzmq
# where python3-zmq is installed), else a line that says it is skipped.
grep -q '^== 8. Python binding' "$out/latest.txt" || bad "no Python section"
# A sanitized build's binding needs the sanitizer runtimes preloaded into
# python3 (python/test-python does that), which the bench does not do: its
# rows are not asked for there.
pyext=$(ls "$builddir"/python/ipcd/_ipcd*.so 2>/dev/null | head -1)
if [ -n "$pyext" ] && ldd "$pyext" 2>/dev/null | grep -q 'lib[at]san'; then
        echo "test-bench: the binding is built with sanitizers: Python rows not checked" >&2
elif [ -n "$pyext" ] && [ -x "${IPCD:-$builddir/src/ipcd/ipcd}" ]; then
        for m in same-cpu unpinned; do
                awk -F, -v m="$m" '$1 == "python" && $2 == "rtt" && $3 == "python-ipcd" && $4 == m &&
                        $8 != "" && $12 == "python-zmq" { f = 1 } END { exit !f }' "$csv" ||
                        bad "python: round trip through the binding ($m) not measured"
        done
        measured python python-ipcd || bad "python: binding not measured"
        awk -F, '$1 == "python" && $2 == "oneway" && $3 == "python-ipcd" && $8 != "" { f = 1 }
                END { exit !f }' "$csv" || bad "python: one-way through the binding not measured"
        measured python python-zmq || grep -q '^  pyzmq: skipped: not installed' "$out/latest.txt" ||
                bad "python: pyzmq neither measured nor reported as not installed"
else
        awk '/^== 8. Python binding/ { getline; f = /^  skipped: / } END { exit !f }' "$out/latest.txt" ||
                bad "python: binding not built but not reported as skipped"
fi

if [ $fail -ne 0 ]; then
        echo "--- latest.txt"
        cat "$out/latest.txt"
        echo "--- stderr"
        cat "$out/stderr"
        exit 1
fi
echo "PASS: ipcd-bench --quick ($(grep -c . "$csv") CSV rows)"
exit 0
