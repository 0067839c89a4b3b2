"""One batch through the worker's stages: parse → fetch → classify → store → reply → delete.

Each message is isolated: a bad image gets an error result and a reply at once (never retried);
an unexpected failure leaves the message in the queue, so it is redelivered and, after
`max_receives` receives, dead-lettered. A redelivered message is classified alone in a helper
process (`isolation`): whatever crashed or hung its first batch cannot take its batch-mates
with it again. A message is deleted only after its result is stored and
its reply sent (at-least-once; results are idempotent by id).

A batch has a deadline (`batch_deadline`): what is not classified or stored by then is given up
as a failure and its messages released at once (redelivery, then the dead-letter queue), so a
hung decode or inference holds neither the messages nor the worker's scale-in protection. A
thread cannot be interrupted: the pipeline then reports itself `wedged`, and the runner stops
the worker so that its supervisor (or systemd) starts a fresh one.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pydantic import ValidationError

from services.contract import ErrorKind, LabelScore, Precision, RequestMessage, Result, ResultError
from services.models.errors import UnknownModelError
from services.ports.backend import Backend
from services.ports.classifier import ImageClassifier, Prediction
from services.ports.job_locations import JobSource
from services.ports.storage import BlobNotFoundError, BlobStore, Message, MessageQueue, ResourceNotFoundError
from services.results import reply_body, store_result
from services.worker.classify_core import ClassifyCore, Image, within
from services.worker.heartbeat import VisibilityHeartbeat
from services.worker.isolation import Isolator
from services.worker.metrics import MetricsPublisher
from services.worker.model_pool import ModelPool
from services.worker.settings import WorkerSettings

log = logging.getLogger("services.worker")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass
class Item:
    """One message on its way through the batch."""

    message: Message
    request: RequestMessage | None = None
    data: bytes | None = None
    result: Result | None = None
    failed: bool = False  # unexpected: leave for redelivery
    retry_now: bool = False  # failed in a way waiting cannot mend: release it at once
    stored: bool = False  # its result is in the output bucket
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def pending(self) -> bool:
        """Still on the way: neither finished (result) nor given up (failed)."""
        return self.result is None and not self.failed

    @property
    def done(self) -> bool:
        """Has a result and was not given up (a thread past the deadline may still finish it)."""
        return self.result is not None and not self.failed

    def fail(self, what: str, exc: BaseException | None = None) -> None:
        self.failed = True
        log.error(
            "message %s (receive %d): %s; left for redelivery",
            self.message.message_id,
            self.message.receive_count,
            what,
            exc_info=exc,
        )


def _model_of(item: Item) -> str | None:
    return None if item.request is None else item.request.model


def _precision_of(item: Item) -> Precision:
    return "auto" if item.request is None else item.request.precision


def _no_loader(folder: object) -> ImageClassifier:
    raise UnknownModelError(f"this worker loads no registered models ({folder})")


@dataclass(frozen=True, slots=True)
class WorkerPorts:
    """What a worker talks to: its queue and buckets, the reply queues by name, the model."""

    requests: MessageQueue
    inputs: BlobStore
    outputs: BlobStore
    reply_queue: Callable[[str], MessageQueue]
    classifier: ImageClassifier
    # Batch jobs' chunks, drained after the requests (None: this worker takes no job work).
    jobs: MessageQueue | None = None
    job_source: Callable[[str], JobSource] | None = None
    # The default model and the registered ones a request may name (None: the default only).
    models: ModelPool | None = None

    @classmethod
    def of(cls, backend: Backend, settings: WorkerSettings, classifier: ImageClassifier) -> WorkerPorts:
        from services.worker.classifier import folder_loader, pinned_loader

        models = ModelPool(
            classifier,
            registry=backend.models,
            load=folder_loader(settings),
            budget_mib=settings.model_memory_mib,
            pin=pinned_loader(settings),
        )
        return cls(
            requests=backend.storage.queue(settings.request_queue),
            inputs=backend.storage.blobs(settings.input_bucket),
            outputs=backend.storage.blobs(settings.output_bucket),
            reply_queue=backend.storage.queue,
            classifier=classifier,
            jobs=backend.storage.queue(settings.job_queue),
            job_source=backend.job_locations.source,
            models=models,
        )


class BatchPipeline:
    """The stages of one batch, run by the calling (batch) thread; thread-safe across batches.

    Blob reads and writes run concurrently on `io` where they go over a network, and in the
    batch's own thread when `io` is None (brief local calls: a hand-off would cost more).
    Inference runs on `compute`, one thread per core sharing one model session.
    """

    def __init__(
        self,
        *,
        settings: WorkerSettings,
        ports: WorkerPorts,
        worker_id: str,
        io: ThreadPoolExecutor | None,
        compute: ThreadPoolExecutor,
        heartbeat: VisibilityHeartbeat,
        metrics: MetricsPublisher | None = None,
        isolator: Isolator | None = None,
    ) -> None:
        self.settings = settings
        self.requests = ports.requests
        self.inputs = ports.inputs
        self.outputs = ports.outputs
        self.reply_queue = ports.reply_queue
        self.classifier = ports.classifier
        self.models = ports.models or ModelPool(
            ports.classifier, registry=None, load=_no_loader, budget_mib=settings.model_memory_mib
        )
        self.worker_id = worker_id
        self.metrics = metrics
        self._io = io
        self._heartbeat = heartbeat
        self.core = ClassifyCore(
            models=self.models,
            compute=compute,
            isolator=isolator,
            infer_batch=settings.infer_batch,
            threads=settings.threads,
        )
        self.wedged = False  # a stage outlived the batch deadline: a thread may be stuck for good

    def process(self, messages: Sequence[Message]) -> list[Item]:
        started = time.perf_counter()
        deadline = time.monotonic() + self.settings.batch_deadline
        items = [self._parse(message) for message in messages]
        stages: dict[str, float] = {}
        with self._heartbeat.watch([m.receipt for m in messages]):
            for stage, step in (
                ("fetch", self._fetch),
                ("classify", self._classify),
                ("store", self._store),
            ):
                t0 = time.perf_counter()
                if not step(items, deadline):
                    self._give_up(stage, items)
                    break
                stages[stage] = _ms(time.perf_counter() - t0)
            for stage, finish in (("reply", self._reply), ("delete", self._delete)):
                t0 = time.perf_counter()
                finish(items)
                stages[stage] = _ms(time.perf_counter() - t0)
        results = [j.result for j in items if j.done and j.result is not None]
        errors = sum(1 for r in results if not r.ok)
        total_ms = _ms(time.perf_counter() - started)
        log.debug(
            "batch n=%d ok=%d errors=%d retry=%d %s total=%.1fms",
            len(items),
            len(results) - errors,
            errors,
            sum(j.failed for j in items),
            " ".join(f"{k}={v:.1f}ms" for k, v in stages.items()),
            total_ms,
        )
        if self.metrics is not None:
            latencies = [r.timings.get("total", 0.0) for r in results]
            self.metrics.record_batch(len(results), total_ms, latencies)
        return items

    def _give_up(self, stage: str, items: list[Item]) -> None:
        """Past the deadline: everything unfinished fails and its messages are released now."""
        self.wedged = True
        late = [j for j in items if not j.failed and not j.stored]
        for item in late:
            item.result = None
            item.fail(f"the batch deadline ({self.settings.batch_deadline:g} s) passed during {stage}")
        try:
            self.requests.extend_visibility([j.message.receipt for j in late], 0)
        except Exception:
            log.exception("could not release %d messages (they return after their timeout)", len(late))

    def _parse(self, message: Message) -> Item:
        item = Item(message)
        try:
            item.request = RequestMessage.model_validate_json(message.body)
            item.timings["queue"] = _ms(max(0.0, time.time() - item.request.submitted_at))
        except ValidationError as exc:
            item.fail(f"malformed request message: {exc.errors()[0]['msg']}")
        return item

    def _finish(
        self,
        item: Item,
        *,
        error: ResultError | None = None,
        prediction: Prediction | None = None,
        model: str | None = None,
    ) -> None:
        assert item.request is not None
        fields: dict[str, object] = {}
        if prediction is not None:
            fields = {
                "label": prediction.label,
                "score": float(prediction.score),
                "top5": [LabelScore(label=label, score=float(score)) for label, score in prediction.top5],
            }
        item.result = Result(
            id=item.request.id,
            image=item.request.image,
            model=model or item.request.model or self.classifier.name,
            worker=self.worker_id,
            timings=item.timings,
            error=error,
            **fields,  # type: ignore[arg-type]
        )

    def _fetch(self, items: list[Item], deadline: float) -> bool:
        def fetch(item: Item) -> None:
            assert item.request is not None
            t0 = time.perf_counter()
            try:
                item.data = self.inputs.get(item.request.id).data
            except BlobNotFoundError:
                reason = f"the input object {item.request.id} is not in {self.inputs.name}"
                self._finish(item, error=ResultError(kind=ErrorKind.MISSING_INPUT, reason=reason))
            except Exception as exc:
                item.fail("fetching the image failed", exc)
            item.timings["fetch"] = _ms(time.perf_counter() - t0)

        return self._each(fetch, [j for j in items if j.pending], deadline)

    def _classify(self, items: list[Item], deadline: float) -> bool:
        """The classify core: a redelivered message is a suspect, classified alone."""
        pending = [j for j in items if j.pending]
        images = [
            Image(
                data=j.data,
                model=_model_of(j),
                precision=_precision_of(j),
                suspect=j.message.receive_count > 1,
            )
            for j in pending
        ]
        for item in pending:
            item.data = None  # the image holds the bytes now, and frees them early
        if not self.core.classify(images, deadline):
            return False  # given up: late threads may still touch `images`, nobody reads them
        for item, image in zip(pending, images, strict=True):
            item.timings.update(image.timings)
            if image.prediction is not None:
                self._finish(item, prediction=image.prediction, model=image.classified_by)
            elif image.error is not None:
                self._finish(item, error=image.error, model=image.classified_by)
            elif image.failure is not None:
                what = image.failure
                if image.suspect:
                    what = f"{what} (receive {item.message.receive_count})"
                item.fail(what, image.cause)
                item.retry_now = image.retry_now
        return True

    def _store(self, items: list[Item], deadline: float) -> bool:
        def store(item: Item) -> None:
            assert item.result is not None
            try:
                # total: submitted -> stored (queue wait + time spent in this worker)
                total = item.timings.get("queue", 0.0) + _ms(time.perf_counter() - item.started)
                item.result = item.result.model_copy(
                    update={"timings": {**item.timings, "total": round(total, 2)}}
                )
                store_result(self.outputs, item.result)
                item.stored = True
            except Exception as exc:
                item.result = None
                item.fail("storing the result failed", exc)

        return self._each(store, [j for j in items if j.done], deadline)

    def _each(self, io: Callable[[Item], None], items: list[Item], deadline: float) -> bool:
        """Blob I/O for each item: concurrently on the I/O pool, or here when it is brief."""
        if self._io is None:
            for item in items:
                io(item)
            return True
        return within(deadline, [self._io.submit(io, item) for item in items])

    def _reply(self, items: list[Item]) -> None:
        by_queue: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            if item.done and item.request is not None:
                by_queue[item.request.reply_to].append(item)
        for name, group in by_queue.items():
            try:
                self.reply_queue(name).send_batch([reply_body(j.result) for j in group if j.result])
            except ResourceNotFoundError:
                # Its web process has stopped and its queue is gone: nobody waits, the result is
                # stored (GET /v1/results/{id} answers), so the item is done.
                log.info("reply queue %s is gone; %d results stored without a reply", name, len(group))
            except Exception as exc:
                # The result is stored; a retry re-sends the reply (the web side ignores duplicates).
                for item in group:
                    item.result = None
                    item.fail(f"replying to {name!r} failed", exc)

    def _delete(self, items: list[Item]) -> None:
        receipts = [j.message.receipt for j in items if j.done]
        if receipts:
            try:
                self.requests.delete_batch(receipts)
            except Exception:
                log.exception("delete failed: %d finished messages will be redelivered", len(receipts))
        retry = [j.message.receipt for j in items if j.failed and j.retry_now]
        if retry:
            try:
                self.requests.extend_visibility(retry, 0)
            except Exception:
                log.exception("could not release %d messages (they return after their lease)", len(retry))
