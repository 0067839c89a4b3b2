"""A background thread that runs one step every period until stopped; a failed step is logged and
the next period tries again (the service goes on). The period may be a function (asked before each
wait), and a `woken` event ends a wait early (work arrived: step now)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Periodic:
    def __init__(
        self,
        step: Callable[[], object],
        *,
        every: float | Callable[[], float],
        name: str,
        at_start: bool = False,
        woken: threading.Event | None = None,
    ) -> None:
        self._step = step
        self._every = every if callable(every) else lambda: every
        self._name = name
        self._at_start = at_start
        self._stop = threading.Event()
        self._woken = woken or threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop; returns once a step in progress has ended."""
        self._stop.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Periodic:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        if self._at_start:
            self._once()
        while True:
            self._woken.wait(self._every())
            self._woken.clear()
            if self._stop.is_set():
                return
            self._once()

    def _once(self) -> None:
        try:
            self._step()
        except Exception:
            logging.getLogger(__name__).exception(
                "%s failed; trying again in %g s", self._name, self._every()
            )
