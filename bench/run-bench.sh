#!/bin/sh
# run-bench.sh BUILDDIR [ipcd-bench options...] - what `make bench` runs:
# the standard suite of ipcd-bench, its results in BUILDDIR/bench/results/
# (latest.txt, latest.csv, a dated copy of the text), and latest.png
# drawn with gnuplot when it is installed.
set -e
builddir=${1:-.}
[ $# -gt 0 ] && shift
srcdir=$(cd "$(dirname "$0")" && pwd)
out="$builddir/bench/results"
mkdir -p "$out"

if [ "$(id -u)" != 0 ]; then
        echo "run-bench.sh: not root: no private IPC namespace (small kernel queues)" \
             "and no dbus-broker without journald; figures stay comparable within the run" >&2
fi

"$builddir/bench/ipcd-bench" --out "$out" "$@"
cp "$out/latest.txt" "$out/$(date -u +%Y%m%d-%H%M%S).txt"

if ! command -v gnuplot >/dev/null 2>&1; then
        echo "run-bench.sh: gnuplot is not installed: no plot (Debian: apt-get install gnuplot-nox)"
        exit 0
fi

# Small data files for gnuplot, one row per transport, from the CSV
# (section,test,transport,mode,size,metric,unit,median,min,max,ratio,ratio_to).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for mode in same-cpu unpinned; do
        awk -F, -v mode="$mode" '
                $1 == "latency" && $4 == mode && $8 != "" {
                        if (!($3 in seen)) { seen[$3] = 1; order[n++] = $3 }
                        v[$3, $6] = $8
                }
                END {
                        for (i = 0; i < n; i++) {
                                t = order[i]
                                printf "%s %s %s %s\n", t, v[t, "p50"], v[t, "p99"], v[t, "p99.9"]
                        }
                }' "$out/latest.csv" >"$tmp/lat-$mode.dat"
done
awk -F, '
        $1 == "throughput" && $6 == "rate" && $8 != "" {
                if (!($3 in seen)) { seen[$3] = 1; order[n++] = $3 }
                v[$3, $5] = $8
        }
        END {
                for (i = 0; i < n; i++) {
                        t = order[i]
                        a = v[t, "64"]; b = v[t, "1024"]
                        printf "%s %s %s\n", t, a == "" ? "-" : a, b == "" ? "-" : b
                }
        }' "$out/latest.csv" >"$tmp/thr.dat"

if gnuplot -e "dir='$tmp'; png='$out/latest.png'" "$srcdir/plot.gp" 2>"$tmp/gnuplot.err"; then
        echo "run-bench.sh: plot: $out/latest.png"
else
        echo "run-bench.sh: gnuplot failed:" >&2
        cat "$tmp/gnuplot.err" >&2
fi
echo "run-bench.sh: results: $out/latest.txt $out/latest.csv"
