# SPDX-License-Identifier: LGPL-2.1-or-later
"""The programs in python/examples/ do what their docstrings say."""
import os
import re
import signal
import subprocess
import sys
import time

import ipcd

HANG = 30
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples")
IPCDCTL = os.environ.get("IPCDCTL", "ipcdctl")


def _start(*args):
    return subprocess.Popen([sys.executable, os.path.join(EXAMPLES, args[0])] + list(args[1:]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(p):
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=HANG)
    assert p.returncode == 0, err
    return out


def test_printer(uname):
    name = uname("printer")
    p = _start("printer.py", name)
    try:
        assert p.stdout.readline().startswith("listening as %s " % name)
        r = subprocess.run([IPCDCTL, "send", name, "5", "hi there"], capture_output=True,
                           timeout=HANG)
        assert r.returncode == 0
        line = p.stdout.readline()
        assert re.match(r"type 5 from - \(id \d+, uid %d, pid \d+\): b'hi there'$" % os.getuid(),
                        line), line
    finally:
        _stop(p)


def test_clock_call():
    p = _start("clock.py", "serve")
    try:
        # Wait (hang guard only) until the server has registered its name.
        deadline = time.monotonic() + HANG
        with ipcd.Client() as c:
            while True:
                try:
                    c.call("clock", 1, b"", timeout=HANG).release()
                    break
                except FileNotFoundError:
                    assert time.monotonic() < deadline, "clock.py never registered"
                    time.sleep(0.05)
        r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "clock.py"), "ask"],
                           capture_output=True, text=True, timeout=HANG)
        assert r.returncode == 0, r.stderr
        assert re.fullmatch(r"\d\d:\d\d:\d\d\n", r.stdout)
    finally:
        _stop(p)
