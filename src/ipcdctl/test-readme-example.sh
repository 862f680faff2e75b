#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-readme-example.sh - the program shown in README.md is
# examples/hello.c, byte for byte (the build compiles examples/hello.c,
# so the README's copy compiles too).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"

readme=$top_srcdir/README.md
example=$top_srcdir/examples/hello.c
[ -f "$readme" ] && [ -f "$example" ] || {
        echo "test-readme-example: README.md or examples/hello.c missing" >&2
        exit 1
}
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
# The lines between the "```c" after <!-- hello.c begin --> and its "```".
sed -n '/^<!-- hello.c begin -->$/,/^<!-- hello.c end -->$/p' "$readme" |
        sed '1,2d;$d' | sed '$d' >"$tmp"
if ! diff -u "$example" "$tmp"; then
        echo "test-readme-example: README.md's example differs from examples/hello.c" >&2
        exit 1
fi
echo "test-readme-example: README.md shows examples/hello.c"
