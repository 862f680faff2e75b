# SPDX-License-Identifier: LGPL-2.1-or-later
"""ipcd.aio: asyncio receive and call on top of Client.fileno()."""
import asyncio
import threading

import pytest

import ipcd
import ipcd.aio

HANG = 30


def test_aio_recv_and_timeout(pair):
    a, b = pair

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, a.send, b.name, 3, b"async")
        m = await ipcd.aio.recv(b, timeout=HANG)
        assert (m.type, m.data, m.sender) == (3, b"async", a.name)
        with pytest.raises(TimeoutError):
            await ipcd.aio.recv(b, timeout=0.2)
        # Other tasks keep running while one awaits a message.
        ticks = []

        async def ticker():
            for i in range(3):
                ticks.append(i)
                await asyncio.sleep(0.01)

        t = asyncio.ensure_future(ticker())
        loop.call_later(0.2, a.send, b.name, 4, b"later")
        m = await ipcd.aio.recv(b)
        await t
        assert m.data == b"later" and ticks == [0, 1, 2]
        for i in range(3):
            a.send(b.name, 1, b"%d" % i)
        got = []
        async for m in ipcd.aio.messages(b):
            got.append(m.data)
            if len(got) == 3:
                break
        assert got == [b"0", b"1", b"2"]

    asyncio.run(main())


def test_aio_call(uname):
    srv = ipcd.Client(uname("asrv"))

    def serve():
        m = srv.recv(timeout=HANG)
        srv.reply(m, 2, b"re:" + m.data)

    t = threading.Thread(target=serve)
    t.start()
    with ipcd.Client(uname()) as c:
        async def main():
            return await ipcd.aio.call(c, srv.name, 1, b"q", timeout=HANG)

        r = asyncio.run(main())
        assert (r.type, r.data) == (2, b"re:q")
    t.join(HANG)
    srv.close()
