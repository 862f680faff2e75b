#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/fuzz/run.sh BUILDDIR CORPUSDIR TARGET... - what `make fuzz` runs:
# each libFuzzer target for FUZZ_SECONDS (default 60) in a private IPC
# namespace, on a copy of its seed corpus (CORPUSDIR/TARGET; new inputs go
# to the copy, never into the source tree), with FUZZ_TIMEOUT seconds
# (default 10) for one input.  Fails if any target finds a crash, a leak,
# a timeout or an out-of-memory: the input that did it is kept in
# BUILDDIR/fuzz-artifacts/.  Prints one line per target: executions,
# coverage (libFuzzer's cov: edges, ft: features), corpus size.
# FUZZ_RUNS (default: none) also ends a target after that many executions,
# whichever comes first (the long run: FUZZ_SECONDS=900 FUZZ_RUNS=10000000).
set -u

builddir=$1 corpusdir=$2
shift 2
seconds=${FUZZ_SECONDS:-60}
timeout=${FUZZ_TIMEOUT:-10}
runs=${FUZZ_RUNS:+-runs=$FUZZ_RUNS}
artifacts=$builddir/fuzz-artifacts
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ipcd-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts" || exit 1

# Objects the targets create must stay out of the machine's namespace.
if [ "$(id -u)" = 0 ]; then
        ns="unshare --ipc"
else
        ns="unshare --ipc --map-root-user"
fi

failed=0
summary=""
for t in "$@"; do
        work=$scratch/$t
        mkdir -p "$work/corpus" "$work/tmp"
        if [ -d "$corpusdir/$t" ]; then
                cp "$corpusdir/$t"/* "$work/corpus/" 2>/dev/null
        fi
        echo "=== $t: ${seconds}s"
        IPCD_FUZZ_UNSHARED=1 TMPDIR=$work/tmp \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
        LSAN_OPTIONS=suppressions=$corpusdir/../lsan.supp:print_suppressions=0 \
                $ns "$builddir/$t" -max_total_time="$seconds" $runs -timeout="$timeout" \
                -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$artifacts/$t-" "$work/corpus" >"$work/log" 2>&1
        st=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
        line=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1)
        cov=$(echo "$line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
        ft=$(echo "$line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
        corp=$(echo "$line" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
        if [ "$st" = 0 ]; then
                res="ok  "
        else
                res="FAIL"
                failed=1
                echo "--- $t failed (exit status $st); the end of its log:"
                tail -n 60 "$work/log"
        fi
        took=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$work/log" | tail -n 1)
        summary="$summary$res $t: ${execs:-0} executions in ${took:-$seconds}s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}
"
done
echo "=== make fuzz summary"
printf '%s' "$summary"
exit $failed
