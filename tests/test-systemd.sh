#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/test-systemd.sh - ipcd as a system service, end to end, in a real
# systemd (PID 1 of a systemd-nspawn container booted by tests/systemd-sandbox).
#
# Builds nothing: installs the build tree ($top_builddir) with
# `make install DESTDIR=STAGE`, copies the installation into a fresh
# sandbox, creates the user and /run/ipcd with the installed sysusers.d and
# tmpfiles.d snippets, and checks:
#   - `systemctl start ipcd` reaches active (Type=notify: READY=1 received),
#     and how long that takes; `systemctl status` shows the STATUS= text;
#   - `ipcdctl status` works as an unprivileged user;
#   - clients of two unprivileged uids register and exchange a message,
#     with the sender's uid as attested by ipcd;
#   - `systemctl reload ipcd` applies a changed limit, and a broken file is
#     refused with the running configuration kept;
#   - a registration written while ipcd is stopped but ipcd.socket listens
#     succeeds once ipcd runs again (socket activation or a manual start);
#   - SIGKILL of ipcd: its clients get an error, systemd restarts it, and no
#     queue, semaphore or segment of the old instance is left;
#   - `systemctl stop ipcd` leaves no System V object at all;
#   - ipcd-metrics.socket (enabled and started) answers `curl
#     http://127.0.0.1:9464/metrics` with OpenMetrics text through
#     ipcd-metrics@.service, in the container's own network namespace;
#   - the journal holds ipcd's start, reload-failure and stop messages at
#     their priorities (info, err), without "<N>" or "ipcd:" prefixes.
# Prints the `systemd-analyze security` exposure of ipcd.service.
#
# Runs as root only; exit 77 where the sandbox cannot boot (no root, no
# systemd-nspawn and no way to install it, no Debian mirror).
#
# Environment: top_builddir, top_srcdir (AM_TESTS_ENVIRONMENT); optional
# SYSD_SANDBOX_* (see tests/systemd-sandbox), IPCD_TEST_KEEP_SANDBOX=1 to
# leave the sandbox running after the test for inspection.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
SBX=$top_srcdir/tests/systemd-sandbox
NAME=ipcd-test-$$
T=test-systemd

log() { echo "$T: $*"; }
failures=0
fail() { log "FAIL: $*"; failures=$((failures + 1)); }
ok() { log "ok: $*"; }
die() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn)"
[ -x "$SBX" ] || die "no $SBX"
[ -f "$top_builddir/Makefile" ] || die "no build tree at $top_builddir"

