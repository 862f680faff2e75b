# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/harness.sh - sourced by the integration tests (bash).
#
#   . "$(dirname "$0")/harness.sh"
#   ipcd_test_setup "$@"          # private IPC namespace + runtime dir
#   ipcd_test_config 'backlog_bytes = 4096;'   # optional, before ipcd_start
#   ipcd_start                    # real ipcd, waits until it answers STATUS
#   run_test_prog test-unicast    # a C program from tests/, IPCD_RUNTIME_DIR set
#   ipcd_test_clients             # or: T, CLIENT, ctl, bg_pids, wait_for
#   ipcd_test_finish              # SIGTERM, exit 0, nothing left behind
#
# Every test runs in its own IPC namespace (unshare --ipc), so runs cannot
# see each other and any object left behind is a leak of that run.  The
# namespace dies with the test, so even a failed run leaves nothing.
# Exit 77 (skip) only where a facility is missing.  Timeouts here are hang
# guards, never assertions.
#
# Environment (set by AM_TESTS_ENVIRONMENT): IPCD, IPCDCTL, top_builddir,
# top_srcdir.  Exported to the programs: IPCD_RUNTIME_DIR, IPCD_TEST_CONFIG,
# IPCD_TEST_TMP.

set -u

T_NAME=$(basename "$0" .sh)
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${IPCD:=$top_builddir/src/ipcd/ipcd}"
: "${IPCDCTL:=$top_builddir/src/ipcdctl/ipcdctl}"
export top_srcdir top_builddir IPCD IPCDCTL

# Hang guard for waits, in seconds; generous for ASan and loaded machines.
: "${IPCD_TEST_WAIT:=60}"

IPCD_PID=""
IPCD_LOG=""
IPCD_TEST_TMP=""
IPCD_RUNTIME_DIR=""
IPCD_TEST_CONFIG=""

log() { echo "$T_NAME: $*" >&2; }
fail() {
        echo "$T_NAME: FAIL: $*" >&2
        exit 1
}
skip() {
        echo "$T_NAME: SKIP: $*" >&2
        exit 77
}

# Our IPC namespace, as "ipc:[INODE]".
_ipc_ns() { readlink /proc/self/ns/ipc 2>/dev/null; }

# Re-execute the calling test inside a private IPC namespace unless it
# already runs in the one we made for it; then make the runtime dir.
ipcd_test_setup() {
        # IPCD_TEST_OUTER_NS names the namespace we left: being in another
        # one means the re-exec below happened.
        if [ -z "${IPCD_TEST_OUTER_NS:-}" ] || [ "$IPCD_TEST_OUTER_NS" = "$(_ipc_ns)" ]; then
                command -v unshare >/dev/null 2>&1 || skip "unshare(1) not found"
                IPCD_TEST_OUTER_NS=$(_ipc_ns)
                export IPCD_TEST_OUTER_NS
                if unshare --ipc true 2>/dev/null; then
                        exec unshare --ipc -- bash "$0" "$@"
                elif unshare --user --map-root-user --ipc true 2>/dev/null; then
                        # Not root: a user namespace lets us own an IPC one.
                        exec unshare --user --map-root-user --ipc -- bash "$0" "$@"
                fi
                skip "cannot create an IPC namespace (unshare --ipc not permitted)"
        fi
        [ -d /proc/sysvipc ] || skip "/proc/sysvipc is missing"
        [ -x "$IPCD" ] || fail "ipcd not built: $IPCD"

        # The namespace is fresh: nothing in it may exist yet.
        _ipc_objects >/dev/null && fail "fresh IPC namespace is not empty: $(_ipc_objects)"

        IPCD_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ipcd-$T_NAME.XXXXXX") || fail "mktemp"
        # 0755 so that tests that switch to another uid can reach the FIFOs.
        chmod 0755 "$IPCD_TEST_TMP"
        IPCD_RUNTIME_DIR=$IPCD_TEST_TMP/run
        IPCD_TEST_CONFIG=$IPCD_TEST_TMP/ipcd.conf
        IPCD_LOG=$IPCD_TEST_TMP/ipcd.log
        # Always an explicit config file: never read an installed one.
        : >"$IPCD_TEST_CONFIG"
        export IPCD_RUNTIME_DIR IPCD_TEST_CONFIG IPCD_TEST_TMP
        trap _ipcd_test_cleanup EXIT
        trap 'exit 130' INT TERM
}

