"""The local supervisor: worker processes that follow the ONE scaling policy (`services.elasticity.policy`).

Every period it samples the request queue's depth, asks `decide()` for the desired capacity and
reconciles the pool of `evision worker` processes with it:
- scale-out starts worker processes (each loads the model: ~0.5-1 s, which the policy's warm-up
  periods account for);
- scale-in sends SIGTERM: the worker finishes the batch in hand and exits (graceful drain). A
  busy worker is never killed on scale-in; only at shutdown, after a generous drain timeout;
- a worker that exits without being asked to is replaced while the desired capacity wants it,
  with an exponential back-off when workers keep dying young (a crash loop must not spin).
Each decision is one structured log line and is kept in the status snapshot (`services.status`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field

from services.elasticity.policy import ScalingPolicy, ScalingState, decide
from services.ports.capacity import ActivationRequests
from services.ports.storage import MessageQueue, QueueDepth
from services.ports.supervisor import DecisionRecord, SupervisorSnapshot
from services.settings import BackendSettings
from services.status import write_snapshot

log = logging.getLogger("evision.supervisor")
decision_log = logging.getLogger("evision.scaling")

RECENT_DECISIONS = 20


class SupervisorSettings(BackendSettings):
    """`evision up`'s elasticity knobs (EVISION_* variables; command-line options override them)."""

    scale_period: float = Field(default=1.0, gt=0, le=300, description="seconds between queue samples")
    min_workers: int = Field(default=0, ge=0, description="fewest worker processes (the policy minimum)")
    max_workers: int | None = Field(
        default=None, ge=1, description="most worker processes; default: CPU count, at most the policy max"
    )
    sweep_seconds: float = Field(
        default=3600.0, gt=0, description="how often expired inputs and results are deleted (local data)"
    )
    drain_seconds: float = Field(
        default=60.0, gt=0, description="at shutdown: how long workers may finish their batch before a kill"
    )
    standby_workers: int = Field(
        default=0,
        ge=0,
        le=4,
        description="standby workers (one inference thread each) that answer while no worker is in "
        "service, e.g. while the first one loads a large model",
    )


def local_policy(
    settings: SupervisorSettings, base: ScalingPolicy | None = None, *, fixed: int | None = None
) -> ScalingPolicy:
    """The cloud policy (`base`) made local: the sampling period, at most one worker per core.

    `fixed` pins the worker count (min = max = fixed). Raises ValueError for impossible bounds.
    """
    base = base or ScalingPolicy()
    if fixed is not None:
        if not 1 <= fixed <= base.max_capacity:
            raise ValueError(f"the worker count must be in 1..{base.max_capacity}, got {fixed}")
        policy = base.local(period_seconds=settings.scale_period, max_capacity=fixed)
        return replace(policy, min_capacity=fixed)
    policy = base.local(period_seconds=settings.scale_period, max_capacity=settings.max_workers)
    if settings.max_workers is not None and settings.max_workers > base.max_capacity:
        log.warning("max workers %d capped by the policy maximum %d", settings.max_workers, base.max_capacity)
    if settings.min_workers > policy.max_capacity:
        raise ValueError(f"min workers {settings.min_workers} is above max workers {policy.max_capacity}")
    scale_in_to = None if policy.scale_in_to is None else max(policy.scale_in_to, settings.min_workers)
    return replace(policy, min_capacity=settings.min_workers, scale_in_to=scale_in_to)


def worker_command(*, standby: bool = False) -> list[str]:
    """The real worker, as `evision up` starts it: it drains and exits should this process (its
    parent) die, even while it is still starting."""
    return [
        sys.executable,
        "-m",
        "services.cli",
        "worker",
        f"--exit-with-parent={os.getpid()}",
        *(["--standby"] if standby else []),
    ]


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    started: float  # monotonic
    draining_since: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass(frozen=True, slots=True)
class WorkerExit:
    pid: int
    code: int  # negative: killed by that signal
    requested: bool  # drained on request (scale-in, shutdown) rather than exited on its own


