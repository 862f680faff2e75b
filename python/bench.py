#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench.py - the Python rows of ipcd-bench (section 8, "Python binding").

ipcd-bench runs this against the ipcd it started, once per mode, and
folds what it prints into its report and CSV next to the C ipcd rows of
the same run; `make bench-python` is `ipcd-bench --only python`.

    bench.py [--reps N] [--time SEC] [--warm SEC] [--cpu N] [--tests rtt,oneway]

Needs IPCD_RUNTIME_DIR (the ipcd to use) and the ipcd package on
PYTHONPATH.  Every measurement runs between two fresh processes, A (this
one) and B (a fork), 64-byte payloads, through the binding and through
pyzmq (python3-zmq) if it is installed:

  rtt     A sends, B answers with the same payload, A times each round
          trip; one line per repetition with its median in microseconds.
          ipcd: by name through the broker, Client.send/Client.recv;
          pyzmq: PAIR sockets over ipc://.
  oneway  A sends as fast as the transport accepts for --time seconds
          after a marker, then an end marker; rate = messages B received
          between the markers / (B's time of the end marker - A's start).
          ipcd: Client.send (flow control holds A back, nothing is
          dropped), markers with ack=True; pyzmq: PUSH/PULL over ipc://.

Each repetition comes after a warm-up of --warm seconds (not counted) and
repetitions are interleaved between transports.  Output, one line each:

  info KEY VALUE...                  python and pyzmq versions
  skip TRANSPORT REASON...           not measured, and why
  rtt TRANSPORT MEDIAN_US
  oneway TRANSPORT RATE SENT RECEIVED
  fail TEST TRANSPORT REASON...      one repetition failed
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

# The package comes from PYTHONPATH (the build tree's, with the extension
# module), not from the directory of this script that Python put first: in
# a VPATH build that is the source tree's python/, which has no module (in
# a build in the tree, PYTHONPATH names the same directory again).
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

SIZE = 64
T_DATA, T_START, T_END, T_QUIT = 1, 2, 3, 4
PEER_TIMEOUT = 10.0  # seconds a side waits for the other before giving up


def emit(*words):
    print(*words, flush=True)


class Pair:
    """B, forked and ready (it wrote its ready byte); results come back on
    a pipe, one line."""

    def __init__(self, body):
        ready_r, ready_w = os.pipe()
        res_r, res_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(ready_r)
            os.close(res_r)
            code = 0
            try:
                body(lambda: os.write(ready_w, b"R"),
                     lambda line: os.write(res_w, line.encode() + b"\n"))
            except BaseException as e:  # report, never run A's code
                try:
                    os.write(res_w, ("error %s: %s\n" % (type(e).__name__, e)).encode())
                except OSError:
                    pass
                code = 1
            os._exit(code)
        os.close(ready_w)
        os.close(res_w)
        self.res = os.fdopen(res_r)
        ch = os.read(ready_r, 1)
        os.close(ready_r)
        if ch != b"R":
            raise RuntimeError("B failed: %s" % self.res.read().strip())

    def result(self):
        return self.res.readline().strip()

    def finish(self):
        line = self.res.read().strip()
        self.res.close()
        _, st = os.waitpid(self.pid, 0)
        if st != 0:
            raise RuntimeError("B failed: %s" % (line or "exit status %d" % st))


def median_us(samples):
    return statistics.median(samples) / 1000.0


def timed_loop(rep_s, warm_s, once):
    """Run once() for warm_s, then for rep_s timing each call (ns)."""
    end = time.monotonic() + warm_s
    while time.monotonic() < end:
        once()
    samples = []
    clock = time.perf_counter_ns
    end = time.monotonic() + rep_s
    while time.monotonic() < end:
        t0 = clock()
        once()
        samples.append(clock() - t0)
    return samples


# ---------------------------------------------------------------- ipcd

def ipcd_rtt(args, seq):
    import ipcd

    a_name, b_name = "py.a.%d" % seq, "py.b.%d" % seq

    def b_side(ready, report):
        with ipcd.Client(b_name) as c:
            ready()
            while True:
                m = c.recv(timeout=PEER_TIMEOUT)
                if m.type == T_QUIT:
                    return
                c.send(a_name, T_DATA, m.data)

    with ipcd.Client(a_name) as c:
        pair = Pair(b_side)
        payload = b"x" * SIZE

        def once():
            c.send(b_name, T_DATA, payload)
            c.recv(timeout=PEER_TIMEOUT)

        samples = timed_loop(args.time, args.warm, once)
        c.send(b_name, T_QUIT, b"", ack=True)
        pair.finish()
    return median_us(samples)


