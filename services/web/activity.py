"""One INFO line every 10 s while the service is busy: uploads/s, answers/s, queue, workers.

Routine per-request and per-batch lines are DEBUG; this summary is what a terminal running
`evision up` shows under load (and nothing while idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from anyio import to_thread

from services.ports.storage import QueueDepth
from services.ports.supervisor import SupervisorSnapshot

log = logging.getLogger("evision.activity")
INTERVAL_SECONDS = 10.0


class Activity:
    def __init__(
        self,
        *,
        depth: Callable[[], QueueDepth],
        supervisor: Callable[[], SupervisorSnapshot | None],
        capacity_manager: str | None,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        self._depth = depth
        self._supervisor = supervisor  # blocking: a file read, locally
        self._capacity_manager = capacity_manager
        self._interval = interval
        self.uploads = 0  # counted on the event loop only: no lock needed
        self.answered = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="activity-summary")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def __aenter__(self) -> Activity:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        uploads, answered, since = self.uploads, self.answered, time.monotonic()
        while True:
            await asyncio.sleep(self._interval)
            now = time.monotonic()
            new_uploads, new_answers = self.uploads - uploads, self.answered - answered
            uploads, answered, elapsed, since = self.uploads, self.answered, now - since, now
            try:
                depth = await to_thread.run_sync(self._depth)
            except Exception as exc:  # the summary is best-effort; the service goes on
                log.debug("no queue depth for the summary: %s", exc)
                continue
            if new_uploads or new_answers or depth.outstanding:
                log.info(
                    "last %.0f s: %.1f uploads/s, %.1f answers/s; queue %d visible + %d in flight; %s",
                    elapsed,
                    new_uploads / elapsed,
                    new_answers / elapsed,
                    depth.visible,
                    depth.in_flight,
                    self._workers(),
                )

    def _workers(self) -> str:
        snapshot = self._supervisor()
        if snapshot is not None and not snapshot.stale():
            return f"workers {snapshot.running} running, {snapshot.desired} desired"
        return f"workers managed by {self._capacity_manager or 'nothing here'}"
