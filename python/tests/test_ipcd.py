# SPDX-License-Identifier: LGPL-2.1-or-later
"""The binding's calls against a real ipcd: messages, identity, errors,
timeouts, topics, calls, monitor, fileno, threads, Ctrl-C."""
import errno
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import ipcd

HANG = 30  # seconds: hang guard only, never asserted as a duration


def test_connect_identity(uname, rundir):
    name = uname()
    with ipcd.Client(name) as c:
        assert c.name == name
        assert c.id > 0
        assert c.max_inline > 1000
        assert not c.closed
        assert name in repr(c)
    assert c.closed
    with ipcd.Client() as anon:
        assert anon.name is None
    with ipcd.Client(uname(), runtime_dir=rundir) as c2:
        assert c2.id > 0


def test_send_recv_fields(pair):
    a, b = pair
    a.send(b.name, 7, b"hello")
    m = b.recv(timeout=HANG)
    assert isinstance(m, ipcd.Message)
    assert m.type == 7
    assert m.data == b"hello"
    assert isinstance(m.data, bytes)
    assert m.sender == a.name
    assert m.sender_id == a.id
    assert m.sender_uid == os.getuid()
    assert m.sender_pid == os.getpid()
    # Our own unit as ipcd read it ("" in none): known, a str.
    assert isinstance(m.sender_unit, str)
    assert m.topic is None
    assert m.flags == 0 and not m.is_bulk and not m.is_request and not m.is_notice
    assert m.length == 5
    assert not m.released
    with m:
        pass
    assert m.released
    assert m.data == b"hello"  # an inline payload is a copy: still there


def test_send_str_and_empty_and_anonymous(pair):
    a, b = pair
    with ipcd.Client() as anon:
        anon.send(b.name, 1, "grüße")
        anon.send(b.name, 2)
        m1 = b.recv(timeout=HANG)
        m2 = b.recv(timeout=HANG)
        assert m1.data == "grüße".encode()
        assert m1.sender is None and m1.sender_id == anon.id
        assert (m2.type, m2.data) == (2, b"")


def test_order_and_type_filter(pair):
    a, b = pair
    for t in (5, 3, 9, 3, 1):
        a.send(b.name, t, b"%d" % t, ack=True)  # all in b's queue before it looks
    assert b.recv(3, timeout=HANG).type == 3          # exactly 3
    assert b.recv(-4, timeout=HANG).type == 1         # lowest up to 4
    got = [b.recv(timeout=HANG).type for _ in range(3)]
    assert got == [5, 9, 3]                           # the rest in order


def test_ack_and_missing_name(pair):
    a, b = pair
    a.send(b.name, 1, b"x", ack=True)
    assert b.recv(timeout=HANG).data == b"x"
    with pytest.raises(FileNotFoundError) as ei:
        a.send("py.nobody.here", 1, b"x", ack=True)
    assert ei.value.errno == errno.ENOENT


def test_timeouts(pair):
    a, b = pair
    with pytest.raises(BlockingIOError) as ei:
        b.recv(timeout=0)
    assert ei.value.errno == errno.EAGAIN
    with pytest.raises(TimeoutError) as ei:
        b.recv(timeout=0.3)
    assert ei.value.errno == errno.ETIMEDOUT
    # A blocking recv wakes for a message sent later by another thread.
    t = threading.Timer(0.3, a.send, (b.name, 4, b"late"))
    t.start()
    assert b.recv().data == b"late"
    t.join()


