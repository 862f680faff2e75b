#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-python.sh - `make bench-python`: python/bench.py against a private
# ipcd (own IPC namespace, as the tests), then stop it and check that
# nothing is left.  Arguments go to bench.py (seconds per row).
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON:=python3}"
export PYTHON
. "$top_srcdir/tests/harness.sh"
ipcd_test_setup "$@"
ipcd_start
PYTHONPATH="$top_builddir/python${PYTHONPATH:+:$PYTHONPATH}" \
        "$PYTHON" "$top_srcdir/python/bench.py" "$@" || fail "bench.py failed"
ipcd_test_finish
