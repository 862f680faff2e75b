#!/bin/sh
# test-symbols.sh - the dynamic symbols libipcd-client.so defines must be
# exactly the ones its version script exports (nothing internal leaks, and
# nothing listed is missing).  Exit 0 pass, 1 fail, 77 skip.
set -u

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
so="$builddir/src/lib/.libs/libipcd-client.so"
sym="$srcdir/src/lib/libipcd-client.sym"

if [ ! -f "$so" ]; then
        echo "test-symbols: $so not built (static-only build?): skipped"
        exit 77
fi
if ! command -v nm >/dev/null 2>&1; then
        echo "test-symbols: no nm: skipped"
        exit 77
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# Defined dynamic symbols, without version suffixes (ipcd_send@@NODE) and
# without the version nodes themselves (absolute symbols, type A).
if ! nm -D --defined-only "$so" >"$tmp/nm"; then
        echo "test-symbols: nm -D failed on $so"
        exit 1
fi
awk 'NF >= 3 && $2 != "A" { print $3 }' "$tmp/nm" | sed 's/@.*//' | sort -u >"$tmp/got"
# Every "name;" line of the script's global: sections.
sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*$/\1/p' "$sym" | sort -u >"$tmp/want"

if [ ! -s "$tmp/want" ]; then
        echo "test-symbols: no symbols found in $sym"
        exit 1
fi
if ! cmp -s "$tmp/got" "$tmp/want"; then
        echo "test-symbols: exported symbols differ from $sym"
        echo "(< exported by the library, > listed in the version script)"
        diff "$tmp/got" "$tmp/want"
        exit 1
fi
if grep -v '^ipcd_' "$tmp/got" >/dev/null; then
        echo "test-symbols: symbols without the ipcd_ prefix:"
        grep -v '^ipcd_' "$tmp/got"
        exit 1
fi

# -version-info follows the version script: while the soname stays .so.0
# (nothing removed), every node added an interface, so the newest node is
# LIBIPCD_CLIENT_<age> (libtool names the file .so.0.<age>.<revision>).
real=$(readlink -f "$so")
case "${real##*/}" in
libipcd-client.so.*.*.*) ;;
*)
        echo "test-symbols: unexpected library file name ${real##*/}"
        exit 1
        ;;
esac
v=${real##*/libipcd-client.so.}
major=${v%%.*}
age=${v#*.}
age=${age%%.*}
newest=$(sed -n 's/^LIBIPCD_CLIENT_\([0-9][0-9]*\) *{.*/\1/p' "$sym" | sort -n | tail -1)
if [ "$major" != 0 ] || [ "$newest" != "$age" ]; then
        echo "test-symbols: library ${real##*/} (soname major $major, age $age) but the newest"
        echo "version node is LIBIPCD_CLIENT_$newest: bump -version-info in configure.ac"
        exit 1
fi
echo "test-symbols: $(wc -l <"$tmp/got") symbols, as listed; ${real##*/}, newest node LIBIPCD_CLIENT_$newest"
exit 0