def test_errors(uname, tmp_path):
    name = uname()
    with ipcd.Client(name) as c:
        with pytest.raises(ipcd.NameInUseError) as ei:
            ipcd.Client(name)
        assert ei.value.errno == errno.EADDRINUSE
        assert isinstance(ei.value, ipcd.Error) and isinstance(ei.value, OSError)
        with pytest.raises(ValueError):
            c.send(name, 0, b"")
        with pytest.raises(ValueError):
            c.send(name, ipcd.TYPE_MAX + 1, b"")
        with pytest.raises(ipcd.InvalidArgumentError) as ei:
            c.send("bad name!", 1, b"", ack=True)
        assert ei.value.errno == errno.EINVAL
        with pytest.raises(ipcd.InvalidArgumentError):
            c.recv(ipcd.TYPE_MAX + 1, timeout=0)
        with pytest.raises(FileNotFoundError):
            c.unsubscribe("py/never")
        with pytest.raises(ipcd.MessageTooLargeError):
            c.call(name, 1, b"x" * (c.max_inline + 1), timeout=HANG)
        with pytest.raises(ValueError):
            c.recv(timeout=-1)
    with pytest.raises(ipcd.InvalidArgumentError):
        ipcd.Client("no spaces")
    (tmp_path / "run").mkdir()
    with pytest.raises(ConnectionRefusedError) as ei:
        ipcd.Client(runtime_dir=str(tmp_path / "run"))
    assert ei.value.errno == errno.ECONNREFUSED
    assert ipcd.name_is_valid("a.b/c-d_e") and not ipcd.name_is_valid("a b")


def test_closed_client_raises(uname):
    c = ipcd.Client(uname())
    c.close()
    c.close()  # idempotent
    for f in (lambda: c.recv(timeout=0), lambda: c.send("x", 1, b""),
              c.fileno, lambda: c.id, lambda: c.subscribe("t")):
        with pytest.raises(ValueError):
            f()


def test_pubsub_history(uname):
    with ipcd.Client(uname("pub")) as pub, ipcd.Client(uname("sub")) as sub:
        sub.subscribe("py/sensors/*")
        assert pub.publish("py/sensors/temp", 3, b"21.5", ack=True) == 1
        assert pub.publish("py/other", 3, b"x", ack=True) == 0
        assert pub.publish("py/sensors/hum", 4, b"40") is None
        m = sub.recv(timeout=HANG)
        assert (m.topic, m.type, m.data, m.sender) == ("py/sensors/temp", 3, b"21.5", pub.name)
        m = sub.recv(timeout=HANG)
        assert (m.topic, m.data) == ("py/sensors/hum", b"40")
        sub.unsubscribe("py/sensors/*")
        assert pub.publish("py/sensors/temp", 3, b"gone", ack=True) == 0

        assert pub.set_history("py/hist", 4) == 4
        for i in range(6):
            pub.publish("py/hist", 1, b"%d" % i, ack=True)
        with ipcd.Client(uname("late")) as late:
            late.subscribe("py/hist")
            got = [late.recv(timeout=HANG).data for _ in range(4)]
            assert got == [b"2", b"3", b"4", b"5"]
            with pytest.raises(BlockingIOError):
                late.recv(timeout=0)


def test_call_reply(uname):
    server_name = uname("srv")
    ready = threading.Event()
    served = []

    def serve():
        with ipcd.Client(server_name) as srv:
            ready.set()
            while True:
                m = srv.recv(timeout=HANG)
                if m.type == 99:
                    return
                assert m.is_request
                served.append((m.sender, m.data))
                srv.reply(m, m.type + 1, m.data.upper())

    t = threading.Thread(target=serve)
    t.start()
    assert ready.wait(HANG)
    with ipcd.Client(uname("caller")) as c:
        r = c.call(server_name, 10, b"ping", timeout=HANG)
        assert (r.type, r.data, r.sender) == (11, b"PING", server_name)
        r = c.call(server_name, 20, b"none")  # no limit
        assert r.data == b"NONE"
        # Many threads calling on one handle each get their own reply.
        results = {}

        def caller(i):
            results[i] = c.call(server_name, 30, b"t%d" % i, timeout=HANG).data

        ts = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
        for x in ts:
            x.start()
        for x in ts:
            x.join()
        assert results == {i: b"T%d" % i for i in range(8)}
        with pytest.raises(FileNotFoundError):
            c.call("py.missing", 1, b"", timeout=HANG)
        with pytest.raises(ValueError):
            c.call(server_name, 1, b"", timeout=0)
        with pytest.raises(ValueError):
            c.reply(r, 1, b"")  # not a request
        c.send(server_name, 99, b"")
    t.join(HANG)
    assert not t.is_alive()
    assert len(served) == 10


