# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python binding of ipcd, the local message broker (libipcd-client).

    import ipcd

    with ipcd.Client("printer") as c:
        for msg in c.messages():
            print(msg.type, msg.sender, bytes(msg.data))

Errors are OSError subclasses: Python's own (ConnectionRefusedError when no
ipcd runs, TimeoutError, PermissionError, FileNotFoundError for a missing
name, BlockingIOError, ConnectionResetError when ipcd went away) or an
ipcd.Error subclass (NameInUseError, QuotaExceededError,
MessageTooLargeError, InvalidArgumentError); each carries errno.

See libipcd-client(3) for the semantics behind every call.
"""
from ._ipcd import (  # noqa: F401
    Error,
    InvalidArgumentError,
    Message,
    MessageTooLargeError,
    NameInUseError,
    QuotaExceededError,
    MSG_BULK,
    MSG_MONITOR,
    MSG_NOTICE,
    MSG_REQUEST,
    MSG_TOPIC,
    NAME_MAX,
    NOTICE_DROPPED,
    NOTICE_NAME_LOST,
    NOTICE_REVOKED,
    OVERFLOW_DROP_NEW,
    OVERFLOW_DROP_OLD,
    TYPE_MAX,
    VERSION_MAJOR,
    VERSION_MINOR,
    VERSION_PATCH,
    name_is_valid,
)
from . import _ipcd

__all__ = [
    "Client", "Message", "Error", "NameInUseError", "QuotaExceededError",
    "MessageTooLargeError", "InvalidArgumentError", "name_is_valid",
    "TYPE_MAX", "NAME_MAX", "MSG_BULK", "MSG_REQUEST", "MSG_NOTICE",
    "MSG_MONITOR", "MSG_TOPIC", "NOTICE_DROPPED", "NOTICE_NAME_LOST",
    "NOTICE_REVOKED", "OVERFLOW_DROP_NEW", "OVERFLOW_DROP_OLD",
]

__version__ = "%d.%d.%d" % (VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH)


class Client(_ipcd.Client):
    """A connection to ipcd: Client(name=None, runtime_dir=None).

    name registers the client under that name (1-63 bytes of
    [A-Za-z0-9._/-]) so others can send to it; None connects anonymously.
    runtime_dir selects the ipcd serving it (default $IPCD_RUNTIME_DIR,
    else /run/ipcd).  Raises ConnectionRefusedError when no ipcd serves it,
    NameInUseError when the name is taken.

    Use it as a context manager (close() on exit).  Any thread may send and
    receive on one client; close() waits for the others.  Blocking calls
    release the GIL and are interrupted by Ctrl-C (KeyboardInterrupt).

    Sending: send(), publish(); bulk zero-copy: buf_alloc() then send_buf()
    or publish_buf().  A receiver that does not keep up holds its senders
    back (flow control, nothing dropped): set_send_timeout() bounds that
    wait.  Receiving: recv(), messages(), fileno() for event loops (see
    ipcd.aio); set_overflow() to drop instead.  Topics: subscribe() (with
    reliable=True: never dropped), unsubscribe(), set_history().  Calls:
    call(), reply().  Watching: monitor().
    """

    __slots__ = ()

    def __init__(self, name=None, runtime_dir=None):
        super().__init__(name, runtime_dir)

    def messages(self, timeout=None, type_filter=0):
        """Iterate over received messages.

        Each message is released when the loop moves on to the next one
        (copy bulk data with bytes(msg.data) to keep it).  With a timeout
        (seconds), the iteration ends once no message came for that long;
        with None it goes on until the loop breaks or an exception.
        """
        while True:
            try:
                msg = self.recv(type_filter, timeout)
            except (TimeoutError, BlockingIOError):
                return
            try:
                yield msg
            finally:
                msg.release()

    def __repr__(self):
        if self.closed:
            return "<ipcd.Client closed>"
        return "<ipcd.Client name=%r id=%d>" % (self.name, self.id)
