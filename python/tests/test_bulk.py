# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bulk payloads through the shared ring: zero-copy send and receive,
memoryview lifetimes, use after release."""
import hashlib
import os

import pytest

import ipcd

HANG = 30
MIB4 = 4 * 1024 * 1024


def test_zero_copy_round_trip_4mib(pair):
    a, b = pair
    payload = os.urandom(MIB4)
    buf = a.buf_alloc(MIB4)
    assert isinstance(buf, memoryview) and not buf.readonly and buf.nbytes == MIB4
    buf[:] = payload                       # written in place, in the ring
    a.send_buf(b.name, 42, buf, ack=True)
    with pytest.raises(ValueError):        # the buffer is ipcd's now
        buf[0]
    m = b.recv(timeout=HANG)
    assert m.is_bulk and m.type == 42 and m.sender == a.name
    view = m.data
    assert isinstance(view, memoryview) and view.readonly and len(view) == MIB4
    assert m.data is view                  # one view per message
    assert hashlib.sha256(view).digest() == hashlib.sha256(payload).digest()
    with pytest.raises(TypeError):
        view[0] = 1
    # Echo it back from the receiver's side, zero-copy again.
    out = b.buf_alloc(MIB4)
    out[:] = view
    b.send_buf(a.name, 43, out)
    m.release()
    back = a.recv(timeout=HANG)
    with back:
        assert back.is_bulk and bytes(back.data) == payload


def test_use_after_release_raises(pair):
    a, b = pair
    big = b"z" * (a.max_inline + 1000)
    a.send(b.name, 1, big)                 # copied into the ring by the library
    m = b.recv(timeout=HANG)
    assert m.is_bulk
    view = m.data
    copy = bytes(view)
    m.release()
    assert m.released
    assert copy == big                     # the copy stays valid
    with pytest.raises(ValueError):
        view[0]
    with pytest.raises(ValueError):
        bytes(view)
    with pytest.raises(ValueError):
        m.data
    m.release()                            # idempotent


def test_release_refused_while_views_exist(pair):
    a, b = pair
    a.send(b.name, 1, b"q" * (a.max_inline + 1))
    m = b.recv(timeout=HANG)
    sub = m.data[10:20]                    # a second view of the ring memory
    with pytest.raises(BufferError):
        m.release()
    assert not m.released
    assert bytes(sub) == b"q" * 10         # still valid, nothing freed
    sub.release()
    m.release()
    assert m.released
    with pytest.raises(ValueError):
        bytes(sub)


def test_context_manager_and_close_release(pair, uname):
    a, b = pair
    for i in range(3):
        a.send(b.name, 1 + i, bytes([i]) * (a.max_inline + 1))
    with b.recv(timeout=HANG) as m:
        assert m.data[0] == 0
    assert m.released
    held = [b.recv(timeout=HANG), b.recv(timeout=HANG)]
    views = [x.data for x in held]
    b.close()                              # releases what is still held
    assert all(x.released for x in held)
    with pytest.raises(ValueError):
        views[0][0]


def test_close_refused_with_foreign_views(uname):
    with ipcd.Client(uname()) as a:
        c = ipcd.Client(uname())
        a.send(c.name, 1, b"k" * (a.max_inline + 1))
        m = c.recv(timeout=HANG)
        keep = m.data[:4]
        with pytest.raises(BufferError):
            c.close()
        assert not c.closed
        assert bytes(keep) == b"kkkk"
        keep.release()
        c.close()
        assert c.closed and m.released


def test_buf_free_and_errors(pair, uname):
    a, b = pair
    buf = a.buf_alloc(1000)
    a.buf_free(buf)
    with pytest.raises(ValueError):
        buf[0]
    with pytest.raises(ValueError):
        a.send_buf(b.name, 1, buf)
    with pytest.raises(TypeError):
        a.send_buf(b.name, 1, memoryview(bytearray(10)))
    with pytest.raises(TypeError):
        a.send_buf(b.name, 1, b"not a ring buffer")
    with pytest.raises(ValueError):
        a.buf_alloc(0)
    with pytest.raises(ipcd.MessageTooLargeError):
        a.buf_alloc(64 * 1024 * 1024)
    other = b.buf_alloc(100)
    with pytest.raises(ValueError):
        a.send_buf(b.name, 1, other)       # b's buffer
    b.buf_free(other)
    # Part of a buffer; length beyond it is refused before anything moves.
    buf = a.buf_alloc(5000)
    buf[:5] = b"hello"
    with pytest.raises(ValueError):
        a.send_buf(b.name, 1, buf, 5001)
    a.send_buf(b.name, 2, buf, 5)
    with b.recv(timeout=HANG) as m:
        assert (m.type, bytes(m.data), m.is_bulk) == (2, b"hello", True)
    # A failed send gives the buffer back and releases its view.
    buf = a.buf_alloc(100)
    with pytest.raises(FileNotFoundError):
        a.send_buf("py.nobody", 1, buf, ack=True)
    with pytest.raises(ValueError):
        buf[0]


def test_publish_buf(uname):
    with ipcd.Client(uname("p")) as pub, ipcd.Client(uname("s1")) as s1, \
            ipcd.Client(uname("s2")) as s2:
        s1.subscribe("py/bulk")
        s2.subscribe("py/bulk")
        buf = pub.buf_alloc(100000)
        buf[:] = bytes(range(256)) * 390 + bytes(160)
        expect = bytes(buf)
        assert pub.publish_buf("py/bulk", 9, buf, ack=True) == 2
        for s in (s1, s2):
            with s.recv(timeout=HANG) as m:
                assert m.topic == "py/bulk" and m.is_bulk and m.data == expect


def test_message_outlives_client_reference(uname):
    """A view keeps ring memory valid after the message object is gone."""
    with ipcd.Client(uname()) as a, ipcd.Client(uname()) as b:
        a.send(b.name, 1, b"v" * (a.max_inline + 1))
        view = b.recv(timeout=HANG).data   # the Message itself is dropped
        assert bytes(view[:3]) == b"vvv"
        view.release()


def test_dropped_objects_give_ring_memory_back(pair):
    """Messages and buffers dropped without release() or send free their
    ring memory (no reference cycle keeps it): otherwise the receiver
    would soon hold more than half a lane and ipcd would refuse it
    (BlockingIOError with ack), and the sender's lanes would fill."""
    a, b = pair
    for i in range(12):
        a.send(b.name, 1, bytes([i]) * MIB4, ack=True)
        m = b.recv(timeout=HANG)
        view = m.data
        assert view[0] == i
        del m, view                            # no release()
    for i in range(40):
        buf = a.buf_alloc(MIB4, nonblock=True)
        buf[0] = i
        del buf                                # never sent, never freed