def test_call_timeout_and_callee_gone(uname):
    with ipcd.Client(uname("mute")) as mute, ipcd.Client(uname()) as c:
        with pytest.raises(TimeoutError):
            c.call(mute.name, 1, b"?", timeout=0.3)
        assert mute.recv(timeout=HANG).is_request  # it did arrive
        dying = ipcd.Client(uname("dying"))

        def die_on_request():
            assert dying.recv(timeout=HANG).is_request
            dying.close()

        t = threading.Thread(target=die_on_request)
        t.start()
        with pytest.raises(ConnectionResetError):
            c.call(dying.name, 1, b"?", timeout=HANG)
        t.join()


def test_monitor(uname):
    with ipcd.Client(uname("mon")) as mon, ipcd.Client(uname()) as a, \
            ipcd.Client(uname("dst")) as b:
        mon.monitor(b.name)
        a.send(b.name, 5, b"watched", ack=True)
        m = mon.recv(timeout=HANG)
        assert m.is_monitor and m.flags & ipcd.MSG_MONITOR
        assert (m.type, m.sender, m.topic, m.data, m.id) == (5, a.name, b.name, b"watched", 7)
        mon.monitor()  # everything
        a.publish("py/mon", 6, b"pub", ack=True)
        m = mon.recv(timeout=HANG)
        assert m.flags & ipcd.MSG_TOPIC and m.topic == "py/mon"


def test_set_overflow(pair):
    a, b = pair
    b.set_overflow(ipcd.OVERFLOW_DROP_OLD, 0, notify_drops=True)
    with pytest.raises(ipcd.InvalidArgumentError):
        b.set_overflow(77)


def test_send_timeout_and_reliable_subscription(uname):
    rx, tx = ipcd.Client(uname("rx")), ipcd.Client(uname("tx"))
    data = b"y" * 4000
    try:
        with pytest.raises(ValueError):
            tx.set_send_timeout(-1)
        # rx never reads: once tx's window is in flight, a send waits for
        # credit; set_send_timeout bounds that wait, nonblock never waits.
        tx.set_send_timeout(0.2)
        with pytest.raises(TimeoutError) as e:
            for _ in range(100000):
                tx.send(rx.name, 1, data)
        assert e.value.errno == errno.ETIMEDOUT
        with pytest.raises(BlockingIOError):
            tx.send(rx.name, 1, data, nonblock=True)
        tx.set_send_timeout(None)
        # Sends to others go on.
        with ipcd.Client(uname("other")) as other:
            tx.send(other.name, 2, b"still", ack=True)
            assert other.recv(timeout=HANG).data == b"still"
        # A reliable subscriber that does not read holds its publisher back.
        with ipcd.Client(uname("sub")) as sub:
            topic = uname("rel").replace(".", "/")
            sub.subscribe(topic, reliable=True)
            with pytest.raises(BlockingIOError):
                for _ in range(100000):
                    tx.publish(topic, 1, data, nonblock=True)
            sub.unsubscribe(topic)
            n = sub.recv(timeout=HANG)
            assert n.data == data and n.topic == topic
    finally:
        rx.close()
        tx.close()


def test_fileno_selectors(pair):
    a, b = pair
    fd = b.fileno()
    assert fd == b.fileno() and fd >= 0

    def drained():
        try:
            b.recv(timeout=0)
        except BlockingIOError:
            return True
        return False

    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        assert drained()
        assert sel.select(0.2) == []  # quiet after recv(timeout=0) said EAGAIN
        a.send(b.name, 1, b"wake")
        deadline = time.monotonic() + HANG
        while True:  # a wake-up that finds nothing is allowed: wait again
            assert sel.select(HANG), "fd never became readable"
            try:
                m = b.recv(timeout=0)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline
        assert m.data == b"wake"
        assert drained()
        assert sel.select(0.2) == []  # quiet once drained


def test_messages_iteration(pair):
    a, b = pair
    for i in range(5):
        a.send(b.name, 1 + i, b"m%d" % i, ack=True)
    got = [(m.type, m.data) for m in b.messages(timeout=0.3)]
    assert got == [(1 + i, b"m%d" % i) for i in range(5)]


