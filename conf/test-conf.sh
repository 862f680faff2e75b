#!/bin/sh
# conf/test-conf.sh - the shipped conf/ipcd.conf passes
# `ipcd --check-config`, as is and with every key uncommented (so the
# defaults it documents are valid values), and a broken file is refused
# with exit 78 and "file:line: message".  Uses the built daemon, $IPCD.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
conf=$top_srcdir/conf/ipcd.conf

if [ -z "${IPCD:-}" ] || [ ! -x "$IPCD" ]; then
        echo "FAIL: the daemon is not built (IPCD=${IPCD:-unset})"
        exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-conf.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

check() {  # check WANT_EXIT FILE [EXPECTED_STDERR_SUBSTRING]
        "$IPCD" --check-config --config "$2" >"$tmp/out" 2>&1
        rc=$?
        if [ $rc -ne "$1" ]; then
                echo "FAIL: ipcd --check-config --config $2: exit $rc, want $1"
                cat "$tmp/out"
                fail=1
        elif [ $# -ge 3 ] && ! grep -qF -- "$3" "$tmp/out"; then
                echo "FAIL: ipcd --check-config --config $2: no '$3' in:"
                cat "$tmp/out"
                fail=1
        else
                echo "ok: $2 -> exit $rc"
        fi
}

check 0 "$conf"

# Every "#key = value;" line uncommented: the documented defaults.
sed 's/^#\([a-z_]* = \)/\1/' "$conf" >"$tmp/all.conf"
n=$(grep -c '^[a-z_]* = ' "$tmp/all.conf")
[ "$n" -ge 12 ] || { echo "FAIL: only $n keys found in $conf"; fail=1; }
check 0 "$tmp/all.conf"

printf 'max_clients = 10;\nmax_clientz = 5;\n' >"$tmp/bad.conf"
check 78 "$tmp/bad.conf" "$tmp/bad.conf:2: unknown key 'max_clientz'"
printf 'queue_bytes = 1;\n' >"$tmp/range.conf"
check 78 "$tmp/range.conf" "$tmp/range.conf:1:"
printf 'max_clients = ;\n' >"$tmp/syntax.conf"
check 78 "$tmp/syntax.conf" "$tmp/syntax.conf:1:"
# A missing --config FILE is an error (a missing default file is not).
check 78 "$tmp/missing.conf" "$tmp/missing.conf"

exit $fail
