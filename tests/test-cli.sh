#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-cli.sh - ipcd's command line.
#
# Asserts: --version and --help exit 0 and say what they should;
# --check-config exits 0 for an empty (all defaults) file and for the
# shipped conf/ipcd.conf, 78 (EX_CONFIG) with "file:line: message" for an
# unknown key or a value out of range, non-zero for a missing --config
# file; an unknown option is an error; none of this creates an IPC object
# or a runtime directory.
. "$(dirname "$0")/harness.sh"
ipcd_test_setup "$@"

out=$IPCD_TEST_TMP/out
err=$IPCD_TEST_TMP/err

"$IPCD" --version >"$out" 2>"$err" || fail "--version: exit $?"
grep -q '[0-9]\+\.[0-9]\+' "$out" || fail "--version prints no version: $(cat "$out")"

"$IPCD" --help >"$out" 2>"$err" || fail "--help: exit $?"
for opt in --config --runtime-dir --check-config; do
        grep -q -- "$opt" "$out" || fail "--help does not mention $opt"
done

"$IPCD" --no-such-option >"$out" 2>"$err" && fail "an unknown option was accepted"

"$IPCD" --check-config --config "$IPCD_TEST_CONFIG" >"$out" 2>"$err" ||
        fail "--check-config on an empty file: exit $? $(cat "$err")"

if [ -f "$top_srcdir/conf/ipcd.conf" ]; then
        "$IPCD" --check-config --config "$top_srcdir/conf/ipcd.conf" >"$out" 2>"$err" ||
                fail "--check-config on the shipped conf/ipcd.conf: exit $? $(cat "$err")"
fi

bad=$IPCD_TEST_TMP/bad.conf
printf '# a comment\nmax_clients = 10;\nno_such_key = 1;\n' >"$bad"
"$IPCD" --check-config --config "$bad" >"$out" 2>"$err"
st=$?
[ "$st" = 78 ] || fail "--check-config with an unknown key: exit $st, expected 78"
grep -q "bad.conf:3:" "$err" || fail "no 'file:line:' for the unknown key: $(cat "$err")"

printf 'backlog_bytes = -1;\n' >"$bad"
"$IPCD" --check-config --config "$bad" >"$out" 2>"$err"
st=$?
[ "$st" = 78 ] || fail "--check-config with a negative backlog_bytes: exit $st, expected 78"
grep -q "bad.conf:1:" "$err" || fail "no 'file:line:' for the bad value: $(cat "$err")"

"$IPCD" --check-config --config "$IPCD_TEST_TMP/missing.conf" >"$out" 2>"$err" &&
        fail "--check-config with a missing --config file exited 0"

# a bad config also stops a real start, before anything is created
printf 'no_such_key = 1;\n' >"$bad"
timeout "$IPCD_TEST_WAIT" "$IPCD" --runtime-dir "$IPCD_RUNTIME_DIR" --config "$bad" >"$out" 2>"$err"
st=$?
if [ "$st" = 0 ] || [ "$st" = 124 ]; then
        fail "ipcd started with a bad config (exit $st)"
fi

[ ! -e "$IPCD_RUNTIME_DIR" ] || fail "the runtime directory was created: $(ls -la "$IPCD_RUNTIME_DIR")"
ipcd_test_finish