def test_threads_share_client(uname):
    n, per = 4, 500
    with ipcd.Client(uname("rx")) as rx, ipcd.Client(uname("tx")) as tx:
        def send(k):
            for i in range(per):
                tx.send(rx.name, 1 + k, b"%d" % i)

        got = {k: [] for k in range(n)}
        lock = threading.Lock()
        total = [0]
        deadline = time.monotonic() + HANG

        def recv():
            while True:
                with lock:
                    if total[0] == n * per:
                        return
                try:
                    m = rx.recv(timeout=0.2)
                except TimeoutError:
                    if time.monotonic() > deadline:  # hang guard: lost messages
                        return
                    continue  # another receiver may have taken the last one
                with lock:
                    got[m.type - 1].append(int(m.data))
                    total[0] += 1

        senders = [threading.Thread(target=send, args=(k,)) for k in range(n)]
        receivers = [threading.Thread(target=recv) for _ in range(3)]
        for t in senders + receivers:
            t.start()
        for t in senders + receivers:
            t.join()
        for k in range(n):
            assert sorted(got[k]) == list(range(per))


def test_close_wakes_blocked_receiver(uname):
    c = ipcd.Client(uname())
    err = []

    def blocked():
        try:
            c.recv()
        except ValueError as e:
            err.append(e)

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.3)
    c.close()
    t.join(HANG)
    assert not t.is_alive() and len(err) == 1


def _child(code):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("what", ["recv", "call", "send"])
def test_ctrl_c_interrupts(uname, what):
    name = uname("sig")
    p = _child("""
        import ipcd, sys
        c = ipcd.Client(%r)
        try:
            if %r == "recv":
                print("ready", flush=True)
                c.recv()
            elif %r == "call":
                print("ready", flush=True)
                c.call(%r, 1, b"?")      # nobody answers: it calls itself
            else:
                # To a receiver that never reads: flow control holds the
                # sender back once its window is in flight (found with a
                # send timeout first).
                rx = ipcd.Client(%r + ".rx")
                data = b"x" * 4000
                c.set_send_timeout(0.5)
                try:
                    while True:
                        c.send(rx.name, 1, data)
                except TimeoutError:
                    pass
                c.set_send_timeout(None)
                print("ready", flush=True)
                c.send(rx.name, 1, data)  # waits for credit that never comes
        except KeyboardInterrupt:
            c.close()
            print("interrupted", flush=True)
            sys.exit(3)
        sys.exit(1)
    """ % (name, what, what, name, name))
    assert p.stdout.readline() == "ready\n"
    time.sleep(0.3)  # let it enter the blocking call (a later SIGINT works too)
    p.send_signal(signal.SIGINT)
    out, errout = p.communicate(timeout=HANG)
    assert p.returncode == 3, errout
    assert out == "interrupted\n"
    if what != "call":
        # Its name is free again at once: close() closed the handle.
        ipcd.Client(name).close()
        return
    # An abandoned call still ran in the handle, so close() left closing it
    # to that call's thread, which died with the process: ipcd frees the
    # name once it notices the death (poll; hang guard only).
    deadline = time.monotonic() + HANG
    while True:
        try:
            ipcd.Client(name).close()
            break
        except ipcd.NameInUseError:
            assert time.monotonic() < deadline, "the name was never freed"
            time.sleep(0.05)


def test_help_reads_well():
    doc = ipcd.Client.__doc__
    assert "context manager" in doc
    for meth in ("send", "recv", "call", "reply", "publish", "subscribe",
                 "buf_alloc", "send_buf", "monitor", "fileno", "messages",
                 "set_send_timeout", "set_overflow", "set_history"):
        assert getattr(ipcd.Client, meth).__doc__, meth
    # help() shows real signatures (from the docstrings' first lines).
    assert ipcd.Client.send.__text_signature__.startswith("(dst, type, data=b''")
    assert "timeout" in ipcd.Client.recv.__text_signature__
    assert "reliable" in ipcd.Client.subscribe.__text_signature__


