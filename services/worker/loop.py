"""The worker loop: receive ≤10 → fetch → batched inference → store → reply → delete.

Batches overlap (`batches_in_flight`, default 2): while one batch is classified, the next is
received and fetched and the previous one is stored, replied to and deleted, so the inference
threads (one per core, sharing one ONNX Runtime session) never wait for the queue or the store.
Blob reads and writes of a batch run concurrently on an I/O pool where they go over a network
(aws), and in the batch's own thread where they are brief (local files).

Each message is isolated: a bad image gets an error result and a reply at once (never retried);
an unexpected failure leaves the message in the queue, so it is redelivered and, after
`max_receives` receives, dead-lettered. A message is deleted only after its result is stored and
its reply sent (at-least-once; results are idempotent by id).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from services.contract import ErrorKind, LabelScore, ReplyMessage, RequestMessage, Result, ResultError
from services.ports import (
    BlobNotFoundError,
    BlobStore,
    Message,
    MessageQueue,
    NoProtection,
    ScaleInProtection,
)
from services.worker.exceptions import StopRequestedError
from services.worker.heartbeat import VisibilityHeartbeat
from services.worker.metrics import MetricsPublisher
from services.worker.settings import WorkerSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class Prediction(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def top5(self) -> Sequence[tuple[str, float]]: ...


class ImageClassifier(Protocol):
    """What the loop needs from `model.classifier.Classifier`."""

    @property
    def name(self) -> str: ...
    @property
    def input_shape(self) -> tuple[int, int, int]: ...
    def preprocess(
        self, data: bytes, out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]: ...
    def infer(self, batch: npt.NDArray[np.float32]) -> Sequence[Prediction]: ...


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass
class Job:
    """One message on its way through the batch."""

    message: Message
    request: RequestMessage | None = None
    data: bytes | None = None
    result: Result | None = None
    failed: bool = False  # unexpected: leave for redelivery
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def pending(self) -> bool:
        """Still on the way: neither finished (result) nor given up (failed)."""
        return self.result is None and not self.failed

    def fail(self, what: str, exc: BaseException | None = None) -> None:
        self.failed = True
        log.error(
            "message %s (receive %d): %s; left for redelivery",
            self.message.message_id,
            self.message.receive_count,
            what,
            exc_info=exc,
        )


def _chunks(jobs: list[T], most: int, threads: int) -> list[list[T]]:
    """`jobs` in order, as inference calls of at most `most` images, shared evenly by `threads`.

    The number of calls is a multiple of the thread count where there are enough jobs, and calls
    differ by one image at most: 10 jobs, at most 4 per call, 2 threads -> 3, 3, 2, 2 (not 4, 4, 2,
    where one thread would classify its last 2 while the other idles).
    """
    if not jobs:
        return []
    count = math.ceil(len(jobs) / most)
    count = min(len(jobs), math.ceil(count / threads) * threads)
    size, extra = divmod(len(jobs), count)
    chunks: list[list[T]] = []
    start = 0
    for index in range(count):
        end = start + size + (index < extra)
        chunks.append(jobs[start:end])
        start = end
    return chunks


class Worker:
    def __init__(
        self,
        *,
        settings: WorkerSettings,
        requests: MessageQueue,
        inputs: BlobStore,
        outputs: BlobStore,
        reply_queue: Callable[[str], MessageQueue],
        classifier: ImageClassifier,
        worker_id: str | None = None,
        metrics: MetricsPublisher | None = None,
        protection: ScaleInProtection | None = None,
        brief_io: bool = False,
    ) -> None:
        self.settings = settings
        self.requests = requests
        self.inputs = inputs
        self.outputs = outputs
        self.reply_queue = reply_queue
        self.classifier = classifier
        self.metrics = metrics
        self.protection = protection or NoProtection()  # scale-in protection while holding messages
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        # Blob reads and writes that return at once (local files) run in the batch's own thread:
        # handing each to a pool thread costs more than the call. Network calls run concurrently.
        self._io = (
            None if brief_io else ThreadPoolExecutor(settings.io_threads, thread_name_prefix="worker-io")
        )
        self._compute = ThreadPoolExecutor(settings.threads, thread_name_prefix="worker-infer")
        self._heartbeat = VisibilityHeartbeat(
            requests, timeout=settings.visibility_timeout, fraction=settings.extend_after
        )
        self._slots = threading.BoundedSemaphore(settings.batches_in_flight)
        self._counts = threading.Lock()
        self._in_flight = 0  # batches received and not yet finished
        self._stop = threading.Event()
        self._idle = False
        self.batches = 0
        self.messages = 0

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

    def close(self) -> None:
        if self._io is not None:
            self._io.shutdown()
        self._compute.shutdown()
        self._heartbeat.close()

    def work(self, *, burst: bool = False) -> int:
        """Run until stopped (or, in burst mode, until a receive finds the queue empty).

        Returns once every batch in hand is finished: a stop never abandons received messages.
        """
        wait = self.settings.burst_poll_seconds if burst else self.settings.poll_seconds
        log.info(
            "worker %s ready (burst=%s, threads=%d, batches in flight=%d)",
            self.worker_id,
            burst,
            self.settings.threads,
            self.settings.batches_in_flight,
        )
        slots = self.settings.batches_in_flight
        with ThreadPoolExecutor(slots, thread_name_prefix="worker-batch") as batches:
            while not self._stop.is_set():
                if not self._slots.acquire(timeout=0.2):  # every slot holds a batch: let them progress
                    continue
                messages = self._receive(wait)
                if messages is None:  # stop requested during the long poll
                    self._slots.release()
                    break
                # Protected while holding messages: these, or a batch still in flight.
                self.protection.set_busy(bool(messages) or self._in_flight > 0)
                if not messages:
                    self._slots.release()
                    if burst:
                        break
                    continue
                with self._counts:
                    self._in_flight += 1
                batches.submit(self._run_batch, messages)
            # Leaving the executor waits for the batches in hand.
        self.protection.set_busy(False)
        log.info(
            "worker %s stopped after %d batches, %d messages", self.worker_id, self.batches, self.messages
        )
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

    def _run_batch(self, messages: Sequence[Message]) -> None:
        try:
            self.process(messages)
        except Exception:  # process() isolates each message; this is a bug, not a bad message
            log.exception("batch of %d messages failed; they will be redelivered", len(messages))
        finally:
            with self._counts:
                self._in_flight -= 1
            self._slots.release()

    # -- one batch ------------------------------------------------------------------------------
    def process(self, messages: Sequence[Message]) -> list[Job]:
        started = time.perf_counter()
        jobs = [self._parse(message) for message in messages]
        stages: dict[str, float] = {}
        with self._heartbeat.watch([m.receipt for m in messages]):
            for stage, step in (
                ("fetch", self._fetch),
                ("classify", self._classify),
                ("store", self._store),
                ("reply", self._reply),
                ("delete", self._delete),
            ):
                t0 = time.perf_counter()
                step(jobs)
                stages[stage] = _ms(time.perf_counter() - t0)
        with self._counts:
            self.batches += 1
            self.messages += len(jobs)
        results = [j.result for j in jobs if j.result is not None]
        errors = sum(1 for r in results if not r.ok)
        total_ms = _ms(time.perf_counter() - started)
        log.info(
            "batch n=%d ok=%d errors=%d retry=%d %s total=%.1fms",
            len(jobs),
            len(results) - errors,
            errors,
            sum(j.failed for j in jobs),
            " ".join(f"{k}={v:.1f}ms" for k, v in stages.items()),
            total_ms,
        )
        if self.metrics is not None:
            latencies = [r.timings.get("total", 0.0) for r in results]
            self.metrics.record_batch(len(results), total_ms, latencies)
        return jobs

    def _parse(self, message: Message) -> Job:
        job = Job(message)
        try:
            job.request = RequestMessage.model_validate_json(message.body)
            job.timings["queue"] = _ms(max(0.0, time.time() - job.request.submitted_at))
        except ValidationError as exc:
            job.fail(f"malformed request message: {exc.errors()[0]['msg']}")
        return job

    def _finish(
        self, job: Job, *, error: ResultError | None = None, prediction: Prediction | None = None
    ) -> None:
        assert job.request is not None
        fields: dict[str, object] = {}
        if prediction is not None:
            fields = {
                "label": prediction.label,
                "score": float(prediction.score),
                "top5": [LabelScore(label=label, score=float(score)) for label, score in prediction.top5],
            }
        job.result = Result(
            id=job.request.id,
            image=job.request.image,
            model=self.classifier.name,
            worker=self.worker_id,
            timings=job.timings,
            error=error,
            **fields,  # type: ignore[arg-type]
        )

    def _fetch(self, jobs: list[Job]) -> None:
        def fetch(job: Job) -> None:
            assert job.request is not None
            t0 = time.perf_counter()
            try:
                job.data = self.inputs.get(job.request.id).data
            except BlobNotFoundError:
                reason = f"the input object {job.request.id} is not in {self.inputs.name}"
                self._finish(job, error=ResultError(kind=ErrorKind.MISSING_INPUT, reason=reason))
            except Exception as exc:
                job.fail("fetching the image failed", exc)
            job.timings["fetch"] = _ms(time.perf_counter() - t0)

        self._each(fetch, [j for j in jobs if j.pending])

    def _classify(self, jobs: list[Job]) -> None:
        from model.errors import InvalidImageError  # the worker's own dependency, not the web tier's

        chunks = _chunks([j for j in jobs if j.pending], self.settings.infer_batch, self.settings.threads)

        def run(chunk: list[Job]) -> None:
            # Decode straight into the batch tensor (no per-image array, no stacking copy).
            pixels = np.empty((len(chunk), *self.classifier.input_shape), dtype=np.float32)
            ready: list[Job] = []
            for job in chunk:
                assert job.data is not None
                t0 = time.perf_counter()
                try:
                    self.classifier.preprocess(job.data, out=pixels[len(ready)])
                    ready.append(job)
                except InvalidImageError as exc:
                    self._finish(job, error=ResultError(kind=ErrorKind(exc.kind), reason=exc.reason))
                except Exception as exc:
                    job.fail("preprocessing failed unexpectedly", exc)
                job.timings["preprocess"] = _ms(time.perf_counter() - t0)
                job.data = None  # free the bytes early
            if not ready:
                return
            t0 = time.perf_counter()
            try:
                predictions = self.classifier.infer(pixels[: len(ready)])
            except Exception as exc:
                for job in ready:
                    job.fail("inference failed", exc)
                return
            infer_ms = _ms(time.perf_counter() - t0)
            for job, prediction in zip(ready, predictions, strict=True):
                job.timings["infer"] = infer_ms
                self._finish(job, prediction=prediction)

        list(self._compute.map(run, chunks))

    def _store(self, jobs: list[Job]) -> None:
        def store(job: Job) -> None:
            assert job.result is not None
            try:
                # total: submitted -> stored (queue wait + time spent in this worker)
                total = job.timings.get("queue", 0.0) + _ms(time.perf_counter() - job.started)
                job.result = job.result.model_copy(
                    update={"timings": {**job.timings, "total": round(total, 2)}}
                )
                self.outputs.put(
                    job.result.id, job.result.model_dump_json().encode(), content_type="application/json"
                )
            except Exception as exc:
                job.result = None
                job.fail("storing the result failed", exc)

        self._each(store, [j for j in jobs if j.result is not None and not j.failed])

    def _each(self, io: Callable[[Job], None], jobs: list[Job]) -> None:
        """Blob I/O for each job: concurrently on the I/O pool, or here when it is brief."""
        if self._io is None:
            for job in jobs:
                io(job)
        else:
            list(self._io.map(io, jobs))

    def _reply(self, jobs: list[Job]) -> None:
        by_queue: dict[str, list[Job]] = defaultdict(list)
        for job in jobs:
            if job.result is not None and job.request is not None:
                by_queue[job.request.reply_to].append(job)
        for name, group in by_queue.items():
            try:
                self.reply_queue(name).send_batch(
                    [
                        ReplyMessage(id=j.result.id, result=j.result).model_dump_json()
                        for j in group
                        if j.result
                    ]
                )
            except Exception as exc:
                # The result is stored; a retry re-sends the reply (the web side ignores duplicates).
                for job in group:
                    job.result = None
                    job.fail(f"replying to {name!r} failed", exc)

    def _delete(self, jobs: list[Job]) -> None:
        receipts = [j.message.receipt for j in jobs if j.result is not None]
        if receipts:
            try:
                self.requests.delete_batch(receipts)
            except Exception:
                log.exception("delete failed: %d finished messages will be redelivered", len(receipts))
