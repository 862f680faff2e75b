#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Register as NAME (default "printer") and print every message with the
sender's identity as ipcd attests it, until Ctrl-C.  Try it with
`ipcdctl send printer 1 hello`."""
import sys

import ipcd


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "printer"
    with ipcd.Client(name) as c:
        print("listening as %s (id %d)" % (c.name, c.id), flush=True)
        try:
            for m in c.messages():
                if m.is_notice:
                    print("notice %d: %s" % (m.type, bytes(m.data).decode(errors="replace")))
                    continue
                print("type %d from %s (id %d, uid %d, pid %d)%s: %r" % (
                    m.type, m.sender or "-", m.sender_id, m.sender_uid, m.sender_pid,
                    " on " + m.topic if m.topic else "", bytes(m.data[:80])), flush=True)
        except KeyboardInterrupt:
            pass
        except ConnectionResetError:
            print("ipcd went away", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
