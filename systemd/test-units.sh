#!/bin/sh
# systemd/test-units.sh - the units pass `systemd-analyze verify`, and the
# sysusers.d and tmpfiles.d snippets create the ipcd user and /run/ipcd
# with the right modes (in a scratch root).  Exit 77 without systemd-analyze.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
service=$top_builddir/systemd/ipcd.service
socket=$top_srcdir/systemd/ipcd.socket

command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: no systemd-analyze"; exit 77; }
[ -f "$service" ] || { echo "FAIL: $service not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

# verify needs ExecStart= to exist: point the copy at the built daemon, or
# at /bin/true while it is not built yet (everything else is still checked).
exe=${IPCD:-}
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
        echo "note: ipcd not built; ExecStart= checked with /bin/true"
        exe=/bin/true
fi
grep -q '^ExecStart=/.*/ipcd$' "$service" || { echo "FAIL: ExecStart= not substituted:"; grep ExecStart "$service"; fail=1; }
sed "s|^ExecStart=.*|ExecStart=$exe|" "$service" >"$tmp/ipcd.service"
cp "$socket" "$tmp/ipcd.socket"
# The metrics endpoint: ipcdctl metrics --http per connection.
metrics=$top_builddir/systemd/ipcd-metrics@.service
[ -f "$metrics" ] || { echo "FAIL: $metrics not built"; exit 1; }
grep -q '^ExecStart=/.*/ipcdctl metrics --http$' "$metrics" ||
        { echo "FAIL: ExecStart= of ipcd-metrics@.service:"; grep ExecStart "$metrics"; fail=1; }
ctlexe=${IPCDCTL:-}
if [ -z "$ctlexe" ] || [ ! -x "$ctlexe" ]; then
        ctlexe=/bin/true
fi
sed "s|^ExecStart=.*|ExecStart=$ctlexe metrics --http|" "$metrics" >"$tmp/ipcd-metrics@.service"
cp "$top_srcdir/systemd/ipcd-metrics.socket" "$tmp/ipcd-metrics.socket"

# The design forbids these (ipcd(8), ipcd.service.in).
for bad in PrivateIPC PrivateUsers DynamicUser RuntimeDirectory ProcSubset; do
        if grep -q "^$bad=" "$service"; then echo "FAIL: $bad= in ipcd.service"; fail=1; fi
done

# ipcd-bridge.service, where built (--with-nats)
bridge=$top_builddir/systemd/ipcd-bridge.service
units=""
if [ -f "$bridge" ]; then
        grep -q '^ExecStart=/.*/ipcd-bridge$' "$bridge" ||
                { echo "FAIL: ExecStart= of ipcd-bridge.service:"; grep ExecStart "$bridge"; fail=1; }
        grep -q '^PrivateIPC=' "$bridge" && { echo "FAIL: PrivateIPC= in ipcd-bridge.service"; fail=1; }
        bexe=$top_builddir/src/bridge/ipcd-bridge
        [ -x "$bexe" ] || bexe=/bin/true
        sed "s|^ExecStart=.*|ExecStart=$bexe|" "$bridge" >"$tmp/ipcd-bridge.service"
        units="$tmp/ipcd-bridge.service"
fi
out=$(cd "$tmp" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no \
        "$tmp/ipcd.service" "$tmp/ipcd.socket" "$tmp/ipcd-metrics.socket" \
        "$tmp/ipcd-metrics@.service" $units 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
        echo "FAIL: systemd-analyze verify (exit $rc):"
        echo "$out"
        fail=1
else
        echo "ok: systemd-analyze verify ipcd.service ipcd.socket ipcd-metrics.socket ipcd-metrics@.service${units:+ ipcd-bridge.service}"
fi

# sysusers.d + tmpfiles.d in a scratch root (needs root for the chown).
if [ "$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null 2>&1 &&
   command -v systemd-tmpfiles >/dev/null 2>&1; then
        root=$tmp/root
        mkdir -p "$root/etc"
        if ! systemd-sysusers --root="$root" "$top_srcdir/systemd/ipcd.sysusers" >"$tmp/log" 2>&1; then
                echo "FAIL: systemd-sysusers:"; cat "$tmp/log"; fail=1
        fi
        uid=$(awk -F: '$1 == "ipcd" { print $3 }' "$root/etc/passwd")
        gid=$(awk -F: '$1 == "ipcd" { print $3 }' "$root/etc/group")
        [ -n "$uid" ] && [ -n "$gid" ] || { echo "FAIL: no ipcd user/group created"; fail=1; }
        if ! systemd-tmpfiles --root="$root" --create "$top_srcdir/systemd/ipcd.tmpfiles" >"$tmp/log" 2>&1; then
                echo "FAIL: systemd-tmpfiles:"; cat "$tmp/log"; fail=1
        fi
        for d in "run/ipcd 755" "run/ipcd/clients 1733"; do
                set -- $d
                got=$(stat -c '%a %u %g' "$root/$1" 2>/dev/null)
                if [ "$got" != "$2 $uid $gid" ]; then
                        echo "FAIL: /$1 is '$got', want '$2 $uid $gid'"; fail=1
                fi
        done
        [ $fail -eq 0 ] && echo "ok: sysusers.d and tmpfiles.d snippets"
else
        echo "note: not root or no systemd-sysusers/tmpfiles: snippets not exercised"
fi
exit $fail
