#!/bin/sh
# test-bench-bridge.sh - smoke test of `ipcd-bench --bridge` (section 9):
# with tiny counts, the run completes, every row of the section is there
# with a figure (the round trips of the bridge and of the direct NATS
# pairs: none lost, or the repetition would have failed), and nothing the
# bench started is left running.  Skipped (77) where the section cannot
# run: no nats-server, a bench built without libnats, no ipcd-bridge, not
# root (two IPC namespaces).  Never asserts a timing.
set -u
builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
bench="$builddir/bench/ipcd-bench"
[ -x "$bench" ] || { echo "SKIP: $bench not built"; exit 77; }
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] ||
        { echo "SKIP: nats-server not installed"; exit 77; }

out=$(mktemp -d "${TMPDIR:-/tmp}/test-bench-bridge.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

"$bench" --bridge --quick --reps 1 --time 0.05 --out "$out" >"$out/stdout" 2>"$out/stderr"
rc=$?
if [ $rc -eq 77 ]; then
        echo "SKIP: $(grep -A1 '^== 9\.' "$out/stdout" | tail -1 | sed 's/^ *//')"
        exit 77
fi
[ $rc -eq 0 ] || bad "ipcd-bench --bridge exited $rc"
[ -s "$out/latest.csv" ] || bad "no latest.csv"
if [ $fail -ne 0 ]; then
        cat "$out/stdout" "$out/stderr"
        exit 1
fi
csv="$out/latest.csv"

# A measured row has a median.
measured() { # test transport size metric
        awk -F, -v t="$1" -v tr="$2" -v s="$3" -v m="$4" '$1 == "bridge" && $2 == t &&
                $3 == tr && $5 == s && $6 == m && $8 != "" { f = 1 } END { exit !f }' "$csv"
}
for t in ipcd-bridge nats nats-asap; do
        for m in p50 p99 p99.9; do
                measured rtt "$t" 64 "$m" || bad "round trip $m: $t not measured"
        done
        for s in 64 1024; do
                measured oneway "$t" "$s" rate || bad "one-way $s B: $t not measured"
                measured oneway "$t" "$s" lost || bad "one-way $s B: $t has no lost row"
        done
done
# The bridge's rows carry their ratio to the direct pair.
awk -F, '$1 == "bridge" && $3 == "ipcd-bridge" && $6 == "p50" && $11 != "" && $12 == "nats" {
        f = 1 } END { exit !f }' "$csv" || bad "round trip: no bridge/direct ratio"
awk -F, '$1 == "bridge" && $3 == "ipcd-bridge" && $6 == "rate" && $11 != "" && $12 == "nats" {
        n++ } END { exit n != 2 }' "$csv" || bad "one-way: no bridge/direct ratios"
grep -q 'repetitions failed' "$out/latest.txt" && bad "a repetition failed"
grep -q '^  bench-bridge-a: .*exported' "$out/latest.txt" || bad "no counters of bridge A"
grep -q '^  bench-bridge-b: .*imported' "$out/latest.txt" || bad "no counters of bridge B"

# Nothing left: every helper ran under the scratch directory (ipcd B and
# the bridges with their runtime directories, nats-server with its pid
# file there), which the bench removed.
scratch=$(sed -n 's/^Scratch and ipcd runtime directory: \([^ ]*\) .*/\1/p' "$out/latest.txt")
[ -n "$scratch" ] || bad "no scratch directory in the report"
if [ -n "$scratch" ]; then
        [ -e "$scratch" ] && bad "scratch directory $scratch left"
        for i in 1 2 3 4 5 6 7 8 9 10; do
                pgrep -f -- "$scratch" >/dev/null 2>&1 || break
                sleep 0.5
        done
        left=$(pgrep -af -- "$scratch")
        [ -z "$left" ] || bad "processes left: $left"
fi

if [ $fail -ne 0 ]; then
        echo "--- latest.txt"
        cat "$out/latest.txt"
        echo "--- stderr"
        cat "$out/stderr"
        exit 1
fi
echo "PASS: ipcd-bench --bridge ($(grep -c '^bridge,' "$csv") CSV rows)"
exit 0
