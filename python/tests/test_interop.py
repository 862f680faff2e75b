# SPDX-License-Identifier: LGPL-2.1-or-later
"""Interop with the C client (ipcdctl send / listen): types, payloads and
identity as ipcd stamps them, both ways."""
import json
import os
import subprocess

import ipcd

HANG = 30
IPCDCTL = os.environ.get("IPCDCTL", "ipcdctl")


def test_c_sender_python_receiver(uname):
    with ipcd.Client(uname("pyrx")) as rx:
        p = subprocess.run([IPCDCTL, "send", rx.name, "17", "from C"],
                           capture_output=True, text=True, timeout=HANG)
        assert p.returncode == 0, p.stderr
        m = rx.recv(timeout=HANG)
        assert (m.type, m.data) == (17, b"from C")
        assert m.sender is None            # ipcdctl sends anonymously
        assert m.sender_uid == os.getuid()
        assert m.sender_pid != os.getpid() and m.sender_pid > 0
        assert m.sender_id > 0 and m.sender_id != rx.id


def test_python_sender_c_receiver(uname):
    name = uname("ctlrx")
    p = subprocess.Popen([IPCDCTL, "--json", "listen", name],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(p.stdout.readline())
        assert first["event"] == "listening" and first["name"] == name
        with ipcd.Client(uname("pytx")) as tx:
            tx.send(name, 23, b"to C", ack=True)
            big = b"B" * (tx.max_inline + 10)
            tx.send(name, 24, big, ack=True)
            ev = json.loads(p.stdout.readline())
            assert ev["event"] == "message"
            assert (ev["type"], ev["data"], ev["len"]) == (23, "to C", 4)
            assert ev["sender"] == tx.name and ev["sender_id"] == tx.id
            assert ev["sender_uid"] == os.getuid() and ev["sender_pid"] == os.getpid()
            ev = json.loads(p.stdout.readline())
            assert ev["type"] == 24 and ev["bulk"] is True and ev["len"] == len(big)
            assert ev["data"] == big.decode()
    finally:
        p.terminate()
        p.communicate(timeout=HANG)
    assert p.returncode == 0
