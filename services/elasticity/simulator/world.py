"""The simulated cloud tier: request queue, web wait, worker instances and their lifecycle, billing.

A discrete-event simulation (a heap of timed events, arrivals merged in from a sorted array), so a
day of mostly idle time costs nothing and a 90 000-upload hour runs in about a second. Capacity
changes come from a controller (`controllers.py`), which the world calls every period.

What is modelled, and how
- Queue: visible messages in arrival order and a count in flight. An idle worker long-polls, so
  it takes a batch (up to `batch_size`) the moment messages are visible.
- Worker: one server per instance at `images_per_second`; a batch of n is done after n / rate s,
  and its answers reach the clients `round_trip` s later (fetch, store, reply, delete overlap the
  next batch's inference).
- Lifecycle: a launch becomes InService after `Phases.cold_start`, or `warm_start` when a
  Stopped instance of the warm pool is used; capacity removed goes back to the pool when
  `reuse_on_scale_in`, else is terminated.
- Scale-in protection: an instance holding a batch is never removed; the group removes it as
  soon as it is idle, if capacity is still above the desired count.
- Standby: `standby` servers on the web tier (one per web instance by default) at the standby's
  speed, not capacity and not billed (the web instances are). Each asks the group's in-service
  count every `gate_seconds` and, while it was 0 at the last ask, takes batches as a worker does
  (workers first when both are idle).
- Billing: per second from running (after `launch_request + pending`) to the end, 60 s minimum
  per start; warm instances cost their EBS volume only.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from services.elasticity.simulator.calibration import Calibration
from services.elasticity.simulator.metrics import MetricSeries
from services.elasticity.simulator.requests import JOB_CHUNK
from services.elasticity.simulator.workloads import Workload


@dataclass(eq=False)
class Instance:
    id: int
    launched: float
    ready_at: float
    billed_from: float
    in_service: bool = False
    busy: bool = False
    ended: float | None = None
    self_terminating: bool = False  # the seeds' workers: exit when a receive finds nothing
    idle_since: float = 0.0

    def billed_seconds(self, minimum: float, now: float) -> float:
        end = self.ended if self.ended is not None else now
        return max(minimum, end - self.billed_from) if end > self.billed_from else 0.0


@dataclass(eq=False)
class StandbyServer:
    """A standby worker on a web instance: takes work only while its gate is open."""

    id: int
    open: bool = True  # the group had no instance in service at the last ask
    busy: bool = False
    answered: int = 0
    batches_started: list[float] = field(default_factory=list)


@dataclass
class TimelinePoint:
    t: float
    visible: int
    in_flight: int
    desired: int
    in_service: int
    answered: int


class Controller:
    """Decides the desired capacity; `tick` is called every `period` seconds from `first_tick`."""

    period: float = 60.0
    first_tick: float = 0.0

    def tick(self, world: World, now: float) -> None:
        raise NotImplementedError

    def on_arrival(self, world: World, now: float) -> None:
        """Called after each arrival (the web tier's activation hook); nothing by default."""


@dataclass
class Decision:
    t: float
    before: int
    after: int
    reason: str


@dataclass
class World:
    workload: Workload
    calibration: Calibration
    controller: Controller
    min_capacity: int = 0
    max_capacity: int = 20
    warm_pool: int = 0
    reuse_on_scale_in: bool = False
    series: dict[str, MetricSeries] = field(default_factory=dict)
    tail_seconds: float = 4 * 3600.0  # simulate at most this long after the workload's end
    self_terminating_workers: bool = False
    idle_exit_seconds: float = 20.0  # a self-terminating worker exits after one empty long poll
    standby: int = 0  # standby workers on the web tier (all web instances together)

    def __post_init__(self) -> None:
        count = len(self.workload.arrivals)
        self.now = 0.0
        self.answered_at: npt.NDArray[np.float64] = np.full(count, np.nan)
        self.queue: deque[int] = deque()
        self.in_flight = 0
        self.answered = 0
        self.desired = self.min_capacity
        self.instances: list[Instance] = []
        self.idle: list[Instance] = []
        self.warm_available = self.warm_pool
        self.preparing: list[Instance] = []  # launched to refill the warm pool (billed, not capacity)
        self.decisions: list[Decision] = []
        self.timeline: list[TimelinePoint] = []
        self.back_to_min_at: float | None = None
        self._events: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._ids = itertools.count()
        self._warming: list[tuple[float, int]] = []  # (warm-up ends, capacity added)
        self._next_arrival = 0
        self.standbys = [StandbyServer(n) for n in range(self.standby)]
        for _ in range(self.min_capacity):
            self._launch(0.0, instant=True)

    # -- the event loop -------------------------------------------------------------------------
    def at(self, t: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self._events, (t, next(self._seq), action))

    def run(self) -> World:
        arrivals = self.workload.arrivals
        end = self.workload.horizon + self.tail_seconds
        if len(arrivals):
            end = max(end, float(arrivals[-1]) + self.tail_seconds)
        for name, series in self.series.items():
            self._schedule_sampling(name, series)
        self._schedule_timeline()
        if self.standbys:
            self.at(0.0, self._ask_gate)
        self.at(self.controller.first_tick, self._tick)
        while True:
            next_event = self._events[0][0] if self._events else float("inf")
            if self._next_arrival < len(arrivals) and arrivals[self._next_arrival] <= next_event:
                self.now = float(arrivals[self._next_arrival])
                self._arrive(self._next_arrival)
                self._next_arrival += 1
                continue
            if next_event > end or self._finished():
                break
            self.now, _, action = heapq.heappop(self._events)
            action(self.now)
        self._record(self.now)
        return self

    def _finished(self) -> bool:
        """Every upload answered after the workload's end, and the pool back at its minimum."""
        if self._next_arrival < len(self.workload.arrivals) or self.answered < len(self.answered_at):
            return False
        if self.now < self.workload.horizon or self.live_capacity() != self.min_capacity:
            return False
        if self.back_to_min_at is None:
            self.back_to_min_at = self.now
        return True

    def _schedule_sampling(self, name: str, series: MetricSeries) -> None:
        def sample(t: float) -> None:
            series.record(t, visible=len(self.queue), in_flight=self.in_flight, desired=self.desired)
            self.at(t + series.resolution, sample)

        self.at(0.0, sample)

    def _schedule_timeline(self) -> None:
        # Fine enough to read a burst, coarse enough for a day (~3 000 points at most).
        step = 30.0 if self.workload.horizon > 3600 else 1.0 if self.calibration.billed else 0.1

        def record(t: float) -> None:
            self._record(t)
            self.at(t + step, record)

        self.at(0.0, record)

    def _tick(self, t: float) -> None:
        self.controller.tick(self, t)
        self.at(t + self.controller.period, self._tick)

    def _record(self, t: float) -> None:
        self.timeline.append(
            TimelinePoint(
                t, len(self.queue), self.in_flight, self.desired, self.in_service_count(), self.answered
            )
        )

    # -- queue and workers -------------------------------------------------------------------
    def _arrive(self, index: int) -> None:
        self.queue.append(index)
        self.controller.on_arrival(self, self.now)
        if self.idle:
            self._take_batch(self.idle.pop(), self.now)
        elif (standby := self._idle_standby()) is not None:
            self._standby_batch(standby, self.now)

    def _ask_gate(self, t: float) -> None:
        """Every standby asks the group's in-service count (together: one clock is enough)."""
        open_now = self.in_service_count() == 0
        for standby in self.standbys:
            standby.open = open_now
            if open_now and not standby.busy and self.queue:
                self._standby_batch(standby, t)
        self.at(t + self.calibration.standby.gate_seconds, self._ask_gate)

    def _idle_standby(self) -> StandbyServer | None:
        return next((s for s in self.standbys if s.open and not s.busy), None)

    def _batch_size(self) -> int:
        """Messages per receive: 10 uploads, or a job's chunk of keys (one message)."""
        return JOB_CHUNK if self.workload.job else self.calibration.speed.batch_size

    def _standby_batch(self, standby: StandbyServer, t: float) -> None:
        count = min(self._batch_size(), len(self.queue))
        batch = [self.queue.popleft() for _ in range(count)]
        self.in_flight += count
        standby.busy = True
        standby.batches_started.append(t)
        rate = self.calibration.standby.images_per_second
        self.at(t + count / rate, lambda done: self._standby_done(standby, batch, done))

    def _standby_done(self, standby: StandbyServer, batch: list[int], t: float) -> None:
        self.in_flight -= len(batch)
        self.answered_at[batch] = t + self.calibration.speed.round_trip
        self.answered += len(batch)
        standby.answered += len(batch)
        standby.busy = False
        if standby.open and self.queue:
            self._standby_batch(standby, t)

    def standby_answered(self) -> int:
        return sum(s.answered for s in self.standbys)

    def first_in_service(self) -> float | None:
        """When the first worker instance came into service (None: none did)."""
        times = [i.ready_at for i in self.instances if i.ended is None or i.ended >= i.ready_at]
        return min(times, default=None)

    def _take_batch(self, instance: Instance, t: float) -> None:
        speed = self.calibration.speed
        count = min(self._batch_size(), len(self.queue))
        batch = [self.queue.popleft() for _ in range(count)]
        self.in_flight += count
        instance.busy = True
        self.at(t + count / speed.images_per_second, lambda done: self._batch_done(instance, batch, done))

    def _batch_done(self, instance: Instance, batch: list[int], t: float) -> None:
        self.in_flight -= len(batch)
        self.answered_at[batch] = t + self.calibration.speed.round_trip
        self.answered += len(batch)
        instance.busy = False
        self._became_idle(instance, t)

    def _became_idle(self, instance: Instance, t: float) -> None:
        if instance.ended is not None:
            return
        if self.queue:
            self._take_batch(instance, t)
        elif instance.self_terminating:
            self.idle.append(instance)
            instance.idle_since = t
            self.at(t + self.idle_exit_seconds, lambda now: self._exit_if_idle(instance, t, now))
        elif self.live_capacity() > self.desired:  # scale-in was waiting for this one (protection)
            self._remove(instance, t)
        else:
            self.idle.append(instance)

    def _exit_if_idle(self, instance: Instance, idle_since: float, t: float) -> None:
        """The long poll that began at `idle_since` came back empty: the worker exits."""
        if instance.ended is None and instance.idle_since == idle_since and instance in self.idle:
            self.desired = max(self.min_capacity, self.desired - 1)
            self._remove(instance, t)

    # -- capacity ----------------------------------------------------------------------------
    def live(self) -> list[Instance]:
        return [i for i in self.instances if i.ended is None]

    def live_capacity(self) -> int:
        return sum(1 for i in self.instances if i.ended is None)

    def in_service_count(self) -> int:
        return sum(1 for i in self.instances if i.ended is None and i.in_service)

    def warming_capacity(self, t: float) -> int:
        self._warming = [(until, n) for until, n in self._warming if until > t]
        return sum(n for _, n in self._warming)

    def set_desired(self, desired: int, reason: str, *, warmup: float | None = None) -> None:
        desired = max(self.min_capacity, min(self.max_capacity, desired))
        before = self.desired
        if desired == before:
            return
        self.decisions.append(Decision(self.now, before, desired, reason))
        self.desired = desired
        if desired > before and warmup:
            self._warming.append((self.now + warmup, desired - before))
        self._reconcile(self.now)

    def _reconcile(self, t: float) -> None:
        live = self.live()
        for _ in range(self.desired - len(live)):
            self._launch(t)
        excess = len(live) - self.desired
        if excess <= 0:
            return
        # Not yet in service first (newest first), then idle ones; busy ones are protected.
        removable = [i for i in reversed(live) if not i.in_service] + [
            i for i in live if i.in_service and not i.busy
        ]
        for instance in removable[:excess]:
            self._remove(instance, t)

    def _launch(self, t: float, *, instant: bool = False) -> None:
        phases = self.calibration.phases
        if instant:
            ready = t
        elif self.warm_available > 0:
            self.warm_available -= 1
            ready = t + phases.warm_start
            self._refill_warm_pool(t)
        else:
            ready = t + phases.cold_start
        instance = Instance(
            id=next(self._ids),
            launched=t,
            ready_at=ready,
            billed_from=t + min(ready - t, phases.launch_request + phases.pending),
            self_terminating=self.self_terminating_workers,
        )
        self.instances.append(instance)
        if instant:
            self._in_service(instance, t)
        else:
            self.at(ready, lambda now: self._in_service(instance, now))

    def _refill_warm_pool(self, t: float) -> None:
        """The group launches a replacement into the pool: it boots, installs, then stops."""
        phases = self.calibration.phases
        prepared = t + phases.cold_start
        instance = Instance(
            id=next(self._ids),
            launched=t,
            ready_at=prepared,
            billed_from=t + phases.launch_request + phases.pending,
            ended=prepared,
        )
        self.preparing.append(instance)

        def stopped(_: float) -> None:
            self.warm_available = min(self.warm_pool, self.warm_available + 1)

        self.at(prepared, stopped)

    def _in_service(self, instance: Instance, t: float) -> None:
        if instance.ended is not None:
            return
        instance.in_service = True
        self._became_idle(instance, t)

    def _remove(self, instance: Instance, t: float) -> None:
        instance.ended = t
        if instance in self.idle:
            self.idle.remove(instance)
        if self.reuse_on_scale_in and instance.in_service and self.warm_available < self.warm_pool:
            self.warm_available += 1  # back to Stopped in the warm pool
