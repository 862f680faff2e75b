#!/bin/sh
# man/test-mandoc.sh - every manual page passes `mandoc -Tlint` without a
# warning or error (style notes, such as "referenced manual not found" for
# pages not installed yet, are not checked).  Exit 77 without mandoc.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc not installed"; exit 77; }

fail=0
n=0
for page in "$top_srcdir"/man/*.[1-9]; do
        [ -f "$page" ] || continue
        n=$((n + 1))
        # mandoc also prints notes about the system's mandoc.db: keep only
        # the lines about the page itself.
        out=$(mandoc -Tlint -W warning "$page" 2>&1)
        rc=$?
        msgs=$(printf '%s\n' "$out" | grep -F "$(basename "$page"):" || true)
        if [ $rc -ne 0 ] || [ -n "$msgs" ]; then
                echo "FAIL: $page (mandoc exit $rc)"
                printf '%s\n' "$out"
                fail=1
        else
                echo "ok: $(basename "$page")"
        fi
done
[ $n -gt 0 ] || { echo "FAIL: no manual pages in $top_srcdir/man"; exit 1; }
exit $fail
