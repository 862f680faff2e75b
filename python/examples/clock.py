#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A call and its server:  clock.py serve  |  clock.py ask

The server registers as "clock" and answers each request with the time;
`ask` calls it with a one-second timeout."""
import sys
import time

import ipcd


def serve():
    with ipcd.Client("clock") as c:
        try:
            for m in c.messages():
                if m.is_request:
                    c.reply(m, 2, time.strftime("%H:%M:%S"))
        except KeyboardInterrupt:
            pass


def ask():
    with ipcd.Client() as c:
        try:
            r = c.call("clock", 1, b"", timeout=1.0)
        except FileNotFoundError:
            sys.exit("nobody is called clock: start `clock.py serve` first")
        except TimeoutError:
            sys.exit("clock did not answer within a second")
        print(bytes(r.data).decode())


if __name__ == "__main__":
    {"serve": serve, "ask": ask}.get(sys.argv[1] if len(sys.argv) > 1 else "",
                                      lambda: sys.exit(__doc__))()
