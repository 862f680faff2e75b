#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/test-deb.sh - the Debian packages (debian/), end to end (issue 15).
#
# Builds the .debs with `dpkg-buildpackage -us -uc -b` out of a
# `make distdir` copy of the source (the work tree stays clean), twice: as
# they are, and with a higher version (the copy's changelog edited) for the
# upgrade.  Then:
#   - lintian: no error and no warning that debian/*.lintian-overrides does
#     not justify; prints its output and the package sizes;
#   - libipcd-client-dev: a client compiled on the host with its header and
#     pkg-config file only (the packages unpacked, nothing installed);
#   - in a real systemd (tests/systemd-sandbox): `apt-get install ./*.deb`
#     creates the ipcd user and /run/ipcd, enables and starts ipcd.socket
#     and ipcd.service (ipcd under systemd, User=ipcd); `ipcdctl status`
#     works as an unprivileged user; two uids exchange a message; the
#     compiled client runs against the installed library, and a Python
#     client (python3-ipcd) as well;
#   - upgrade to the higher version while a client is connected: the
#     postinst's `ipcdctl reexec` makes ipcd execute the new binary (same
#     main pid, the version it reports is the new one), the client notices
#     nothing and still receives, a new client registers and receives;
#   - `apt-get remove`: ipcd stopped, no process, no System V object, no
#     /run/ipcd, the conffile kept; `apt-get purge`: no package, no file,
#     no unit, no enablement symlink, no /etc/ipcd left (the ipcd system
#     user stays, as Debian policy keeps system users).
#
# Exit 77 where it cannot run: no dpkg-buildpackage, debhelper or lintian,
# not root, the sandbox cannot boot, or inside a package build (a package
# built with its tests would build itself again).
#
# Environment: top_builddir, top_srcdir (AM_TESTS_ENVIRONMENT);
# optional SYSD_SANDBOX_* (see tests/systemd-sandbox),
# IPCD_TEST_KEEP_SANDBOX=1 to leave the sandbox and the build directory
# for inspection.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
SBX=$top_srcdir/tests/systemd-sandbox
NAME=ipcd-deb-$$
T=test-deb

log() { echo "$T: $*"; }
failures=0
fail() { log "FAIL: $*"; failures=$((failures + 1)); }
ok() { log "ok: $*"; }
die() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; exit 77; }

[ -z "${DEB_RULES_REQUIRES_ROOT:-}" ] || skip "inside a package build"
command -v dpkg-buildpackage >/dev/null || skip "no dpkg-buildpackage (apt-get install dpkg-dev)"
command -v dh >/dev/null || skip "no debhelper (apt-get install debhelper)"
command -v lintian >/dev/null || skip "no lintian (apt-get install lintian)"
[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn)"
[ -x "$SBX" ] || die "no $SBX"
[ -f "$top_builddir/Makefile" ] || die "no build tree at $top_builddir"
[ -f "$top_srcdir/debian/control" ] || die "no debian/ in $top_srcdir"

