"""A worker's side of a job: one chunk message in, one shard out, then the message deleted.

Each image gets a line: its labels, or an error kind and reason (a missing key, an image the
model cannot read). The message is deleted only after the shard is written, so a worker killed
mid-chunk leaves it to be received again, and the second shard replaces the first: no image is
missing or doubled.

A chunk received again was in hand when something went wrong (a worker killed, or crashed by one
of its images): its images are then classified one by one in the isolation helper
(`services/worker/isolation.py`), so an image that crashes or hangs the decoder fails alone (a
`failed` line, after a second try in a fresh helper) and every other image of the chunk gets its
label. A chunk whose processing itself keeps failing is dead-lettered after the queue's receives
and written off by the web tier's monitor (every image failed, with the reason).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from services.contract import ErrorKind, LabelScore, ResultError
from services.jobs.contract import ChunkMessage, ShardLine
from services.jobs.store import JobStore
from services.ports import (
    BlobNotFoundError,
    ImageClassifier,
    ImageRejectedError,
    JobSource,
    Message,
    MessageQueue,
    Prediction,
)
from services.worker.heartbeat import VisibilityHeartbeat
from services.worker.isolation import Isolator, SuspectFailedError
from services.worker.models import ModelPool, UnknownModelError

log = logging.getLogger("services.jobs")
ALONE_TRIES = 2  # an image that kills the helper once may have met a passing fault (e.g. memory)


class ChunkProcessor:
    def __init__(
        self,
        *,
        queue: MessageQueue,
        store: JobStore,
        source: Callable[[str], JobSource],
        models: ModelPool,
        compute: ThreadPoolExecutor,
        io: ThreadPoolExecutor | None,
        heartbeat: VisibilityHeartbeat,
        infer_batch: int,
        isolator: Isolator | None = None,
        alone_seconds: float = 300.0,
    ) -> None:
        """`isolator`: where a redelivered chunk's images are classified one by one (None: in the
        batch like the first time); `alone_seconds`: how long one image may take there."""
        self.queue = queue
        self._store = store
        self._source = source
        self._sources: dict[str, JobSource] = {}
        self._models = models
        self._compute = compute
        self._io = io
        self._heartbeat = heartbeat
        self._infer_batch = infer_batch
        self._isolator = isolator
        self._alone_seconds = alone_seconds
        self.images = 0

    def process(self, message: Message) -> None:
        try:
            chunk = ChunkMessage.model_validate_json(message.body)
        except ValidationError as exc:
            log.error(
                "job message %s is not a chunk (%s): deleted", message.message_id, exc.errors()[0]["msg"]
            )
            self.queue.delete_batch([message.receipt])
            return
        record = self._store.record(chunk.job)
        if record is None or record.state == "cancelled":
            log.info(
                "job %s %s: chunk %d dropped", chunk.job, "cancelled" if record else "unknown", chunk.index
            )
            self.queue.delete_batch([message.receipt])
            return
        started = time.perf_counter()
        alone = self._isolator is not None and message.receive_count > 1
        if alone:
            log.warning(
                "job %s chunk %d received again (receive %d): its images one by one in isolation",
                chunk.job,
                chunk.index,
                message.receive_count,
            )
        with self._heartbeat.watch([message.receipt]):
            lines = self._classify_alone(chunk) if alone else self._classify(chunk)
            failed = self._store.put_shard(chunk.job, chunk.index, lines)
        self.queue.delete_batch([message.receipt])
        self.images += len(lines)
        log.debug(
            "job %s chunk %d: %d images (%d failed) in %.0f ms",
            chunk.job,
            chunk.index,
            len(lines),
            failed,
            (time.perf_counter() - started) * 1000,
        )

    def _source_of(self, location: str) -> JobSource:
        if location not in self._sources:
            self._sources[location] = self._source(location)
        return self._sources[location]

    def _classify(self, chunk: ChunkMessage) -> list[ShardLine]:
        try:
            classifier = self._models.get(chunk.model)
        except UnknownModelError as exc:
            return _every_key_failed(chunk, ResultError(kind=ErrorKind.INVALID_REQUEST, reason=str(exc)))
        source = self._source_of(chunk.source)
        lines: dict[str, ShardLine] = {}

        def read(key: str) -> bytes | ShardLine:
            return _read(source, key)

        fetched = self._io.map(read, chunk.keys) if self._io else map(read, chunk.keys)
        images: list[tuple[str, bytes]] = []
        for key, data in zip(chunk.keys, fetched, strict=True):
            if isinstance(data, ShardLine):
                lines[key] = data
            else:
                images.append((key, data))
        decoded = list(self._compute.map(lambda item: self._decode(classifier, *item), images))
        ready = [(key, tensor) for key, tensor in decoded if isinstance(tensor, np.ndarray)]
        for key, tensor in decoded:
            if isinstance(tensor, ShardLine):
                lines[key] = tensor
        batches = [ready[i : i + self._infer_batch] for i in range(0, len(ready), self._infer_batch)]
        name = classifier.name

        def infer(batch: list[tuple[str, np.ndarray]]) -> list[Prediction]:
            return list(classifier.infer(np.stack([tensor for _, tensor in batch])))

        for batch, predictions in zip(batches, self._compute.map(infer, batches), strict=True):
            for (key, _), prediction in zip(batch, predictions, strict=True):
                lines[key] = _labelled(key, prediction, chunk.top_k, name)
        return [lines[key] for key in chunk.keys]

    def _classify_alone(self, chunk: ChunkMessage) -> list[ShardLine]:
        """Each image in the isolation helper: one that crashes or hangs it fails alone."""
        assert self._isolator is not None
        try:
            folder = self._models.folder(chunk.model)
        except UnknownModelError as exc:
            return _every_key_failed(chunk, ResultError(kind=ErrorKind.INVALID_REQUEST, reason=str(exc)))
        source = self._source_of(chunk.source)
        lines: list[ShardLine] = []
        for key in chunk.keys:
            data = _read(source, key)
            lines.append(data if isinstance(data, ShardLine) else self._alone(chunk, key, data, folder))
        return lines

    def _alone(self, chunk: ChunkMessage, key: str, data: bytes, folder: Path | None) -> ShardLine:
        """One image in the isolation helper (`folder`: a registered model's, None: the default)."""
        assert self._isolator is not None
        for attempt in range(1, ALONE_TRIES + 1):
            try:
                prediction = self._isolator.classify(data, timeout=self._alone_seconds, model=folder)
            except ImageRejectedError as exc:
                return ShardLine(key=key, error=ResultError(kind=exc.kind, reason=exc.reason))
            except SuspectFailedError as exc:
                log.warning("job %s image %s, alone (try %d): %s", chunk.job, key, attempt, exc)
                failure = exc
                continue
            return _labelled(key, prediction, chunk.top_k, prediction.model)
        reason = f"classified alone {ALONE_TRIES} times, {failure}"
        return ShardLine(key=key, error=ResultError(kind=ErrorKind.FAILED, reason=reason))

    def _decode(
        self, classifier: ImageClassifier, key: str, data: bytes
    ) -> tuple[str, np.ndarray | ShardLine]:
        try:
            return key, classifier.preprocess(data)
        except ImageRejectedError as exc:
            return key, ShardLine(key=key, error=ResultError(kind=exc.kind, reason=exc.reason))


def _every_key_failed(chunk: ChunkMessage, error: ResultError) -> list[ShardLine]:
    return [ShardLine(key=key, error=error) for key in chunk.keys]


def _labelled(key: str, prediction: Prediction, top_k: int, model: str) -> ShardLine:
    top = [LabelScore(label=label, score=score) for label, score in prediction.top5[:top_k]]
    return ShardLine(key=key, label=prediction.label, score=prediction.score, top=top, model=model)


def _read(source: JobSource, key: str) -> bytes | ShardLine:
    try:
        return source.read(key)
    except BlobNotFoundError:
        return ShardLine(
            key=key, error=ResultError(kind=ErrorKind.MISSING_INPUT, reason="the source key is gone")
        )