# Append a libconfig line to the test's config (before ipcd_start).
ipcd_test_config() {
        printf '%s\n' "$*" >>"$IPCD_TEST_CONFIG"
}

_ipcd_test_cleanup() {
        local rc=$?

        if [ -n "$IPCD_PID" ] && kill -0 "$IPCD_PID" 2>/dev/null; then
                kill -KILL "$IPCD_PID" 2>/dev/null
                wait "$IPCD_PID" 2>/dev/null
        fi
        if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "$IPCD_LOG" ] && [ -s "$IPCD_LOG" ]; then
                echo "---- ipcd's log ----" >&2
                cat "$IPCD_LOG" >&2
                echo "--------------------" >&2
        fi
        _ipcd_drop_fake_units
        [ -n "$IPCD_TEST_TMP" ] && rm -rf "$IPCD_TEST_TMP"
        exit "$rc"
}

# A fake systemd unit NAME ("foo.service"): a cgroup
# .../ipcd-test-PID.slice/NAME in a writable cgroup2 hierarchy, as ipcd
# reads units from /proc/PID/cgroup.  Sets FAKE_UNIT_DIR to it; status 1
# (and nothing made) when there is no such hierarchy.  in_unit NAME CMD...
# runs CMD inside it.  Removed at exit (their processes must be gone).
IPCD_FAKE_SLICE=""
ipcd_fake_unit() {
        local root
        for root in /sys/fs/cgroup/unified /sys/fs/cgroup; do
                [ -e "$root/cgroup.procs" ] || continue
                [ -n "$IPCD_FAKE_SLICE" ] || {
                        mkdir "$root/ipcd-test-$$.slice" 2>/dev/null || continue
                        IPCD_FAKE_SLICE=$root/ipcd-test-$$.slice
                }
                FAKE_UNIT_DIR=$IPCD_FAKE_SLICE/$1
                [ -d "$FAKE_UNIT_DIR" ] || mkdir "$FAKE_UNIT_DIR" 2>/dev/null || return 1
                return 0
        done
        return 1
}
in_unit() {
        local dir=$IPCD_FAKE_SLICE/$1
        shift
        sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$dir" "$@"
}
_ipcd_drop_fake_units() {
        [ -n "$IPCD_FAKE_SLICE" ] || return 0
        local d i
        for i in 1 2 3 4 5 6 7 8 9 10; do
                for d in "$IPCD_FAKE_SLICE"/*/; do
                        [ -d "$d" ] && rmdir "$d" 2>/dev/null
                done
                rmdir "$IPCD_FAKE_SLICE" 2>/dev/null && break
                sleep 0.1
        done
        IPCD_FAKE_SLICE=""
}

# The set-up of the tests that drive ipcdctl and background clients
# (after ipcd_test_setup): T (the test's directory), CLIENT (test-ctl-
# client, which must be built), ctl (ipcdctl), bg_pids (pids of
# background clients: at exit each is continued, if stopped, and
# killed), and wait_for FILE TEXT (until FILE holds TEXT; hang guard).
# ipcd_test_clients CMD: the shell command CMD also runs at exit.
IPCD_TEST_AT_EXIT=""
ipcd_test_clients() {
        T=$IPCD_TEST_TMP
        CLIENT=$top_builddir/src/ipcdctl/test-ctl-client
        [ -x "$CLIENT" ] || fail "test-ctl-client not built: $CLIENT"
        bg_pids=""
        IPCD_TEST_AT_EXIT=${1:-}
        ctl() { "$IPCDCTL" "$@"; }
        wait_for() {
                local i=0
                until grep -qF -- "$2" "$1" 2>/dev/null; do
                        i=$((i + 1))
                        [ $i -lt $((IPCD_TEST_WAIT * 20)) ] ||
                                fail "'$2' never appeared in $1: $(cat "$1")"
                        sleep 0.05
                done
        }
        trap _ipcd_test_clients_cleanup EXIT
}
_ipcd_test_clients_cleanup() {
        local rc=$? p
        for p in $bg_pids; do
                kill -CONT "$p" 2>/dev/null
                kill -KILL "$p" 2>/dev/null
        done
        [ -z "$IPCD_TEST_AT_EXIT" ] || eval "$IPCD_TEST_AT_EXIT"
        (exit "$rc")
        _ipcd_test_cleanup
}

# Lines describing every SysV object in our namespace; status 0 if any.
_ipc_objects() {
        local k found=1
        for k in msg sem shm; do
                if [ "$(wc -l </proc/sysvipc/$k)" -gt 1 ]; then
                        sed 1d /proc/sysvipc/$k | sed "s/^/$k: /"
                        found=0
                fi
        done
        return $found
}

# Wait until the daemon answers a STATUS request (or fail / hang guard).
ipcd_wait_ready() {
        local i=0 max=$((IPCD_TEST_WAIT * 20))
        while :; do
                if [ -n "$IPCD_PID" ] && ! kill -0 "$IPCD_PID" 2>/dev/null; then
                        wait "$IPCD_PID"
                        fail "ipcd exited during start-up with status $?"
                fi
                if [ -p "$IPCD_RUNTIME_DIR/control" ] &&
                        "$top_builddir/tests/test-probe" status >/dev/null 2>&1; then
                        return 0
                fi
                i=$((i + 1))
                [ $i -lt $max ] || fail "ipcd did not answer STATUS within ${IPCD_TEST_WAIT}s"
                sleep 0.05
        done
}

# Start ipcd on the test's runtime dir with the test's config; extra
# arguments are passed to it.  Its stderr goes to $IPCD_LOG.
ipcd_start() {
        "$IPCD" --runtime-dir "$IPCD_RUNTIME_DIR" --config "$IPCD_TEST_CONFIG" "$@" \
                2>>"$IPCD_LOG" &
        IPCD_PID=$!
        ipcd_wait_ready
}

# Stop ipcd with a signal (default TERM) and check that it exits 0.
ipcd_stop() {
        local sig=${1:-TERM} st i=0
        [ -n "$IPCD_PID" ] || fail "ipcd_stop: no ipcd running"
        kill -"$sig" "$IPCD_PID" || fail "kill -$sig ipcd"
        # hang guard: a clean stop must not take forever
        while kill -0 "$IPCD_PID" 2>/dev/null; do
                i=$((i + 1))
                if [ $i -ge $((IPCD_TEST_WAIT * 20)) ]; then
                        fail "ipcd still running ${IPCD_TEST_WAIT}s after SIG$sig"
                fi
                sleep 0.05
        done
        wait "$IPCD_PID"
        st=$?
        IPCD_PID=""
        [ "$st" = 0 ] || fail "ipcd exited with status $st after SIG$sig (expected 0)"
}

# Nothing left behind: no SysV object in the namespace, no FIFO in the
# runtime directory, no state file.
ipcd_check_clean() {
        local objs fifos
        if objs=$(_ipc_objects); then
                fail "IPC objects left behind:
$objs"
        fi
        fifos=$(find "$IPCD_RUNTIME_DIR" -type p 2>/dev/null)
        [ -z "$fifos" ] || fail "FIFOs left behind: $fifos"
        [ ! -e "$IPCD_RUNTIME_DIR/ipcd.state" ] || fail "ipcd.state left behind"
}

# Stop ipcd (SIGTERM, exit 0) and check that nothing is left.
ipcd_test_finish() {
        [ -z "$IPCD_PID" ] || ipcd_stop TERM
        ipcd_check_clean
        if grep -q 'ERROR: \(Address\|Leak\|Undefined\)Sanitizer\|runtime error:' "$IPCD_LOG" 2>/dev/null; then
                fail "sanitizer report in ipcd's log"
        fi
        log "PASS"
        exit 0
}

# Run a test program built in tests/ with its arguments; its failure
# (or skip) is the test's.
run_test_prog() {
        local prog=$1 st
        shift
        "$top_builddir/tests/$prog" "$@"
        st=$?
        case $st in
        0) ;;
        77) skip "$prog skipped" ;;
        *) fail "$prog exited with status $st" ;;
        esac
}

# ipcd is still running and answering.
ipcd_check_alive() {
        if [ -z "$IPCD_PID" ] || ! kill -0 "$IPCD_PID" 2>/dev/null; then
                fail "ipcd is not running"
        fi
        "$top_builddir/tests/test-probe" status >/dev/null || fail "ipcd does not answer STATUS"
}