umask 022
work=$(mktemp -d "${TMPDIR:-/tmp}/ipcd-deb.XXXXXX") || die "mktemp"
chmod 755 "$work"
booted=0
cleanup() {
        if [ "${IPCD_TEST_KEEP_SANDBOX:-0}" = 1 ]; then
                log "left for inspection: $work"
                [ $booted = 1 ] && log "sandbox left running: $SBX -n $NAME exec ...; $SBX -n $NAME down"
                return
        fi
        [ $booted = 1 ] && "$SBX" -n "$NAME" down >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ------------------------------------------------------------- boot
# First, so that a machine where the sandbox cannot boot skips before
# building anything.
sbx() { "$SBX" -n "$NAME" "$@"; }
inside() { timeout 180 "$SBX" -n "$NAME" exec "$@"; }
as_uid() { local u=$1; shift; inside setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
wait_for() {  # wait_for SECONDS CMD...: until CMD succeeds inside the container
        local n=$(( $1 * 10 )); shift
        while [ $n -gt 0 ]; do
                inside "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
                n=$((n - 1))
        done
        return 1
}
# The packages' run-time dependencies beyond the sandbox's base (as in
# test-systemd.sh, plus python3): apt-get then
# installs the local .debs without a mirror.
# python3 for python3-ipcd: a rootfs of its own (built once, then cached).
export SYSD_SANDBOX_PACKAGES=${SYSD_SANDBOX_PACKAGES:+$SYSD_SANDBOX_PACKAGES,}libconfig9,python3
if ! sbx up; then
        log "the sandbox did not boot; trying once more"
        sbx down >/dev/null 2>&1 || true
        sleep 2
        sbx up || skip "the systemd sandbox cannot boot here (see above)"
fi
booted=1

# ------------------------------------------------------------- build
# build DIR: the source copied into DIR/src, the .debs into DIR.
build() {
        local dir=$1 src=$1/src
        mkdir -p "$dir"
        if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
                make -C "$top_builddir" distdir distdir="$src" >"$dir/distdir.log" 2>&1; then
                tail -20 "$dir/distdir.log"
                return 1
        fi
        chmod -R u+w "$src"
        if [ -n "${2:-}" ]; then
                sed -i "1s/(\([^)]*\))/(\1$2)/" "$src/debian/changelog"
        fi
        if ! (cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
                DEB_BUILD_OPTIONS="nocheck parallel=2" \
                dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1; then
                tail -40 "$dir/build.log"
                return 1
        fi
}
version_of() { dpkg-deb -f "$1" Version; }

t0=$(date +%s)
build "$work/v1" || die "dpkg-buildpackage (first version) failed"
v1=$(version_of "$work"/v1/ipcd_*.deb)
log "built $v1 in $(( $(date +%s) - t0 )) s"
for p in ipcd libipcd-client0 libipcd-client-dev python3-ipcd; do
        ls "$work"/v1/${p}_*.deb >/dev/null 2>&1 || fail "no package $p was built"
done
log "package sizes (bytes, .deb / installed KiB):"
for d in "$work"/v1/*.deb; do
        printf '%s:   %8s  %6s KiB  %s\n' "$T" "$(stat -c %s "$d")" \
                "$(dpkg-deb -f "$d" Installed-Size)" "$(basename "$d")"
done

# ------------------------------------------------------------- lintian
# --pedantic -I: show everything; only errors and warnings count.
lint=$(lintian -I --pedantic --tag-display-limit 0 "$work"/v1/*.changes 2>&1 |
        grep -v 'running with root privileges is not recommended')
log "lintian output (${#lint} bytes):"
[ -z "$lint" ] || echo "$lint" | sed "s/^/$T:   /"
bad=$(echo "$lint" | grep '^[EW]: ' || true)
[ -z "$bad" ] && ok "lintian: no error, no unjustified warning" ||
        fail "lintian reports errors or warnings: $bad"

# ------------------------------------------------------------- -dev on the host
# A client built from the unpacked -dev and library packages alone.
dev=$work/dev
mkdir -p "$dev/root"
for d in "$work"/v1/libipcd-client0_*.deb "$work"/v1/libipcd-client-dev_*.deb; do
        dpkg-deb -x "$d" "$dev/root"
done
pc=$(find "$dev/root" -name libipcd-client.pc -print -quit)
[ -n "$pc" ] || fail "libipcd-client-dev has no libipcd-client.pc"
[ -e "$dev/root/usr/share/man/man3/libipcd-client.3.gz" ] || fail "libipcd-client-dev has no libipcd-client(3)"
cat >"$dev/client.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <ipcd.h>

/* Registers argv[1], sends argv[2] to itself, prints what came back. */
int main(int argc, char **argv)
{
        ipcd_client *c;
        ipcd_msg m;
        int r;

        if (argc != 3)
                return 2;
        r = ipcd_connect(argv[1], &c);
        if (r < 0) {
                fprintf(stderr, "ipcd_connect: %s\n", strerror(-r));
                return 1;
        }
        r = ipcd_send(c, argv[1], 42, argv[2], strlen(argv[2]), 0);
        if (r >= 0)
                r = ipcd_recv(c, &m, 0, 10000);
        if (r < 0) {
                fprintf(stderr, "send/recv: %s\n", strerror(-r));
                ipcd_close(c);
                return 1;
        }
        printf("%ld %.*s %s\n", m.type, (int)m.len, (const char *)m.data, m.sender);
        ipcd_msg_release(c, &m);
        ipcd_close(c);
        return 0;
}
EOF
if [ -n "$pc" ] && cc -o "$dev/client" "$dev/client.c" \
        $(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dev/root \
          pkg-config --cflags --libs libipcd-client) 2>"$dev/cc.log"; then
        ok "a client compiles and links with libipcd-client-dev's header and pkg-config file"
else
        cat "$dev/cc.log"
        fail "a client does not compile with libipcd-client-dev"
fi

# ------------------------------------------------------------- second version
v2_suffix=+upgradetest1
t0=$(date +%s)
build "$work/v2" "$v2_suffix" || die "dpkg-buildpackage (higher version) failed"
v2=$(version_of "$work"/v2/ipcd_*.deb)
dpkg --compare-versions "$v2" gt "$v1" || die "rebuilt version $v2 is not higher than $v1"
log "built $v2 in $(( $(date +%s) - t0 )) s"

inside sh -c '! dpkg-query -W ipcd >/dev/null 2>&1' || die "the sandbox already has ipcd installed"
inside mkdir -p /tmp/v1 /tmp/v2
for d in "$work"/v1/*.deb; do case "$d" in *-dbgsym_*) continue ;; esac; sbx copy "$d" /tmp/v1/; done
for d in "$work"/v2/*.deb; do case "$d" in *-dbgsym_*) continue ;; esac; sbx copy "$d" /tmp/v2/; done
sbx copy "$dev/client" /tmp/client

apt_install() {  # apt_install DIR: every .deb in DIR
        inside sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y \
                -o Dpkg::Options::=--force-confnew $1/*.deb" >"$work/apt.log" 2>&1
}
objects() {  # every System V object in the container, one per line
        inside sh -c 'for f in msg sem shm; do tail -n +2 /proc/sysvipc/$f | awk -v t=$f "{ print t \" \" \$2 }"; done'
}
# start_listener NAME UID: `ipcdctl --json listen NAME` in the background.
start_listener() {
        inside sh -c "setpriv --reuid=$2 --regid=$2 --clear-groups ipcdctl --json listen $1 \
                >/tmp/$1.out 2>/tmp/$1.err </dev/null & echo \$! >/tmp/$1.pid"
        if ! wait_for 15 grep -q '"listening"' "/tmp/$1.out"; then
                inside sh -c "cat /tmp/$1.out /tmp/$1.err"
                return 1
        fi
}
# exchange NAME TEXT: uid 1 sends TEXT to listener NAME, which receives it.
exchange() {
        as_uid 1 ipcdctl send "$1" 7 "$2" || return 1
        wait_for 10 grep -q "\"data\":\"$2\"" "/tmp/$1.out"
}
unit() { inside systemctl show -p "$2" --value "$1"; }

# ------------------------------------------------------------- install
if apt_install /tmp/v1; then
        ok "apt-get install ./*.deb ($v1)"
else
        cat "$work/apt.log"
        die "apt-get install of $v1 failed"
fi
inside getent passwd ipcd >/dev/null && ok "the ipcd system user exists" || fail "no ipcd user after install"
st=$(inside stat -c '%a %U %G' /run/ipcd/clients 2>&1)
[ "$st" = "1733 ipcd ipcd" ] || fail "/run/ipcd/clients is '$st', want '1733 ipcd ipcd'"
for u in ipcd.socket ipcd.service; do
        e=$(inside systemctl is-enabled "$u" 2>&1)
        [ "$e" = enabled ] || fail "$u is '$e' after install, want enabled"
done
wait_for 15 systemctl is-active --quiet ipcd.service || true
st=$(unit ipcd.service ActiveState); sk=$(unit ipcd.socket ActiveState)
pid1=$(unit ipcd.service MainPID)
user=$(inside ps -o user= -p "$pid1" 2>/dev/null | tr -d ' ')
if [ "$st" = active ] && [ "$sk" = active ] && [ "$user" = ipcd ]; then
        ok "after install ipcd.socket and ipcd.service are active; ipcd runs as pid $pid1, user ipcd"
else
        inside systemctl status --no-pager ipcd.service ipcd.socket
        fail "after install: service '$st', socket '$sk', main pid '$pid1' of user '$user'"
fi
if out=$(as_uid 65534 ipcdctl status 2>&1); then
        ok "ipcdctl status as uid 65534"
else
        echo "$out"
        fail "ipcdctl status as uid 65534"
fi
if out=$(inside /tmp/client devcheck hello-dev 2>&1) && [ "$out" = "42 hello-dev devcheck" ]; then
        ok "the client built with libipcd-client-dev runs against the installed libipcd-client0"
else
        fail "the client built with libipcd-client-dev: '$out'"
fi

out=$(as_uid 65534 python3 -c '
import ipcd
with ipcd.Client("py1") as c:
    c.send("py1", 5, b"hello-py")
    m = c.recv(timeout=10)
    print(m.type, bytes(m.data).decode(), m.sender, m.sender_uid)
' 2>&1)
if [ "$out" = "5 hello-py py1 65534" ]; then
        ok "a Python client (python3-ipcd, uid 65534) sends and receives"
else
        fail "the Python client: '$out'"
fi

# ------------------------------------------------------------- upgrade, a client connected
if start_listener c1 65534 && exchange c1 before-upgrade; then
        ok "client c1 (uid 65534) connected, received a message from uid 1"
else
        fail "client c1 could not register or receive before the upgrade"
fi
old_objects=$(objects)
if apt_install /tmp/v2; then
        ok "apt-get install: upgraded $v1 -> $v2 with c1 connected"
else
        cat "$work/apt.log"
        fail "apt-get install of $v2 failed"
fi
got=$(inside dpkg-query -W -f '${Version} ${db:Status-Abbrev}\n' ipcd libipcd-client0 libipcd-client-dev python3-ipcd 2>&1)
[ "$(echo "$got" | grep -c "^$v2 ii")" = 4 ] || fail "after the upgrade dpkg has: $got"
wait_for 15 systemctl is-active --quiet ipcd.service || true
st=$(unit ipcd.service ActiveState); pid2=$(unit ipcd.service MainPID)
sk=$(unit ipcd.socket ActiveState)
[ "$sk" = active ] || fail "ipcd.socket is '$sk' after the upgrade"
for u in ipcd.socket ipcd.service; do
        e=$(inside systemctl is-enabled "$u" 2>&1)
        [ "$e" = enabled ] || fail "$u is '$e' after the upgrade, want enabled"
done
# The postinst re-executes ipcd (debian/ipcd.postinst): same pid, new binary.
# The old binary was replaced: an ipcd still running it shows
# "/usr/sbin/ipcd (deleted)" as its /proc/PID/exe.
ver=$(inside readlink "/proc/$pid2/exe" 2>&1)
if [ "$st" = active ] && [ "$pid2" = "$pid1" ] && [ "$ver" = /usr/sbin/ipcd ]; then
        ok "the upgrade re-executed ipcd (pid $pid1 kept, running $ver)"
else
        inside systemctl status --no-pager ipcd.service
        fail "after the upgrade: ipcd.service '$st', main pid '$pid2' (was $pid1), exe '$ver'"
fi
if grep -q 'ECONNRESET\|went away' <(inside cat /tmp/c1.err); then
        fail "c1 noticed the upgrade: $(inside cat /tmp/c1.err)"
elif exchange c1 after-upgrade; then
        ok "c1 noticed nothing and still receives"
else
        fail "c1 does not receive after the upgrade"
fi
gone=$(comm -23 <(echo "$old_objects" | sort) <(objects | sort) | grep . || true)
[ -z "$gone" ] && ok "every System V object of before the upgrade is still there" ||
        fail "objects gone at the upgrade: $(echo $gone)"
if start_listener c2 65534 && exchange c2 after-upgrade; then
        ok "after the upgrade client c2 registers and receives"
else
        fail "after the upgrade client c2 could not register or receive"
fi

# ------------------------------------------------------------- remove
inside sh -c 'kill $(cat /tmp/c2.pid)' 2>/dev/null
if inside sh -c 'DEBIAN_FRONTEND=noninteractive apt-get remove -y ipcd libipcd-client0 libipcd-client-dev python3-ipcd' \
        >"$work/apt.log" 2>&1; then
        ok "apt-get remove"
else
        cat "$work/apt.log"
        fail "apt-get remove failed"
fi
st=$(unit ipcd.service ActiveState); sk=$(unit ipcd.socket ActiveState)
[ "$st" = inactive ] && [ "$sk" = inactive ] && ok "removal stopped ipcd.service and ipcd.socket" ||
        fail "after removal: service '$st', socket '$sk'"
inside pgrep -x ipcd >/dev/null && fail "an ipcd process is left after removal: $(inside pgrep -a -x ipcd)"
left=$(objects)
[ -z "$left" ] && ok "no System V object after removal" || fail "System V objects after removal: $(echo $left)"
inside test -e /run/ipcd && fail "/run/ipcd is left after removal: $(inside ls -la /run/ipcd)"
inside test -f /etc/ipcd/ipcd.conf && ok "removal keeps the conffile /etc/ipcd/ipcd.conf" ||
        fail "removal deleted /etc/ipcd/ipcd.conf (only purge may)"

# ------------------------------------------------------------- purge
# Only ipcd is left to purge (state rc: its conffile); the others have
# no conffile and are gone with the removal (apt has no package lists
# here to find them by name).
if inside sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y ipcd' \
        >"$work/apt.log" 2>&1; then
        ok "apt-get purge"
else
        cat "$work/apt.log"
        fail "apt-get purge failed"
fi
got=$(inside sh -c 'dpkg-query -W -f "\${Package} \${db:Status-Abbrev}\n" ipcd libipcd-client0 libipcd-client-dev python3-ipcd 2>/dev/null' | grep -v ' un *$' || true)
[ -z "$got" ] || fail "dpkg still knows after purge: $got"
files=$(inside sh -c 'ls -d /etc/ipcd /run/ipcd /lib/systemd/system/ipcd.* /usr/lib/systemd/system/ipcd.* \
        /etc/systemd/system/*/ipcd.* /var/lib/systemd/deb-systemd-helper-enabled/ipcd.* \
        /var/lib/systemd/deb-systemd-helper-enabled/*/ipcd.* /usr/lib/sysusers.d/ipcd.conf \
        /usr/lib/tmpfiles.d/ipcd.conf /usr/sbin/ipcd /usr/bin/ipcdctl /usr/include/ipcd.h \
        /usr/lib/*/libipcd-client* /usr/share/doc/ipcd /usr/share/doc/libipcd-client* \
        /usr/lib/python3/dist-packages/ipcd /usr/share/doc/python3-ipcd 2>/dev/null' || true)
[ -z "$files" ] && ok "purge left no file of the packages, no unit, no enablement symlink" ||
        fail "left after purge: $(echo $files)"
inside systemctl daemon-reload
for u in ipcd.service ipcd.socket; do
        ls=$(unit "$u" LoadState)
        [ "$ls" = not-found ] || fail "$u is '$ls' to systemd after purge, want not-found"
done
left=$(objects)
[ -z "$left" ] || fail "System V objects after purge: $(echo $left)"
inside getent passwd ipcd >/dev/null && log "the ipcd system user stays after purge (Debian policy keeps system users)"

if [ $failures -gt 0 ]; then
        log "$failures check(s) failed; journal of ipcd:"
        inside journalctl -u ipcd.service -u ipcd.socket --no-pager | tail -60
        exit 1
fi
exit 0
