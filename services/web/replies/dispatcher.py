"""The web tier's ONE reply consumer.

A background thread long-polls this web process's reply queue and resolves the asyncio future
of the waiting request with the same id. Futures are registered before the request message is
sent, so a fast reply can never arrive before anyone waits for it. Replies nobody waits for (the
request already answered 202, or the process restarted) are deleted: the result is in the output
bucket anyway.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from anyio import to_thread
from pydantic import ValidationError

from services.contract import ReplyMessage, Result
from services.ports.storage import MessageQueue

log = logging.getLogger(__name__)
MODELS_WINDOW_SECONDS = 600.0
_WAKE_UP = "wake-up"  # sent to our own reply queue on stop, to end the long poll at once


class ReplyDispatcher:
    def __init__(self, replies: MessageQueue, *, poll_seconds: float = 5.0) -> None:
        self._replies = replies
        self._poll_seconds = poll_seconds
        self._waiting: dict[str, asyncio.Future[Result]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._models: dict[str, float] = {}  # a result's `model` (weights + engine) -> last seen

    # -- event-loop side ------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._consume, name="reply-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop consuming; returns once the current long poll has ended."""
        self._stopping.set()
        if self.alive:
            try:
                self._replies.send(_WAKE_UP)
            except Exception:
                log.warning("reply consumer: could not wake the long poll; waiting for it to end")
        if self._thread is not None:
            self._thread.join(timeout=self._poll_seconds + 5)

    async def __aenter__(self) -> ReplyDispatcher:
        """Start consuming on the running loop; leaving stops it (off the loop: it waits)."""
        self.start(asyncio.get_running_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await to_thread.run_sync(self.stop)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def register(self, request_id: str) -> asyncio.Future[Result]:
        """Call BEFORE sending the request message."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting[request_id] = future
        return future

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._waiting.pop(request_id, None)

    def recent_models(self, within: float = MODELS_WINDOW_SECONDS) -> list[str]:
        """The models (and engines) of the replies received in the last `within` seconds, newest first."""
        since = time.monotonic() - within
        with self._lock:
            seen = sorted(self._models.items(), key=lambda item: -item[1])
        return [model for model, at in seen if at >= since]

    # -- consumer thread ------------------------------------------------------------------
    def _consume(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = self._replies.receive(max_messages=10, wait_seconds=self._poll_seconds)
                resolved = [found for m in messages if (found := self._match(m.body)) is not None]
                if resolved and self._loop is not None:  # one event-loop wake-up per batch
                    self._loop.call_soon_threadsafe(_set_results, resolved)
                if messages:
                    self._replies.delete_batch([m.receipt for m in messages])
            except Exception:
                # A failed poll must not kill the consumer; undeleted replies come back.
                log.exception("reply consumer: receive/delete failed; retrying")
                self._stopping.wait(1.0)

    def _match(self, body: str) -> tuple[asyncio.Future[Result], Result] | None:
        """The waiting future of a reply and its result; None for a reply nobody waits for."""
        if body == _WAKE_UP:
            return None
        try:
            reply = ReplyMessage.model_validate_json(body)
        except ValidationError:
            log.warning("reply consumer: dropping a malformed reply: %.200s", body)
            return None
        with self._lock:
            future = self._waiting.pop(reply.id, None)
            if reply.result.model:  # which engine answered: shown in /v1/status
                self._models[reply.result.model] = time.monotonic()
        if future is None:
            log.debug("reply for %s: nobody waiting (already answered); deleted", reply.id)
            return None
        return future, reply.result


def _set_results(resolved: list[tuple[asyncio.Future[Result], Result]]) -> None:
    for future, result in resolved:
        if not future.done():  # the waiter may have been cancelled (client gone, timeout)
            future.set_result(result)
