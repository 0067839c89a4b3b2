"""A cross-process wake-up for long-polling receivers of the local SQLite queue.

Why: a receiver must wake within a few milliseconds of a send (two queue hops per request
sit on the latency path) yet cost nothing while idle. Polling SQLite every ~2 ms would cost a
few % of a core per idle receiver; a blocking wait on a socket costs nothing.

How: every waiting thread owns a Linux abstract-namespace UNIX datagram socket (no file, no
path-length limit, gone when the process dies) and registers its address in the queue
database. After committing, a sender sends a 1-byte datagram to each registered address of
that queue. A datagram that arrives while nobody is blocked stays in the socket buffer, so a
wake-up between "queue looked empty" and "start waiting" is never lost. Addresses of dead
processes answer ECONNREFUSED and are pruned by the sender.

The database stays the source of truth: a ring only means "look again", and receivers also
wake on their own for visibility timeouts and as a safety net (see `local_queue`). Where
abstract sockets do not exist (not Linux) `Doorbell.supported` is False and receivers poll.
"""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterable

SUPPORTED = sys.platform.startswith("linux")


class Doorbell:
    """The receiving end, one per (thread, queue)."""

    def __init__(self) -> None:
        self.address = "\0evision-" + uuid.uuid4().hex
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.address)
        self._sock.setblocking(False)

    def drain(self) -> None:
        """Forget rings received so far (call before looking at the queue)."""
        try:
            while self._sock.recv(64):
                pass
        except BlockingIOError:
            pass

    def wait(self, timeout: float) -> None:
        """Block until rung or `timeout` seconds pass."""
        self._sock.settimeout(max(timeout, 0.0))
        try:
            self._sock.recv(64)
        except (TimeoutError, BlockingIOError):
            pass
        finally:
            self._sock.setblocking(False)

    def close(self) -> None:
        self._sock.close()


class Ringer:
    """The sending end: one unbound socket reused for every ring of a thread."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def ring(self, addresses: Iterable[str]) -> list[str]:
        """Ring each address; return the ones nobody listens on any more."""
        dead: list[str] = []
        for address in addresses:
            try:
                self._sock.sendto(b"!", address)
            except (ConnectionRefusedError, FileNotFoundError):
                dead.append(address)
            except BlockingIOError:
                pass  # its buffer is full of rings already: it will look again
        return dead

    def close(self) -> None:
        self._sock.close()
