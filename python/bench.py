#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python rows for the benchmark: round trip and one-way 64-byte messages
through the binding, against pyzmq (ipc:// PAIR sockets) when it is
installed, reported as rates and ratios.  Needs a running ipcd
(IPCD_RUNTIME_DIR); `make bench-python` starts one.

    python3 python/bench.py [SECONDS]
"""
import os
import sys
import threading
import time

import ipcd

SIZE = 64


def ipcd_one_way(seconds):
    rx, tx = ipcd.Client("bench.py.rx"), ipcd.Client("bench.py.tx")
    payload = b"x" * SIZE
    n, done = 0, threading.Event()

    def drain():
        while not done.is_set():
            try:
                rx.recv(timeout=0.2)
            except TimeoutError:
                pass

    t = threading.Thread(target=drain)
    t.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(1000):
            tx.send(rx.name, 1, payload)
        n += 1000
    elapsed = seconds + (time.monotonic() - end)
    done.set()
    t.join()
    rx.close()
    tx.close()
    return n / elapsed


def ipcd_round_trip(seconds):
    a, b = ipcd.Client("bench.py.a"), ipcd.Client("bench.py.b")
    payload = b"x" * SIZE
    stop = threading.Event()

    def echo():
        while not stop.is_set():
            try:
                m = b.recv(timeout=0.2)
            except TimeoutError:
                continue
            b.send(a.name, 1, m.data)

    t = threading.Thread(target=echo)
    t.start()
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        a.send(b.name, 1, payload)
        a.recv()
        n += 1
    stop.set()
    t.join()
    a.close()
    b.close()
    return n / seconds


def zmq_rates(seconds):
    import tempfile
    import zmq
    ctx = zmq.Context()
    d = tempfile.mkdtemp()
    addr = "ipc://" + os.path.join(d, "s")
    s1, s2 = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    s1.bind(addr)
    s2.connect(addr)
    payload = b"x" * SIZE
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        s1.send(payload)
        s2.send(s2.recv())
        s1.recv()
        n += 1
    rt = n / seconds
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(1000):
            s1.send(payload)
            s2.recv()
        n += 1000
    ow = n / seconds
    s1.close(0)
    s2.close(0)
    ctx.term()
    return rt, ow


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    rt, ow = ipcd_round_trip(seconds), ipcd_one_way(seconds)
    print("python ipcd  round trip %d B: %10.0f /s" % (SIZE, rt))
    print("python ipcd  one-way    %d B: %10.0f /s" % (SIZE, ow))
    try:
        zrt, zow = zmq_rates(seconds)
    except ImportError:
        print("pyzmq not installed (python3-zmq): no comparison")
        return
    print("python pyzmq round trip %d B: %10.0f /s   ipcd/pyzmq %.2f" % (SIZE, zrt, rt / zrt))
    print("python pyzmq one-way    %d B: %10.0f /s   ipcd/pyzmq %.2f" % (SIZE, zow, ow / zow))


if __name__ == "__main__":
    main()
