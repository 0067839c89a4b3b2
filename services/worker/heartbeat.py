"""Keeps a batch's messages invisible while it runs longer than expected."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from types import TracebackType

from services.ports import MessageQueue

log = logging.getLogger(__name__)


class VisibilityHeartbeat:
    """Every `fraction * timeout` seconds, push the messages' visibility timeout `timeout` ahead.

    Used as a context manager around a batch. A batch that ends in time never extends anything.
    """

    def __init__(
        self, queue: MessageQueue, receipts: Sequence[str], *, timeout: float, fraction: float
    ) -> None:
        self._queue = queue
        self._receipts = list(receipts)
        self._timeout = timeout
        self._interval = timeout * fraction
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visibility-heartbeat", daemon=True)
        self.extensions = 0

    def __enter__(self) -> VisibilityHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self._queue.extend_visibility(self._receipts, self._timeout)
                self.extensions += 1
                log.info("batch still running: extended visibility of %d messages", len(self._receipts))
            except Exception:
                log.exception("could not extend visibility (messages may be redelivered)")
