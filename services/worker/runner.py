"""The worker's runner: receive ≤10 at a time and run each batch through the pipeline.

Batches overlap (`batches_in_flight`, default 2): while one batch is classified, the next is
received and fetched and the previous one is stored, replied to and deleted, so the inference
threads (one per core, sharing one model session) never wait for the queue or the store. The
runner owns the slots, the executors, the signals and scale-in protection; the stages of one
batch are `pipeline.BatchPipeline`'s.

A stop (first SIGTERM/SIGINT) finishes every batch in hand and takes no more; a second exits at
once. A batch that outlives its deadline makes the worker stop taking work and exit with
`EXIT_WEDGED`: a stuck thread cannot be interrupted, a fresh process can (the local supervisor
and systemd restart it).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from types import FrameType

from services.jobs.store import JobStore
from services.ports.backend import Backend
from services.ports.capacity import NoProtection, ScaleInProtection
from services.ports.classifier import ImageClassifier
from services.ports.storage import Message
from services.worker.chunks import ChunkProcessor
from services.worker.exceptions import StopRequestedError
from services.worker.heartbeat import VisibilityHeartbeat
from services.worker.isolation import Isolator
from services.worker.metrics import MetricsPublisher
from services.worker.pipeline import BatchPipeline, Item, WorkerPorts
from services.worker.settings import WorkerSettings
from services.worker.standby import StandbyGate

log = logging.getLogger("services.worker")

# While a job has chunks waiting, the request queue is polled this briefly between chunks (an
# upload waits at most this plus a chunk in progress; the doorbell wakes local polls at once).
JOB_REQUEST_POLL = 0.05
# An idle worker's long poll on the request queue, at most: a job started meanwhile waits this long.
# Where a receive is billed (SQS) 2 s; where it is a local call (brief I/O) 0.5 s, as a small job's
# whole run is a few seconds.
JOB_IDLE_POLL = 2.0
JOB_IDLE_POLL_LOCAL = 0.5
EXIT_WEDGED = 70  # EX_SOFTWARE: a batch outlived its deadline; restart the process


class Worker:
    def __init__(
        self,
        *,
        settings: WorkerSettings,
        ports: WorkerPorts,
        worker_id: str | None = None,
        metrics: MetricsPublisher | None = None,
        protection: ScaleInProtection | None = None,
        brief_io: bool = False,
        gate: StandbyGate | None = None,
    ) -> None:
        self.settings = settings
        self._gate = gate  # a standby: receive only while it is open
        self.requests = ports.requests
        self.protection = protection or NoProtection()  # scale-in protection while holding messages
        standby = "standby-" if gate else ""  # results name who classified them
        self.worker_id = worker_id or f"{standby}{socket.gethostname()}-{os.getpid()}"
        # Blob reads and writes that return at once (local files) run in the batch's own thread:
        # handing each to a pool thread costs more than the call. Network calls run concurrently.
        self._io = (
            None if brief_io else ThreadPoolExecutor(settings.io_threads, thread_name_prefix="worker-io")
        )
        self._job_idle_poll = JOB_IDLE_POLL_LOCAL if brief_io else JOB_IDLE_POLL
        self._compute = ThreadPoolExecutor(settings.threads, thread_name_prefix="worker-infer")
        self._heartbeat = VisibilityHeartbeat(
            ports.requests, timeout=settings.visibility_timeout, fraction=settings.extend_after
        )
        self._isolator = Isolator(settings) if settings.isolate_redelivered else None
        self.pipeline = BatchPipeline(
            isolator=self._isolator,
            settings=settings,
            ports=ports,
            worker_id=self.worker_id,
            io=self._io,
            compute=self._compute,
            heartbeat=self._heartbeat,
            metrics=metrics,
        )
        self.chunks: ChunkProcessor | None = None
        if ports.jobs is not None and ports.job_source is not None:
            self._job_heartbeat = VisibilityHeartbeat(
                ports.jobs, timeout=settings.visibility_timeout, fraction=settings.extend_after
            )
            self.chunks = ChunkProcessor(
                queue=ports.jobs,
                store=JobStore(ports.outputs),
                source=ports.job_source,
                core=self.pipeline.core,  # one classify core for both message kinds
                io=self._io,
                heartbeat=self._job_heartbeat,
                deadline_seconds=settings.batch_deadline,
            )
        # The last look at the job queue found a chunk: poll the requests briefly (True at first:
        # look at the job queue before the first long poll).
        self._job_work = True
        self._slots = threading.BoundedSemaphore(settings.batches_in_flight)
        self._counts = threading.Lock()
        self._in_flight = 0  # batches received and not yet finished
        self._stop = threading.Event()
        self._idle = False
        self.batches = 0
        self.messages = 0

    @classmethod
    def on_backend(
        cls,
        backend: Backend,
        settings: WorkerSettings,
        classifier: ImageClassifier,
        *,
        metrics: MetricsPublisher | None = None,
        protection: ScaleInProtection | None = None,
        gate: StandbyGate | None = None,
    ) -> Worker:
        """A worker on `backend`'s queue and buckets, protected from scale-in as the backend provides."""
        return cls(
            settings=settings,
            ports=WorkerPorts.of(backend, settings, classifier),
            metrics=metrics,
            protection=protection or backend.capacity.scale_in_protection(settings.placement()),
            brief_io=backend.storage.calls_are_brief,
            gate=gate,
        )

    @property
    def wedged(self) -> bool:
        """A batch or a chunk outlived its deadline: some thread may never return (exit, do not
        join it)."""
        return self.pipeline.wedged or (self.chunks is not None and self.chunks.wedged)

    # -- lifecycle ------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        if self._stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info(
            "%s: finishing the batch in hand, then exiting (again to exit now)", signal.Signals(signum).name
        )
        self.request_stop()
        if self._idle:  # waiting in the long poll: leave it now (batches in hand still finish)
            raise StopRequestedError

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> threading.Event:
        """Set once a stop was asked for (a signal, or a wedged batch)."""
        return self._stop

    def close(self) -> None:
        wait = not self.wedged  # a stuck thread would never be joined
        if self._io is not None:
            self._io.shutdown(wait=wait, cancel_futures=not wait)
        self._compute.shutdown(wait=wait, cancel_futures=not wait)
        self._heartbeat.close()
        self.pipeline.models.close()
        if self.chunks is not None:
            self._job_heartbeat.close()
        if self._isolator is not None:
            self._isolator.close()

    def work(self, *, burst: bool = False) -> int:
        """Run until stopped (or, in burst mode, until a receive finds the queue empty).

        Returns once every batch in hand is finished: a stop never abandons received messages.
        0, or EXIT_WEDGED when a batch outlived its deadline.
        """
        wait = self.settings.burst_poll_seconds if burst else self.settings.poll_seconds
        log.info(
            "worker %s ready (%sburst=%s, threads=%d, batches in flight=%d)",
            self.worker_id,
            "standby, " if self._gate else "",
            burst,
            self.settings.threads,
            self.settings.batches_in_flight,
        )
        slots = self.settings.batches_in_flight
        with ThreadPoolExecutor(slots, thread_name_prefix="worker-batch") as batches:
            while not self._stop.is_set():
                if not self._slots.acquire(timeout=0.2):  # every slot holds a batch: let them progress
                    continue
                if self._gate is not None and not self._gate.is_open():  # the group serves
                    self._slots.release()
                    self._stop.wait(self._gate.recheck_seconds)
                    continue
                # Requests first; while a job has chunks waiting, only a brief look at them.
                messages = self._receive(self._request_wait(wait))
                if messages is None:  # stop requested during the long poll
                    self._slots.release()
                    break
                chunk = None if messages else self._receive_chunk()
                # Protected while holding messages: these, a chunk, or a batch still in flight.
                self.protection.set_busy(bool(messages) or chunk is not None or self._in_flight > 0)
                if chunk is not None:
                    with self._counts:
                        self._in_flight += 1
                    batches.submit(self._run_chunk, chunk)
                    continue
                if not messages:
                    self._slots.release()
                    if burst:
                        break
                    continue
                with self._counts:
                    self._in_flight += 1
                batches.submit(self._run_batch, messages)
            # Leaving the executor waits for the batches in hand (each bounded by its deadline).
        self.protection.set_busy(False)
        log.info(
            "worker %s stopped after %d batches, %d messages", self.worker_id, self.batches, self.messages
        )
        if self.wedged:
            log.error("a batch outlived its deadline: exiting %d so a fresh worker takes over", EXIT_WEDGED)
            return EXIT_WEDGED
        return 0

    def _receive(self, wait: float) -> list[Message] | None:
        """One long poll (retried while the queue fails); None when a stop interrupted it."""
        while True:
            try:
                try:
                    self._idle = True
                    return self.requests.receive(self.settings.batch_size, wait)
                finally:  # inside the outer try: a stop raised here is caught too
                    self._idle = False
            except StopRequestedError:
                return None
            except Exception:
                log.exception("receive failed; retrying in 1 s")
                if self._stop.wait(1.0):
                    return None

    def _request_wait(self, wait: float) -> float:
        """How long to long-poll the request queue: briefly while a job has chunks; a worker
        that takes job work looks at the job queue at least every `_job_idle_poll` seconds (a
        standby keeps its own poll: its idle receives are billed all month)."""
        if self.chunks is None:
            return wait
        if self._job_work:
            return min(wait, JOB_REQUEST_POLL)
        return wait if self._gate is not None else min(wait, self._job_idle_poll)

    def _receive_chunk(self) -> Message | None:
        """One job chunk, if any is waiting (no wait: the request queue's poll did the waiting)."""
        if self.chunks is None or self._stop.is_set():
            return None
        try:
            found = self.chunks.queue.receive(1, 0)
        except Exception:
            log.exception("job queue receive failed")
            found = []
        self._job_work = bool(found)
        return found[0] if found else None

    def _run_chunk(self, message: Message) -> None:
        assert self.chunks is not None
        try:
            self.chunks.process(message)
        except Exception:  # the chunk comes back after its lease, then goes to the dead letters
            log.exception("job chunk %s failed; it will be redelivered", message.message_id)
        finally:
            self._free_slot()

    def _run_batch(self, messages: Sequence[Message]) -> None:
        try:
            self.process(messages)
        except Exception:  # the pipeline isolates each message; this is a bug, not a bad message
            log.exception("batch of %d messages failed; they will be redelivered", len(messages))
        finally:
            self._free_slot()

    def _free_slot(self) -> None:
        """A batch or a chunk is done, well or not: its slot is free again (a wedged worker stops)."""
        with self._counts:
            self._in_flight -= 1
        self._slots.release()
        if self.wedged:
            self.request_stop()  # take no more work; the batches in hand still finish

    def process(self, messages: Sequence[Message]) -> list[Item]:
        """One batch, start to end (the pipeline's stages)."""
        items = self.pipeline.process(messages)
        with self._counts:
            self.batches += 1
            self.messages += len(items)
        return items
