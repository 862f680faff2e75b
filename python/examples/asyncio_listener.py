#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An asyncio program that listens as NAME (default "aio") while other
tasks run, and sends a large payload to itself zero-copy through the ring
(buf_alloc + send_buf) to show the bulk path."""
import asyncio
import sys

import ipcd
import ipcd.aio


async def heartbeat():
    while True:
        await asyncio.sleep(1)
        print("still alive", flush=True)


async def main(name):
    with ipcd.Client(name) as c:
        buf = c.buf_alloc(1 << 20)          # 1 MiB, written in place in the ring
        buf[:] = b"x" * len(buf)
        c.send_buf(c.name, 7, buf)
        task = asyncio.ensure_future(heartbeat())
        try:
            async for m in ipcd.aio.messages(c):
                size = len(m.data) if m.is_bulk else m.length
                print("type %d from %s, %d bytes%s" % (
                    m.type, m.sender or "-", size, " (bulk, zero-copy)" if m.is_bulk else ""))
        finally:
            task.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "aio"))
    except KeyboardInterrupt:
        pass