class WorkerPool:
    """Worker processes started from one command; scaled with `scale_to`, stopped with `shutdown`.

    Not thread-safe except `signal_all`: one thread (the supervisor's) drives it.
    """

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        stable_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._command = list(command)
        self._env = dict(env) if env is not None else None
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._stable = stable_seconds
        self._clock = clock
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()  # guards the list against signal_all from another thread
        self._failures = 0  # consecutive unexpected exits of young workers
        self._not_before = 0.0  # no (re)start before this time (back-off)
        self._owed = 0  # unexpected exits not yet replaced
        self.restarts = 0
        self.exits: deque[WorkerExit] = deque(maxlen=100)  # most recent exits, for tests and logs

    @property
    def running(self) -> list[int]:
        """Pids of workers running and not draining."""
        return [w.pid for w in self._workers if w.draining_since is None]

    @property
    def draining(self) -> list[int]:
        return [w.pid for w in self._workers if w.draining_since is not None]

    def reap(self) -> list[WorkerExit]:
        """Forget exited workers (returned); an exit nobody asked for counts towards the restart back-off."""
        now = self._clock()
        exits = []
        for worker in [w for w in self._workers if w.process.poll() is not None]:
            code = worker.process.returncode
            with self._lock:
                self._workers.remove(worker)
            exits.append(WorkerExit(worker.pid, code, worker.draining_since is not None))
            self.exits.append(exits[-1])
            if worker.draining_since is not None:
                log.info(
                    "worker %d drained and exited (%d) after %.1f s",
                    worker.pid,
                    code,
                    now - worker.draining_since,
                )
                continue
            lived = now - worker.started
            self._failures = 1 if lived >= self._stable else self._failures + 1
            delay = (
                0.0
                if lived >= self._stable
                else min(self._max_backoff, self._backoff * 2 ** (self._failures - 1))
            )
            self._not_before = now + delay
            self._owed += 1
            log.warning(
                "worker %d exited unexpectedly with %d after %.1f s; replacing it in %.1f s if still wanted",
                worker.pid,
                code,
                lived,
                delay,
            )
        return exits

    def scale_to(self, desired: int) -> None:
        """Start workers up to `desired` (unless backing off), or drain the surplus (newest first)."""
        running = [w for w in self._workers if w.draining_since is None]
        if len(running) < desired:
            if self._clock() < self._not_before:
                return
            for _ in range(desired - len(running)):
                self._start()
            return
        self._owed = 0  # the capacity is there (or not wanted): nothing is being replaced any more
        # Newest first: the least likely to hold a batch yet. Draining is safe either way.
        for worker in sorted(running, key=lambda w: w.started, reverse=True)[: len(running) - desired]:
            self._drain(worker)

    def _start(self) -> None:
        process = subprocess.Popen(self._command, env=self._env, start_new_session=True)
        with self._lock:
            self._workers.append(_Worker(process, self._clock()))
        if self._owed:
            self._owed -= 1
            self.restarts += 1
        log.info("worker %d started", process.pid)

    def _drain(self, worker: _Worker) -> None:
        worker.draining_since = self._clock()
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signal.SIGTERM)
        log.info("worker %d asked to finish its batch and exit (SIGTERM)", worker.pid)

    def signal_all(self, signum: int) -> None:
        with self._lock:
            processes = [w.process for w in self._workers]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)

    def shutdown(self, drain_seconds: float) -> None:
        """Drain every worker; kill (and log) only those still running after `drain_seconds`."""
        for worker in list(self._workers):
            if worker.draining_since is None:
                self._drain(worker)
        deadline = time.monotonic() + drain_seconds
        for worker in list(self._workers):
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker %d still busy after %g s of draining: killing it", worker.pid, drain_seconds
                )
                worker.process.kill()
                worker.process.wait()
        self.reap()


