"""uvicorn's httptools protocol with the bounds a public web process needs.

uvicorn (0.54) leaves a connection that never finishes its request open for ever, lets headers
grow without limit (httptools buffers them all) and waits for ever on a body that stops short of
its Content-Length. A few hundred such connections use up the process's file descriptors and
every real upload then fails. This subclass adds, per connection:

- a deadline for the request line and headers (`header_seconds`, from the first byte of a
  request, or from the connection's start): past it, 408 and close;
- a bound on header bytes (`max_header_bytes`): past it, 431 and close, so memory stays at one
  read chunk past the bound;
- an idle timeout while the body arrives (`body_idle_seconds` without a byte while the app waits
  for more): 408 and close; the app sees a disconnect;
- a bound on open connections (`max_connections`, per process): a new connection past it evicts
  the longest-waiting connection that has not sent a whole request head (a stalled or idle
  keep-alive one); if every connection is busy with a real request, the newcomer gets 503 and
  is closed. Real requests finish their headers within milliseconds, so they are never the ones
  evicted.

Every refusal is the service's JSON error shape. Written against uvicorn's HttpToolsProtocol
hooks (connection_made, data_received, on_message_begin, on_headers_complete, on_body,
on_message_complete, connection_lost); uvicorn is pinned in requirements.lock, and
tests/web/test_hostile_connections.py drives these bounds over real sockets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.contract import ErrorKind

log = logging.getLogger(__name__)

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_REASONS[503] = b"Service Unavailable"


class _HeadRefusedError(Exception):
    """Raised in a parser callback to stop parsing a refused request."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_seconds: float = 10.0
    body_idle_seconds: float = 10.0
    max_header_bytes: int = 32 * 1024
    max_connections: int = 900


def refusal(status: int, kind: ErrorKind, reason: str) -> bytes:
    """A complete HTTP/1.1 response that closes the connection, with the JSON error body."""
    body = json.dumps({"error": kind.value, "reason": reason}).encode()
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, _REASONS[status], len(body))
    )
    return head + body


def guarded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=` option, bound to `limits`."""

    class Guarded(GuardedHttpToolsProtocol):
        pass

    Guarded.limits = limits
    return Guarded


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # reading a request line and headers (or waiting for one)
        self._head_bytes = 0  # bytes received since the head began (bounds what httptools buffers)
        self._head_size = 0  # bytes of the parsed request line and headers
        self._waiting_since = time.monotonic()  # when this connection last began to wait for a head
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._in_body = False

    # -- connection ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._evict_one():
            log.warning("%d connections open: refusing a new one (503)", len(self.connections) - 1)
            self._refuse(503, ErrorKind.BUSY, "too many open connections; retry shortly")
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for a request head; False if none does."""
        idle = [c for c in self.connections if isinstance(c, GuardedHttpToolsProtocol) and c._evictable]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._waiting_since)
        oldest._refuse(503, ErrorKind.BUSY, "closed to make room: no request arrived on this connection")
        return True

    @property
    def _evictable(self) -> bool:
        return self._in_head and not self.pipeline and not self.transport.is_closing()

    # -- request head --------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        elif self._in_body:
            self._arm_body_timer()
        super().data_received(data)
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse_large_head()  # still arriving: stop buffering it

    def _refuse_large_head(self) -> None:
        self._refuse(
            431,
            ErrorKind.HEADERS_TOO_LARGE,
            f"the request line and headers exceed {self.limits.max_header_bytes} bytes",
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if self._head_timer is None:  # the next request on a kept-alive connection: its own deadline
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        too_large = self._head_size > self.limits.max_header_bytes
        self._in_head = False
        self._head_bytes = self._head_size = 0
        if too_large:  # a head that arrived in one read, past the bound
            self._refuse_large_head()
            # Stops the parser; uvicorn then calls send_400_response, a no-op on a closing transport.
            raise _HeadRefusedError
        self._cancel(self._head_timer)
        self._head_timer = None
        super().on_headers_complete()
        if self.cycle is not None and not self.cycle.response_complete and self.cycle.more_body:
            self._in_body = True
            self._arm_body_timer()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._cancel(self._body_timer)
        self._body_timer = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():  # kept alive: the wait for the next head starts now
            self._in_head = True
            self._head_bytes = 0
            self._waiting_since = time.monotonic()

    # -- timers --------------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._cancel(self._head_timer)
        self._head_timer = self.loop.call_later(self.limits.header_seconds, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(
                408,
                ErrorKind.REQUEST_TIMEOUT,
                f"the request line and headers did not arrive within {self.limits.header_seconds:g} s",
            )

    def _arm_body_timer(self) -> None:
        self._cancel(self._body_timer)
        self._body_timer = self.loop.call_later(self.limits.body_idle_seconds, self._body_timed_out)

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if not self._in_body or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the app has not taken what arrived: the client is not to blame
            self._arm_body_timer()
            return
        self._in_body = False
        if self.cycle is not None:
            self.cycle.disconnected = True  # the app's next receive() is a disconnect
            self.cycle.message_event.set()
        self._refuse(
            408,
            ErrorKind.REQUEST_TIMEOUT,
            f"the body stopped arriving: nothing for {self.limits.body_idle_seconds:g} s",
        )

    def _cancel_timers(self) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._body_timer)
        self._head_timer = self._body_timer = None

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    # -- answers -------------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        self._refuse(400, ErrorKind.BAD_REQUEST, "malformed HTTP request")

    def _refuse(self, status: int, kind: ErrorKind, reason: str) -> None:
        self._in_head = self._in_body = False
        self._cancel_timers()
        if not self.transport.is_closing():
            self.transport.write(refusal(status, kind, reason))
            self.transport.close()