umask 022
stage=$(mktemp -d "${TMPDIR:-/tmp}/ipcd-stage.XXXXXX") || die "mktemp"
chmod 755 "$stage"
booted=0
cleanup() {
        if [ $booted = 1 ]; then
                if [ "${IPCD_TEST_KEEP_SANDBOX:-0}" = 1 ]; then
                        log "sandbox left running: $SBX -n $NAME exec ...; $SBX -n $NAME down"
                else
                        "$SBX" -n "$NAME" down >/dev/null 2>&1
                fi
        fi
        rm -rf "$stage"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

sbx() { "$SBX" -n "$NAME" "$@"; }
# Run in the container, with a hang guard.
inside() { timeout 120 "$SBX" -n "$NAME" exec "$@"; }
# Same as an unprivileged uid (setpriv from util-linux).
as_uid() { local u=$1; shift; inside setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
ms_now() { date +%s%3N; }

# wait_for SECONDS CMD...: until CMD succeeds inside the container.
wait_for() {
        local n=$(( $1 * 10 )); shift
        while [ $n -gt 0 ]; do
                inside "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
                n=$((n - 1))
        done
        return 1
}

# ------------------------------------------------------------- install
log "make install DESTDIR=$stage"
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        make -C "$top_builddir" install DESTDIR="$stage" >"$stage.install.log" 2>&1; then
        tail -30 "$stage.install.log"
        rm -f "$stage.install.log"
        die "make install failed"
fi
rm -f "$stage.install.log"

find_one() { find "$stage" "$@" -print -quit; }
ipcd_bin=$(find_one -path '*/sbin/ipcd' -type f)
ctl_bin=$(find_one -path '*/bin/ipcdctl' -type f)
service=$(find_one -name ipcd.service -type f)
socket=$(find_one -name ipcd.socket -type f)
msocket=$(find_one -name ipcd-metrics.socket -type f)
mservice=$(find_one -name 'ipcd-metrics@.service' -type f)
sysusers=$(find_one -path '*/sysusers.d/ipcd.conf' -type f)
tmpfiles=$(find_one -path '*/tmpfiles.d/ipcd.conf' -type f)
conf=$(find_one -path '*/etc/ipcd/ipcd.conf' -type f)
for v in ipcd_bin ctl_bin service socket msocket mservice sysusers tmpfiles conf; do
        [ -n "${!v}" ] || die "make install did not install $v"
        printf -v "$v" '%s' "${!v#"$stage"}"   # path inside the container
done
log "installed: $ipcd_bin $ctl_bin $service $conf"
grep -q "^ExecStart=$ipcd_bin\$" "$stage$service" ||
        fail "ExecStart= of the installed unit does not name $ipcd_bin"

# A sanitizer build runs every other test; its runtime does not belong in
# a hardened unit (SystemCallFilter=, no libasan in the rootfs).
if ldd "$stage$ipcd_bin" 2>/dev/null | grep -q 'lib[alt]san\|libubsan'; then
        skip "sanitizer build: the systemd end-to-end test runs in the plain builds"
fi

# Runtime libraries the rootfs needs beyond its base: libconfig; and curl
# to scrape the metrics endpoint.
pkgs=libconfig9,curl
for lib in $(ldd "$stage$ipcd_bin" 2>/dev/null | awk '/lib(a|ub|l|t)san/ { print $3 }'); do
        p=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1)
        [ -n "$p" ] && pkgs="$pkgs,$p"
done
export SYSD_SANDBOX_PACKAGES=${SYSD_SANDBOX_PACKAGES:+$SYSD_SANDBOX_PACKAGES,}$pkgs
# The container's own network namespace (loopback only): its port 9464 is
# not the host's.
export SYSD_SANDBOX_NSPAWN_ARGS="${SYSD_SANDBOX_NSPAWN_ARGS:-} --private-network"

# ------------------------------------------------------------- boot
t0=$(ms_now)
# A boot can fail on a loaded machine (nspawn exits early): try once more.
if ! sbx up; then
        log "the sandbox did not boot; trying once more"
        sbx down >/dev/null 2>&1 || true
        sleep 2
        if ! sbx up; then
                skip "the systemd sandbox cannot boot here (see above)"
        fi
fi
booted=1
log "sandbox up in $(( $(ms_now) - t0 )) ms"

# Copy without a "." entry (it would chmod /) and keeping /lib -> usr/lib.
(cd "$stage" && tar -cf - -- *) |
        inside tar -C / --no-same-owner --keep-directory-symlink -xf - ||
        die "copying the installation into the sandbox"
inside ldconfig
missing=$(inside sh -c "ldd $ipcd_bin $ctl_bin | grep 'not found'")
[ -z "$missing" ] || die "libraries missing in the sandbox: $missing"

# Units outside systemd's search path (make distcheck's prefix) are linked in.
unitdir=$(dirname "$service")
case "$unitdir" in
/lib/systemd/system | /usr/lib/systemd/system | /etc/systemd/system) ;;
*) inside ln -sf "$service" "$socket" "$msocket" "$mservice" /etc/systemd/system/ ;;
esac
# An installation below /root, /home or /tmp (make distcheck's _inst) is
# hidden from the services (ipcd, and ipcdctl in ipcd-metrics@) by
# ProtectHome= and PrivateTmp=: relax those two for this test only, in a
# drop-in.
case "$ipcd_bin" in
/root/* | /home/* | /run/user/*) relax="ProtectHome=no" ;;
/tmp/* | /var/tmp/*) relax="PrivateTmp=no\nDynamicUser=no" ;; # DynamicUser= implies PrivateTmp=
*) relax="" ;;
esac
if [ -n "$relax" ]; then
        log "installed under ${ipcd_bin%/*}: drop-in with $relax"
        for u in ipcd.service ipcd-metrics@.service; do
                inside sh -c "mkdir -p /etc/systemd/system/$u.d &&
                        printf '[Service]\n$relax\n' >/etc/systemd/system/$u.d/50-test.conf"
        done
fi

inside systemd-sysusers "$sysusers" || die "systemd-sysusers $sysusers"
inside systemd-tmpfiles --create "$tmpfiles" || die "systemd-tmpfiles --create $tmpfiles"
inside getent passwd ipcd >/dev/null || die "no ipcd user after systemd-sysusers"
st=$(inside stat -c '%a %U %G' /run/ipcd/clients)
[ "$st" = "1733 ipcd ipcd" ] || fail "/run/ipcd/clients is '$st', want '1733 ipcd ipcd'"
inside systemctl daemon-reload || die "daemon-reload"

# ------------------------------------------------------------- start
t0=$(ms_now)
if ! inside systemctl start ipcd; then
        inside systemctl status --no-pager ipcd.service ipcd.socket
        inside journalctl -u ipcd.service -u ipcd.socket --no-pager
        die "systemctl start ipcd failed"
fi
t_ready=$(( $(ms_now) - t0 ))
st=$(inside systemctl show -p ActiveState --value ipcd.service)
[ "$st" = active ] || die "ipcd.service is '$st' after start"
ok "systemctl start ipcd: active (READY=1) after $t_ready ms"
st=$(inside systemctl show -p ActiveState --value ipcd.socket)
[ "$st" = active ] || fail "ipcd.socket is '$st'"
st=$(inside stat -c '%F %a %U %G' /run/ipcd/control)
[ "$st" = "fifo 622 ipcd ipcd" ] || fail "/run/ipcd/control is '$st', want 'fifo 622 ipcd ipcd'"

# STATUS= is refreshed every few seconds; the first one comes with READY=1.
if wait_for 10 sh -c 'systemctl status --no-pager ipcd.service | grep -q "Status: \""'; then
        ok "systemctl status shows: $(inside systemctl status --no-pager ipcd.service | grep 'Status:' | sed 's/^ *//')"