class Supervisor:
    """Samples `queue` every `policy.period_seconds`, applies `decide()` and reconciles `pool`."""

    def __init__(
        self,
        *,
        policy: ScalingPolicy,
        queue: MessageQueue,
        pool: WorkerPool,
        status_file: Path | None = None,
        on_decision: Callable[[DecisionRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
        standby: WorkerPool | None = None,
        standby_workers: int = 0,
        activations: ActivationRequests | None = None,
    ) -> None:
        self.policy = policy
        self.pool = pool
        # Standby workers: always running (replaced if they die), each taking work only while
        # `pool` has no worker in service (they ask the backend themselves).
        self.standby = standby
        self._standby_workers = standby_workers if standby is not None else 0
        # Uploads the web tier marked: demand even if a standby answered them within the period.
        self._activations = activations
        self._queue = queue
        self._status_file = status_file
        self._on_decision = on_decision
        self._clock = clock
        self._history: deque[QueueDepth] = deque(maxlen=policy.history_periods)
        self._state = ScalingState()
        self.desired = 0
        self.recent: deque[DecisionRecord] = deque(maxlen=RECENT_DECISIONS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one period --------------------------------------------------------------------------------
    def tick(self) -> DecisionRecord | None:
        """Sample, decide, reconcile, record. Returns the decision (None if the queue was unreadable)."""
        for gone in self.pool.reap():
            self._release(gone)
        if self.standby is not None:
            for gone in self.standby.reap():
                self._release(gone)
            self.standby.scale_to(self._standby_workers)
        now = self._clock()
        try:
            sample = self._queue.depth()
        except Exception:
            log.exception("could not read the queue depth; keeping %d workers", self.desired)
            self.pool.scale_to(self.desired)  # still replace crashed workers
            self._write_snapshot()
            return None
        if self._activations is not None and self._activations.take() and sample.outstanding == 0:
            sample = QueueDepth(visible=1, in_flight=0)  # an upload came and went: count it
        self._history.append(sample)
        current = self.desired
        decision = decide(self.policy, self._history, current, self._state)
        self.desired, self._state = decision.desired, decision.state
        self.pool.scale_to(self.desired)
        record = DecisionRecord(
            time=now,
            visible=sample.visible,
            in_flight=sample.in_flight,
            current=current,
            desired=decision.desired,
            reason=decision.reason,
            running=len(self.pool.running),
            draining=len(self.pool.draining),
        )
        # A change is news (INFO); a period with work but no change is routine (DEBUG); idle is silent.
        if decision.changed(current):
            decision_log.info("%s", decision_line(record))
        elif sample.outstanding > 0 or record.draining:
            decision_log.debug("%s", decision_line(record))
        if decision.changed(current) or sample.outstanding > 0 or record.draining:
            self.recent.append(record)
        if self._on_decision is not None:
            self._on_decision(record)
        self._write_snapshot()
        return record

    def _release(self, gone: WorkerExit) -> None:
        """What a worker held when it exited comes back now, not when its lease runs out: after a
        crash, and after a clean exit too (a drained worker whose last long poll was cut short by
        its SIGTERM may have taken messages it never saw). Nothing held: one cheap write."""
        try:
            released = self._queue.release_held_by(gone.pid)
        except Exception:
            log.exception("could not release what worker %d held (its lease runs out instead)", gone.pid)
            return
        if released:
            how = "died" if gone.code != 0 else "exited"
            log.warning(
                "worker %d %s holding %d messages: released them for redelivery", gone.pid, how, released
            )

    def snapshot(self) -> SupervisorSnapshot:
        return SupervisorSnapshot(
            pid=os.getpid(),
            updated_at=self._clock(),
            period_seconds=self.policy.period_seconds,
            min_workers=self.policy.min_capacity,
            max_workers=self.policy.max_capacity,
            desired=self.desired,
            running=len(self.pool.running),
            draining=len(self.pool.draining),
            restarts=self.pool.restarts,
            decisions=list(self.recent),
        )

    def _write_snapshot(self) -> None:
        if self._status_file is None:
            return
        try:
            write_snapshot(self._status_file, self.snapshot())
        except OSError:
            log.exception("could not write the status snapshot %s", self._status_file)

    # -- the sampling thread ----------------------------------------------------------------------
    def start(self) -> None:
        log.info(
            "supervisor: %d..%d workers, sampling every %.1f s, scale in after %d idle periods",
            self.policy.min_capacity,
            self.policy.max_capacity,
            self.policy.period_seconds,
            self.policy.scale_in_idle_periods,
        )
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = self.policy.period_seconds
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a bug in one period must not stop the supervision
                log.exception("supervisor period failed")
            next_tick += period
            self._stop.wait(max(0.0, next_tick - time.monotonic()))
            next_tick = max(next_tick, time.monotonic() - period)  # after a long stall, don't burst

    def stop(self, drain_seconds: float) -> None:
        """Stop sampling, drain every worker (kill after `drain_seconds`), remove the snapshot."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        running = len(self.pool.running) + len(self.pool.draining)
        log.info("supervisor stopping: draining %d workers (up to %.0f s)", running, drain_seconds)
        self.pool.shutdown(drain_seconds)
        if self.standby is not None:
            self.standby.shutdown(drain_seconds)
        self.desired = 0
        if self._status_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self._status_file.unlink()


def decision_line(record: DecisionRecord) -> str:
    """The structured log line of one decision: JSON with an ISO time first."""
    stamp = datetime.fromtimestamp(record.time, UTC).isoformat(timespec="milliseconds")
    return json.dumps({"event": "scaling", "at": stamp, **record.model_dump()}, separators=(",", ":"))