def test_drop_notices(uname):
    """A receiver that does not read, with a small backlog and
    notify_drops: the sender never fails, and what arrives plus what the
    notices count as dropped is what was sent, in order with a gap."""
    sent, size = 3000, 200  # 600 KB: more than the queue (256 KiB) + backlog
    with ipcd.Client(uname("slow")) as rx, ipcd.Client(uname()) as tx:
        rx.set_overflow(ipcd.OVERFLOW_DROP_NEW, 4096, notify_drops=True)
        for i in range(sent):
            tx.send(rx.name, 1, i.to_bytes(4, "little") * (size // 4))
        # A barrier: ipcd routes tx's messages in order, so once one to tx
        # itself is acknowledged, every message to rx has been routed.
        tx.send(tx.name, 2, b"barrier", ack=True)
        got, dropped, notices = [], 0, 0
        while len(got) + dropped < sent:
            m = rx.recv(timeout=HANG)
            if m.is_notice:
                assert m.type == ipcd.NOTICE_DROPPED and m.id > 0
                assert m.sender is None
                dropped += m.id
                notices += 1
                continue
            got.append(int.from_bytes(m.data[:4], "little"))
        assert notices >= 1 and dropped > 0
        assert len(got) + dropped == sent
        assert got == sorted(got) and len(set(got)) == len(got)  # order kept
        with pytest.raises(BlockingIOError):
            rx.recv(timeout=0)


def test_more_and_nonblock(pair):
    a, b = pair
    for i in range(100):
        a.send(b.name, 1, b"%d" % i, more=True)   # may be held in the handle
    a.send(b.name, 2, b"last", nonblock=True)      # sends what is held, then this
    got = [b.recv(timeout=HANG) for _ in range(101)]
    assert [m.data for m in got[:100]] == [b"%d" % i for i in range(100)]
    assert (got[100].type, got[100].data) == (2, b"last")
    b.subscribe("py/nb")
    assert a.publish("py/nb", 3, b"x", nonblock=True, ack=True) == 1
    assert b.recv(timeout=HANG).topic == "py/nb"


def test_permission_errors_for_nobody(uname):
    """monitor() and subscribing to '*' are for root and ipcd's group: an
    unprivileged client gets PermissionError (EACCES), and its identity is
    stamped by ipcd, not claimed."""
    if os.getuid() != 0:
        pytest.skip("needs root to run a child as uid 65534")
    probe = subprocess.run([sys.executable, "-c", "import ipcd"], user=65534, group=65534,
                           capture_output=True, text=True, timeout=HANG)
    if probe.returncode != 0:
        pytest.skip("uid 65534 cannot import the built module: " + probe.stderr[-200:])
    with ipcd.Client(uname("rootrx")) as rx:
        p = subprocess.run([sys.executable, "-c", textwrap.dedent("""
            import errno, sys, ipcd
            with ipcd.Client() as c:
                for f in (lambda: c.monitor(), lambda: c.subscribe("*")):
                    try:
                        f()
                        sys.exit("no error")
                    except PermissionError as e:
                        assert e.errno == errno.EACCES
                c.send(%r, 1, b"from nobody", ack=True)
        """ % rx.name)], user=65534, group=65534, capture_output=True, text=True,
            timeout=HANG)
        assert p.returncode == 0, p.stderr
        m = rx.recv(timeout=HANG)
        assert (m.data, m.sender_uid) == (b"from nobody", 65534)


def test_close_ends_a_call_in_another_thread(uname):
    """close() does not wait for a call without a timeout in another
    thread: the call raises ValueError, and its late reply goes nowhere."""
    with ipcd.Client(uname("slowsrv")) as srv:
        c = ipcd.Client(uname())
        err = []

        def caller():
            try:
                c.call(srv.name, 1, b"?")
            except ValueError as e:
                err.append(e)

        t = threading.Thread(target=caller)
        t.start()
        req = srv.recv(timeout=HANG)  # the call is in flight
        assert req.is_request
        c.close()
        t.join(HANG)
        assert not t.is_alive() and len(err) == 1
        srv.reply(req, 2, b"too late")  # the abandoned call's thread drops it