else
        inside systemctl status --no-pager ipcd.service
        fail "no STATUS= text in systemctl status"
fi

# ------------------------------------------------------------- ipcdctl as nobody
if out=$(as_uid 65534 "$ctl_bin" status 2>&1); then
        ok "ipcdctl status as uid 65534"
else
        echo "$out"
        fail "ipcdctl status as uid 65534"
fi

# ------------------------------------------------------------- metrics over HTTP
if inside systemctl enable --now ipcd-metrics.socket >/dev/null 2>&1; then
        if out=$(inside curl -sS -i --max-time 20 http://127.0.0.1:9464/metrics 2>&1) &&
                printf '%s\n' "$out" | head -1 | grep -q '^HTTP/1.1 200' &&
                printf '%s\n' "$out" | grep -q '^ipcd_clients ' &&
                printf '%s\n' "$out" | grep -q '^# EOF'; then
                ok "curl http://127.0.0.1:9464/metrics: 200, $(printf '%s\n' "$out" | grep -c '^# TYPE') families"
        else
                printf '%s\n' "$out" | head -20
                inside journalctl --no-pager -u 'ipcd-metrics@*' | tail -20
                fail "curl of the metrics endpoint"
        fi
else
        inside systemctl status --no-pager ipcd-metrics.socket
        fail "systemctl enable --now ipcd-metrics.socket"
fi

# ------------------------------------------------------------- two uids talk
# start_listener NAME UID: `ipcdctl --json listen NAME` in the background.
start_listener() {
        inside sh -c "setpriv --reuid=$2 --regid=$2 --clear-groups $ctl_bin --json listen $1 \
                >/tmp/$1.out 2>/tmp/$1.err </dev/null & echo \$! >/tmp/$1.pid"
        if ! wait_for 10 grep -q '"listening"' "/tmp/$1.out"; then
                inside sh -c "cat /tmp/$1.out /tmp/$1.err"
                return 1
        fi
}
if start_listener t1 65534; then
        ok "client t1 (uid 65534) registered"
        if as_uid 1 "$ctl_bin" send t1 7 hello-from-uid-1; then
                if wait_for 5 grep -q '"data":"hello-from-uid-1"' /tmp/t1.out; then
                        line=$(inside grep '"data":"hello-from-uid-1"' /tmp/t1.out)
                        case "$line" in
                        *'"type":7'*'"sender_uid":1,'*) ok "t1 received type 7 from uid 1" ;;
                        *) fail "t1 received the wrong type or uid: $line" ;;
                        esac
                else
                        inside cat /tmp/t1.out /tmp/t1.err
                        fail "t1 did not receive the message"
                fi
        else
                fail "ipcdctl send t1 as uid 1"
        fi
else
        fail "client t1 (uid 65534) could not register"
fi

