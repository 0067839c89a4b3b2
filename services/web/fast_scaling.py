"""The web tier's part in scaling the workers within seconds (cloud): it sees every upload first.

- Every `depth_metric_seconds` ONE process per instance (a `HostLease`) publishes the request
  queue's depth as a high-resolution metric (the fast alarms' input; SQS's own metrics are
  1-minute only; each PutMetricData is billed). An upload that arrives after an idle datapoint
  is published at once by the process that takes it, so no alarm acts on stale idle periods.
- On an upload while the worker group has no capacity it raises the group at once (activation),
  at most once per `activation_seconds`.
Both calls block (HTTP to AWS): they run in a worker thread, never delaying the upload. Where the
backend has neither (local), both are silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from anyio import to_thread

from services.ports.capacity import CapacityActivator
from services.ports.storage import MessageQueue, QueueDepth
from services.ports.telemetry import DepthReporter
from services.web.host_lease import HostLease

log = logging.getLogger("evision.fast_scaling")
NUDGE_MIN_SECONDS = 1.0  # at most one extra datapoint per second


class FastScaling:
    def __init__(
        self,
        *,
        requests: MessageQueue,
        reporter: DepthReporter,
        activator: CapacityActivator,
        depth_seconds: float,
        activation_seconds: float,
    ) -> None:
        self._requests = requests
        self._lease = HostLease(f"depth-publisher:{requests.name}")
        self._reporter = reporter
        self._activator = activator
        self._depth_seconds = depth_seconds
        self._activation_seconds = activation_seconds
        self._last_idle = True
        self._last_nudge = float("-inf")
        self._last_upload = float("-inf")
        self._last_activation = float("-inf")
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self.published = 0
        self.activations = 0
        self.latest: QueueDepth | None = None  # the last depth published

    def depth(self) -> QueueDepth:
        """The queue's depth: the one last published while publishing runs (no second read)."""
        if self._depth_seconds > 0 and self.latest is not None:
            return self.latest
        return self._requests.depth()

    def start(self) -> None:
        if self._depth_seconds > 0:
            self._loop_task = asyncio.get_running_loop().create_task(self._publish_every_period())

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> FastScaling:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def on_upload(self) -> None:
        """Called on the event loop for each accepted upload; returns at once."""
        now = time.monotonic()
        # The publisher knows the last datapoint; another process judges by its own uploads.
        idle = self._last_idle if self.publishing else now - self._last_upload >= self._depth_seconds
        self._last_upload = now
        if self._depth_seconds > 0 and idle and now - self._last_nudge >= NUDGE_MIN_SECONDS:
            self._last_nudge = now
            self._spawn(self._publish())
        if now - self._last_activation >= self._activation_seconds:
            self._last_activation = now
            self._spawn(self._activate())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def publishing(self) -> bool:
        """Whether this process is its instance's depth publisher (the lease is taken if free)."""
        return self._lease.held()

    async def _publish_every_period(self) -> None:
        try:
            while True:
                if self.publishing:
                    await self._publish()
                await asyncio.sleep(self._depth_seconds)
        finally:
            self._lease.release()

    async def _publish(self) -> None:
        try:
            depth: QueueDepth = await to_thread.run_sync(self._requests.depth)
            await to_thread.run_sync(self._reporter.report, self._requests.name, depth)
        except Exception as exc:  # a missed datapoint is not fatal: the backstop alarms remain
            log.warning("could not publish the queue depth: %s", exc)
            return
        self._last_idle = depth.outstanding == 0
        self.latest = depth
        self.published += 1

    async def _activate(self) -> None:
        try:
            if await to_thread.run_sync(self._activator.activate):
                self.activations += 1
        except Exception as exc:  # the backstop alarm starts workers within a few minutes anyway
            log.warning("could not activate the worker group: %s", exc)
