"""Keeps the messages of every batch in hand invisible while the batch runs longer than expected."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from services.ports.storage import MessageQueue

log = logging.getLogger(__name__)


@dataclass
class _Watch:
    receipts: list[str]
    due: float  # time.monotonic() of the next extension


class VisibilityHeartbeat:
    """Every `fraction * timeout` seconds of a watched batch, push its messages' visibility timeout
    `timeout` ahead. A batch that ends in time never extends anything.

    ONE thread per worker watches every batch in hand (started with the first batch), rather than
    a thread started and joined per batch.
    """

    def __init__(self, queue: MessageQueue, *, timeout: float, fraction: float) -> None:
        self._queue = queue
        self._timeout = timeout
        self._interval = timeout * fraction
        self._watches: dict[int, _Watch] = {}
        self._keys = itertools.count()
        self._changed = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.extensions = 0

    @contextmanager
    def watch(self, receipts: Sequence[str]) -> Iterator[None]:
        """Keep these messages invisible until the block ends."""
        key = next(self._keys)
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="visibility-heartbeat", daemon=True)
                self._thread.start()
            if not self._watches:  # the thread waits without a deadline only when it watches nothing
                self._changed.notify()
            self._watches[key] = _Watch(list(receipts), time.monotonic() + self._interval)
        try:
            yield
        finally:
            with self._changed:
                del self._watches[key]

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                due = self._wait_for_due()
            if due is None:
                return
            for receipts in due:  # outside the lock: batches start and end meanwhile
                self._extend(receipts)

    def _wait_for_due(self) -> list[list[str]] | None:
        """(Lock held.) The receipts of every watch now due, or None once closed."""
        while not self._closed:
            now = time.monotonic()
            due = [w for w in self._watches.values() if w.due <= now]
            if due:
                for watch in due:
                    watch.due = now + self._interval
                return [w.receipts for w in due]
            earliest = min((w.due for w in self._watches.values()), default=None)
            self._changed.wait(None if earliest is None else earliest - now)
        return None

    def _extend(self, receipts: list[str]) -> None:
        try:
            self._queue.extend_visibility(receipts, self._timeout)
            self.extensions += 1
            log.info("batch still running: extended visibility of %d messages", len(receipts))
        except Exception:
            log.exception("could not extend visibility (messages may be redelivered)")
