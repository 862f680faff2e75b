# SPDX-License-Identifier: LGPL-2.1-or-later
"""Message.sender_unit is lazy: receiving costs no WHOIS round trip; the
first access asks ipcd once per sender (the library keeps the answer);
it outlives release() of an inline message, not close() of its client,
and a client keeps at most UNIT_HELD_MAX (64) records for it.

The WHOIS requests are counted by the kernel: they go to ipcd's inbound
queue of our uid, whose lspid (/proc/sysvipc/msg) names the last process
that wrote to it.  A sender in a child process writes its messages there;
the queue's lspid turns to our pid only when we ask ipcd something (and
after a receiver's first timed receive, done before counting)."""
import gc
import os
import subprocess
import sys
import textwrap

import pytest

import ipcd

HANG = 30  # seconds: hang guard only

SENDER = textwrap.dedent("""
    import sys, ipcd
    c = ipcd.Client(sys.argv[1])
    print("ready", flush=True)
    for line in sys.stdin:
        c.send(sys.argv[2], 1, line.strip().encode(), ack=True)
        print("sent", flush=True)
    c.close()
""")


def _lspids():
    """{msqid: lspid} of every message queue of our namespace."""
    out = {}
    with open("/proc/sysvipc/msg") as f:
        next(f)
        for line in f:
            v = line.split()
            out[int(v[1])] = int(v[5])
    return out


class Sender:
    def __init__(self, name, dst):
        self.p = subprocess.Popen([sys.executable, "-c", SENDER, name, dst],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def send(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline().strip() == "sent"

    def close(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=HANG) == 0


@pytest.fixture
def sender_and_receiver(uname):
    r = ipcd.Client(uname("r"))
    # A first timed receive tells ipcd (once a session) to raise our
    # semaphore: a write to the inbound queue, done before counting.
    with pytest.raises(TimeoutError):
        r.recv(timeout=0.01)
    s = Sender(uname("s"), r.name)
    yield s, r
    s.close()
    r.close()


def test_lazy_and_cached_per_sender(sender_and_receiver):
    s, r = sender_and_receiver
    me = os.getpid()
    s.send("one")
    inbound = [q for q, pid in _lspids().items() if pid == s.p.pid]
    assert inbound, "no queue written by the sender: %r" % _lspids()

    def asked():
        """Did we write to the inbound queue since the sender last did?"""
        pids = _lspids()
        assert all(pids[q] in (me, s.p.pid) for q in inbound), pids
        return any(pids[q] == me for q in inbound)

    # Received, read, dropped, never asked: no WHOIS.
    s.send("two")
    s.send("three")
    for want in (b"one", b"two", b"three"):
        m = r.recv(timeout=HANG)
        assert m.data == want and m.sender == s.p.args[3]
        del m
    gc.collect()
    assert not asked(), "a WHOIS was sent though sender_unit was never read"

    # The first access asks, once.
    s.send("four")
    m4 = r.recv(timeout=HANG)
    assert not asked()
    unit = m4.sender_unit
    assert isinstance(unit, str)
    assert asked(), "sender_unit did not ask ipcd (the lspid test itself is broken)"
    assert m4.sender_unit == unit  # kept in the message

    # Another message of the same sender: the library's cache answers.
    s.send("five")
    m5 = r.recv(timeout=HANG)
    assert not asked()
    with m5:  # release() of an inline message keeps what sender_unit needs
        pass
    assert m5.sender_unit == unit
    assert not asked(), "a second WHOIS for the same sender"


def test_after_close_and_many_kept(sender_and_receiver):
    s, r = sender_and_receiver
    for i in range(70):
        s.send("m%d" % i)
    kept = [r.recv(timeout=HANG) for _ in range(70)]
    # Past 64 kept unread, the oldest were looked up at receipt: known.
    assert isinstance(kept[0].sender_unit, str)
    unit = kept[0].sender_unit
    s.send("last")
    m = r.recv(timeout=HANG)
    r.close()
    with pytest.raises(ValueError):
        m.sender_unit
    # Those read (or looked up) before close() stay known.
    assert kept[0].sender_unit == unit
    assert all(k.sender_unit == unit for k in kept[:6])
