"""A background sweep that keeps the local data dir bounded: inputs and results past their expiry go.

`evision up` runs one; in the cloud the buckets' lifecycle rules do the same job, so the sweep
asks the backend (`Backend.storage.delete_expired`), which is a no-op there.
"""

from __future__ import annotations

import logging
import time

from services.periodic import Periodic
from services.ports.backend import Backend

log = logging.getLogger("evision.retention")


class RetentionSweeper:
    """Every `every` seconds (and once at start), delete what outlived its expiry."""

    def __init__(self, backend: Backend, *, every: float) -> None:
        self._backend = backend
        self._periodic = Periodic(self.sweep, every=every, name="retention", at_start=True)
        self.removed = 0

    def sweep(self) -> int:
        try:
            removed = self._backend.storage.delete_expired(time.time())
        except Exception:  # a failed sweep is retried next time; the service goes on
            log.exception("the retention sweep failed")
            return 0
        if removed:
            log.info("retention: deleted %d expired inputs and results", removed)
        self.removed += removed
        return removed

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()