# ------------------------------------------------------------- reload
json_num() {  # json_num KEY: from `ipcdctl --json status`
        inside "$ctl_bin" --json status 2>/dev/null | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2
}
inside sh -c "printf 'max_clients = 100;\n' >$conf"
inside systemctl reload ipcd || fail "systemctl reload ipcd"
n=0
while [ "$(json_num max_clients)" != 100 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
if [ "$(json_num max_clients)" = 100 ]; then
        ok "reload applied max_clients = 100"
else
        fail "after reload max_clients is '$(json_num max_clients)', want 100"
fi
# A broken file: refused, running configuration kept, still active.
inside sh -c "printf 'max_clients = 0;\n' >$conf"
inside systemctl reload ipcd || fail "systemctl reload ipcd (broken file)"
sleep 0.5
st=$(inside systemctl show -p ActiveState --value ipcd.service)
if [ "$st" = active ] && [ "$(json_num max_clients)" = 100 ]; then
        ok "reload with a broken file kept max_clients = 100"
else
        fail "reload with a broken file: state '$st', max_clients '$(json_num max_clients)'"
fi
inside sh -c "printf 'max_clients = 100;\n' >$conf"

# ------------------------------------------------------------- re-exec
# `ipcdctl reexec` (what a package's postinst runs): same main PID, the unit
# stays active (RELOADING=1, READY=1), t1 keeps its registration.
old_pid=$(inside systemctl show -p MainPID --value ipcd.service)
if out=$(inside "$ctl_bin" reexec); then
        log "$out"
        pid=$(inside systemctl show -p MainPID --value ipcd.service)
        st=$(inside systemctl show -p ActiveState --value ipcd.service)
        if [ "$pid" = "$old_pid" ] && [ "$st" = active ]; then
                ok "ipcdctl reexec: pid $pid kept, unit active"
        else
                fail "ipcdctl reexec: pid $old_pid -> '$pid', state '$st'"
        fi
        if as_uid 1 "$ctl_bin" send t1 7 after-reexec &&
                wait_for 5 grep -q '"data":"after-reexec"' /tmp/t1.out; then
                ok "t1 received a message after the re-exec"
        else
                inside cat /tmp/t1.out /tmp/t1.err
                fail "t1 did not receive a message after the re-exec"
        fi
        grep -q 'ECONNRESET\|went away' <(inside cat /tmp/t1.err) &&
                fail "t1 noticed the re-exec: $(inside cat /tmp/t1.err)"
else
        fail "ipcdctl reexec"
fi

# ------------------------------------------------------------- registration while stopped
inside systemctl stop ipcd.service || fail "systemctl stop ipcd.service"
if wait_for 5 grep -q 'ECONNRESET\|went away' /tmp/t1.err; then
        ok "t1 was told that ipcd went away"
else
        fail "t1 got no error when ipcd stopped: $(inside cat /tmp/t1.err)"
fi
st=$(inside systemctl show -p ActiveState --value ipcd.socket)
[ "$st" = active ] || fail "ipcd.socket is '$st' while the service is stopped"
inside sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups $ctl_bin --json listen t2 \
        >/tmp/t2.out 2>/tmp/t2.err </dev/null & echo \$! >/tmp/t2.pid"
sleep 1
st=$(inside systemctl show -p ActiveState --value ipcd.service)
if [ "$st" != active ]; then
        log "ipcd.service is '$st' one second after the request: starting it"
        inside systemctl start ipcd.service || fail "systemctl start ipcd.service"
else
        log "the request started ipcd.service (socket activation)"
fi
if wait_for 15 grep -q '"listening"' /tmp/t2.out; then
        ok "registration written while ipcd was stopped succeeded"
else
        inside cat /tmp/t2.out /tmp/t2.err
        fail "registration written while ipcd was stopped did not succeed"
fi

# ------------------------------------------------------------- SIGKILL
objects() {  # ids of every System V object in the container, one per line
        inside sh -c 'for f in msg sem shm; do tail -n +2 /proc/sysvipc/$f | awk -v t=$f "{ print t \" \" \$2 }"; done'
}
old_pid=$(inside systemctl show -p MainPID --value ipcd.service)
old_objects=$(objects)
log "before SIGKILL: ipcd pid $old_pid, objects: $(echo $old_objects)"
[ -n "$old_objects" ] || fail "no System V objects while a client is connected"
inside systemctl kill -s KILL ipcd.service || fail "systemctl kill -s KILL ipcd"
n=0
while :; do
        pid=$(inside systemctl show -p MainPID --value ipcd.service)
        st=$(inside systemctl show -p ActiveState --value ipcd.service)
        [ "$st" = active ] && [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$old_pid" ] && break
        n=$((n + 1))
        [ $n -lt 150 ] || break
        sleep 0.1
done
if [ "$st" = active ] && [ "$pid" != "$old_pid" ]; then
        ok "restarted after SIGKILL (pid $old_pid -> $pid)"
else
        inside systemctl status --no-pager ipcd.service
        fail "not restarted after SIGKILL (state '$st', pid '$pid')"
fi
new_objects=$(objects)
leaked=$(comm -12 <(echo "$old_objects" | sort) <(echo "$new_objects" | sort) | grep . || true)
if [ -z "$leaked" ]; then
        ok "no object of the killed instance left"
else
        fail "objects of the killed instance left: $(echo $leaked)"
fi
if wait_for 5 grep -q 'ECONNRESET\|went away' /tmp/t2.err; then
        ok "t2 was told that ipcd went away"
else
        fail "t2 got no error when ipcd was killed: $(inside cat /tmp/t2.err)"
fi

# ------------------------------------------------------------- restart ipcd.socket
# systemd refuses to reuse a FIFO that is not root's (SocketUser=ipcd made
# it ipcd's): the socket must not leave it behind when it stops.
if inside systemctl restart ipcd.socket; then
        ok "systemctl restart ipcd.socket"
else
        inside systemctl status --no-pager ipcd.socket
        inside journalctl -u ipcd.socket --no-pager | tail -5
        fail "systemctl restart ipcd.socket failed"
fi
st=$(inside systemctl show -p ActiveState --value ipcd.socket)
[ "$st" = active ] || fail "ipcd.socket is '$st' after its restart"
st=$(inside stat -c '%F %a %U %G' /run/ipcd/control)
[ "$st" = "fifo 622 ipcd ipcd" ] || fail "/run/ipcd/control after the restart is '$st'"
inside systemctl start ipcd.service || fail "systemctl start ipcd.service after the socket's restart"
# A FIFO that a crash (or an older ipcd.socket, RemoveOnStop=no) left
# behind: the socket starts all the same.
inside systemctl stop ipcd.socket ipcd.service || fail "systemctl stop ipcd.socket ipcd.service"
if inside test -e /run/ipcd/control; then
        fail "systemctl stop ipcd.socket left /run/ipcd/control"
fi
inside sh -c 'mkfifo -m 0622 /run/ipcd/control && chown ipcd:ipcd /run/ipcd/control' ||
        fail "making a stale /run/ipcd/control"
if inside systemctl start ipcd.socket ipcd.service; then
        ok "ipcd.socket starts over a stale FIFO"
else
        inside journalctl -u ipcd.socket --no-pager | tail -5
        fail "ipcd.socket does not start over a stale FIFO"
fi

# ------------------------------------------------------------- stop
start_listener t3 65534 || fail "client t3 could not register after the restart"
inside systemctl stop ipcd.service || fail "systemctl stop ipcd"
left=$(objects)
if [ -z "$left" ]; then
        ok "systemctl stop ipcd left no System V object"
else
        inside ipcs
        fail "systemctl stop ipcd left: $(echo $left)"
fi

# ------------------------------------------------------------- journal
journal=$(inside journalctl -u ipcd.service -o json --no-pager)
# has_msg PRIORITY PATTERN: an entry with that priority whose MESSAGE starts so.
has_msg() { echo "$journal" | grep "\"MESSAGE\":\"$2" | grep -q "\"PRIORITY\":\"$1\""; }
has_msg 6 'ready' && ok "journal: start message at info" ||
        fail "journal: no 'ready...' message at priority 6 (info)"
has_msg 6 'stopped' && ok "journal: stop message at info" ||
        fail "journal: no 'stopped...' message at priority 6 (info)"
has_msg 3 'reload failed' && ok "journal: failed reload at err" ||
        fail "journal: no 'reload failed...' message at priority 3 (err)"
if echo "$journal" | grep -q '"MESSAGE":"\(<[0-7]>\|ipcd: \)'; then
        fail "journal: messages carry '<N>' or 'ipcd:' prefixes: $(echo "$journal" | grep -o '"MESSAGE":"\(<[0-7]>\|ipcd: \)[^"]*"' | head -3)"
fi
echo "$journal" | grep -q '"SYSLOG_IDENTIFIER":"ipcd"' || fail "journal: no SYSLOG_IDENTIFIER=ipcd"

# ------------------------------------------------------------- report
score=$(inside systemd-analyze security --no-pager ipcd.service 2>/dev/null | grep -i 'overall exposure' || true)
log "systemd-analyze security: ${score:-unavailable}"
log "time from systemctl start to READY=1: $t_ready ms"

if [ $failures -gt 0 ]; then
        log "$failures check(s) failed; journal of ipcd:"
        inside journalctl -u ipcd.service -u ipcd.socket --no-pager | tail -60
        exit 1
fi
exit 0