def ipcd_oneway(args, seq):
    import ipcd

    a_name, b_name = "py.a.%d" % seq, "py.b.%d" % seq

    def b_side(ready, report):
        with ipcd.Client(b_name) as c:
            ready()
            counting, n = False, 0
            while True:
                m = c.recv(timeout=PEER_TIMEOUT)
                if m.type == T_DATA:
                    n += counting
                elif m.type == T_START:
                    counting = True
                elif m.type == T_END:
                    report("%d %.9f" % (n, time.monotonic()))
                    return

    with ipcd.Client(a_name) as c:
        pair = Pair(b_side)
        payload = b"x" * SIZE
        send = c.send
        end = time.monotonic() + args.warm
        while time.monotonic() < end:
            for _ in range(64):
                send(b_name, T_DATA, payload)
        send(b_name, T_START, b"", ack=True)
        sent, t0 = 0, time.monotonic()
        end = t0 + args.time
        while time.monotonic() < end:
            for _ in range(64):
                send(b_name, T_DATA, payload)
            sent += 64
        send(b_name, T_END, b"", ack=True)
        n, t_end = pair.result().split()
        pair.finish()
    n = int(n)
    return n / (float(t_end) - t0), sent, n


# ---------------------------------------------------------------- pyzmq

def zmq_rtt(args, seq):
    import zmq

    d = tempfile.mkdtemp(prefix="bench-py.")
    addr = "ipc://" + os.path.join(d, "s")

    def b_side(ready, report):
        ctx = zmq.Context()
        s = ctx.socket(zmq.PAIR)
        s.setsockopt(zmq.RCVTIMEO, int(PEER_TIMEOUT * 1000))
        s.bind(addr)
        ready()
        while True:
            m = s.recv()
            if m[:1] == b"Q":
                break
            s.send(m)
        s.close(0)
        ctx.term()

    try:
        pair = Pair(b_side)
        ctx = zmq.Context()
        s = ctx.socket(zmq.PAIR)
        s.setsockopt(zmq.RCVTIMEO, int(PEER_TIMEOUT * 1000))
        s.connect(addr)
        payload = b"x" * SIZE

        def once():
            s.send(payload)
            s.recv()

        samples = timed_loop(args.time, args.warm, once)
        s.send(b"Q")
        pair.finish()
        s.close(0)
        ctx.term()
    finally:
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)
    return median_us(samples)


def zmq_oneway(args, seq):
    import zmq

    d = tempfile.mkdtemp(prefix="bench-py.")
    addr = "ipc://" + os.path.join(d, "s")

    def b_side(ready, report):
        ctx = zmq.Context()
        s = ctx.socket(zmq.PULL)
        s.setsockopt(zmq.RCVTIMEO, int(PEER_TIMEOUT * 1000))
        s.bind(addr)
        ready()
        counting, n = False, 0
        while True:
            m = s.recv()
            k = m[:1]
            if k == b"D":
                n += counting
            elif k == b"S":
                counting = True
            elif k == b"E":
                report("%d %.9f" % (n, time.monotonic()))
                break
        s.close(0)
        ctx.term()

    try:
        pair = Pair(b_side)
        ctx = zmq.Context()
        s = ctx.socket(zmq.PUSH)
        s.connect(addr)
        payload = b"D" * SIZE
        send = s.send
        end = time.monotonic() + args.warm
        while time.monotonic() < end:
            for _ in range(64):
                send(payload)
        send(b"S" * SIZE)
        sent, t0 = 0, time.monotonic()
        end = t0 + args.time
        while time.monotonic() < end:
            for _ in range(64):
                send(payload)
            sent += 64
        send(b"E" * SIZE)
        n, t_end = pair.result().split()
        pair.finish()
        s.close()  # linger: what was queued still goes
        ctx.term()
    finally:
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)
    n = int(n)
    return n / (float(t_end) - t0), sent, n


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description="The Python rows of ipcd-bench.")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--time", type=float, default=0.5)
    p.add_argument("--warm", type=float, default=0.3)
    p.add_argument("--cpu", type=int, default=None, help="pin A and B to this CPU")
    p.add_argument("--tests", default="rtt,oneway")
    args = p.parse_args()
    tests = args.tests.split(",")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    emit("info python", "%d.%d.%d" % sys.version_info[:3])
    transports = []
    try:
        import ipcd
        emit("info ipcd", ipcd.__version__)
        transports.append(("ipcd", {"rtt": ipcd_rtt, "oneway": ipcd_oneway}))
    except ImportError as e:
        emit("skip ipcd", "the binding is not built or not importable:", e)
    try:
        import zmq
        emit("info pyzmq", zmq.pyzmq_version(), "libzmq", zmq.zmq_version())
        transports.append(("pyzmq", {"rtt": zmq_rtt, "oneway": zmq_oneway}))
    except ImportError as e:
        emit("skip pyzmq", "not installed (Debian: python3-zmq):", e)

    seq = 0
    for _ in range(args.reps):
        for test in tests:
            for name, fns in transports:
                seq += 1
                try:
                    r = fns[test](args, seq)
                except Exception as e:
                    emit("fail", test, name, "%s: %s" % (type(e).__name__, e))
                    continue
                if test == "rtt":
                    emit("rtt", name, "%.3f" % r)
                else:
                    emit("oneway", name, "%.1f" % r[0], r[1], r[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
