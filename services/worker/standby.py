"""The standby worker's gate: take work only while the worker group has no worker in service.

A standby is an ordinary worker (same loop, leases, isolation, results and replies) that lives on
a web instance, or beside `evision up`'s pool, with one inference thread. It bridges the seconds
in which the group is at zero or still warming; once a worker of the group is in service it stops
receiving, so steady load runs on the group and the web tier keeps its CPU for HTTP. The count is
asked at most every `recheck_seconds`; a batch already received always finishes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from services.ports.capacity import WorkerGroupGauge

log = logging.getLogger("services.worker.standby")


class StandbyGate:
    def __init__(
        self,
        gauge: WorkerGroupGauge,
        *,
        recheck_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gauge = gauge
        self.recheck_seconds = recheck_seconds
        self._clock = clock
        self._open: bool | None = None  # not asked yet
        self._checked_at = 0.0
        self._failing = False

    def is_open(self) -> bool:
        """True while the group has no worker in service (as of the last check)."""
        now = self._clock()
        if self._open is not None and now - self._checked_at < self.recheck_seconds:
            return self._open
        self._checked_at = now
        try:
            in_service = self._gauge.in_service()
        except Exception as error:  # keep the last answer: a brief API error must not flap it
            if not self._failing:
                log.warning("standby: cannot count the group's workers in service (%s)", error)
            self._failing = True
            return True if self._open is None else self._open  # unknown at start: bridge
        self._failing = False
        is_open = in_service == 0
        if is_open != self._open:
            if is_open:
                log.info("standby: no worker of the group in service: taking work")
            else:
                log.info("standby: %d worker(s) of the group in service: taking no work", in_service)
        self._open = is_open
        return is_open
