#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Publish and subscribe:  pubsub.py pub TOPIC [COUNT]  |  pubsub.py sub PATTERN

The publisher keeps the last 8 messages for late subscribers
(set_history); the subscriber prints what it hears until Ctrl-C."""
import sys
import time

import ipcd


def pub(topic, count):
    with ipcd.Client() as c:
        print("history depth", c.set_history(topic, 8))
        for i in range(count):
            n = c.publish(topic, 1, b"reading %d" % i, ack=True)
            print("published %d, reached %d subscriber(s)" % (i, n))
            time.sleep(0.5)


def sub(pattern):
    with ipcd.Client() as c:
        c.subscribe(pattern)
        try:
            for m in c.messages():
                print("%s from %s: %s" % (m.topic, m.sender or "-", bytes(m.data).decode()))
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "pub":
        pub(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 10)
    elif len(sys.argv) == 3 and sys.argv[1] == "sub":
        sub(sys.argv[2])
    else:
        sys.exit(__doc__)
