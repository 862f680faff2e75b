#!/bin/sh
# autogen.sh - install what the build needs (Debian, as root), then
# autoreconf and configure.  Arguments are passed to ./configure.
set -e
cd "$(dirname "$0")"

# Debian packages the build, the tests and the benchmark need.
PKGS="build-essential autoconf automake libtool pkgconf libsystemd-dev \
libconfig-dev mandoc clang util-linux procps python3-dev python3-pytest \
debhelper lintian dpkg-dev fakeroot dh-python \
python3-prometheus-client libncurses-dev tmux curl \
libnats-dev nats-server"
# The peers ipcd-bench measures against (optional: missing ones are skipped).
BENCH_PKGS="dbus-broker dbus-daemon libzmq5 python3-zmq gnuplot-nox"
PKGS="$PKGS $BENCH_PKGS"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
        for p in $PKGS; do
                s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
                case "$s" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
        done
fi
if [ -n "$missing" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
                echo "autogen.sh: installing:$missing"
                export DEBIAN_FRONTEND=noninteractive
                apt-get update -qq || true
                apt-get install -y -qq --no-install-recommends $missing
        else
                echo "autogen.sh: missing packages:$missing" >&2
                echo "autogen.sh: run as root:  apt-get install$missing" >&2
                exit 1
        fi
fi

mkdir -p m4
autoreconf -fi
if [ -z "$NOCONFIGURE" ]; then
        ./configure "$@"
fi
