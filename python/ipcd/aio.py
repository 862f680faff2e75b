# SPDX-License-Identifier: LGPL-2.1-or-later
"""asyncio helpers for ipcd.Client, built on Client.fileno().

    async with-free usage:

        msg = await ipcd.aio.recv(client, timeout=5)
        reply = await ipcd.aio.call(client, "clock", 1, b"", timeout=1)

recv() waits for the client's descriptor with loop.add_reader() and takes
messages with recv(timeout=0), so it never blocks the event loop.  call()
runs the blocking Client.call() in the loop's default executor (the
library matches the reply to its call itself, so it cannot be split into
a send and a wait on the descriptor).
"""
import asyncio

__all__ = ["recv", "call", "messages"]


async def _readable(fd):
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready():
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def _recv(client, type_filter):
    fd = client.fileno()
    while True:
        try:
            return client.recv(type_filter, 0)
        except BlockingIOError:
            pass
        await _readable(fd)


async def recv(client, type_filter=0, timeout=None):
    """Await the next message of client (an ipcd.Client).

    type_filter as Client.recv(); the descriptor is level-triggered for
    filter 0, so prefer 0 in event loops.  timeout in seconds (None: no
    limit) raises TimeoutError.
    """
    if timeout is None:
        return await _recv(client, type_filter)
    try:
        return await asyncio.wait_for(_recv(client, type_filter), timeout)
    except asyncio.TimeoutError:
        raise TimeoutError("ipcd.aio.recv: timed out") from None


async def call(client, dst, type, data=b"", timeout=None):
    """Await the reply to a request to dst, as Client.call()."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, client.call, dst, type, data, timeout)


async def messages(client, type_filter=0):
    """Async iterator over client's messages, each released after its turn."""
    while True:
        msg = await _recv(client, type_filter)
        try:
            yield msg
        finally:
            msg.release()
