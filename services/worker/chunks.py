"""A worker's side of a job: one chunk message in, one shard out, then the message deleted.

Each image gets a line: its labels, or an error kind and reason (a missing key, an image the
model cannot read). The message is deleted only after the shard is written, so a worker killed
mid-chunk leaves it to be received again, and the second shard replaces the first: no image is
missing or doubled.

The images go through the same classify core as an upload batch (`classify_core`), under the
same batch deadline: a chunk whose decoding or inference hangs is given up at the deadline, its
message released at once and the worker restarted (as a hung upload batch). A chunk received
again was in hand when something went wrong, so its images are then suspects, classified one by
one in the isolation helper: an image that crashes or hangs the decoder gets a `failed` line
alone (after a second try in a fresh helper) and every other image of the chunk gets its label.
A chunk whose processing itself keeps failing is dead-lettered after the queue's receives and
written off by the web tier's monitor (every image failed, with the reason).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pydantic import ValidationError

from services.contract import ErrorKind, LabelScore, ResultError
from services.jobs.contract import ChunkMessage, ShardLine
from services.jobs.store import JobStore
from services.ports.job_locations import JobSource
from services.ports.storage import BlobNotFoundError, Message, MessageQueue
from services.worker.classify_core import ClassifyCore, Image, within
from services.worker.heartbeat import VisibilityHeartbeat

log = logging.getLogger("services.worker")
ALONE_TRIES = 2  # an image that kills the helper once may have met a passing fault (e.g. memory)


class ChunkRetryError(Exception):
    """An image failed unexpectedly in the batch: the chunk is to be received again (its images
    are then classified alone)."""


class ChunkProcessor:
    def __init__(
        self,
        *,
        queue: MessageQueue,
        store: JobStore,
        source: Callable[[str], JobSource],
        core: ClassifyCore,
        io: ThreadPoolExecutor | None,
        heartbeat: VisibilityHeartbeat,
        deadline_seconds: float,
    ) -> None:
        self.queue = queue
        self._store = store
        self._source = source
        self._sources: dict[str, JobSource] = {}
        self._core = core
        self._io = io
        self._heartbeat = heartbeat
        self._deadline_seconds = deadline_seconds
        self.images = 0
        self.wedged = False  # a chunk outlived the deadline: some thread may be stuck for good

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
        deadline = time.monotonic() + self._deadline_seconds
        suspects = self._core.isolates and message.receive_count > 1
        if suspects:
            log.warning(
                "job %s chunk %d received again (receive %d): its images one by one in isolation",
                chunk.job,
                chunk.index,
                message.receive_count,
            )
        with self._heartbeat.watch([message.receipt]):
            try:
                lines = self._classify(chunk, deadline, suspects)
            except ChunkRetryError as exc:
                log.error("job %s chunk %d: %s; released for redelivery", chunk.job, chunk.index, exc)
                self._release(chunk, message)
                return
            if lines is None:
                self._give_up(chunk, message)
                return
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

    def _give_up(self, chunk: ChunkMessage, message: Message) -> None:
        """Past the deadline: the message is released now (received again, its images are
        classified alone) and the worker is to restart."""
        self.wedged = True
        log.error(
            "job %s chunk %d: the batch deadline (%g s) passed; released for redelivery",
            chunk.job,
            chunk.index,
            self._deadline_seconds,
        )
        self._release(chunk, message)

    def _release(self, chunk: ChunkMessage, message: Message) -> None:
        try:
            self.queue.extend_visibility([message.receipt], 0)
        except Exception:
            log.exception("could not release chunk %d (it returns after its lease)", chunk.index)

    def _source_of(self, location: str) -> JobSource:
        if location not in self._sources:
            self._sources[location] = self._source(location)
        return self._sources[location]

    def _classify(self, chunk: ChunkMessage, deadline: float, suspects: bool) -> list[ShardLine] | None:
        """A line per key, in the chunk's order; None if the deadline passed first."""
        source = self._source_of(chunk.source)
        read: dict[str, bytes | None] = {}

        def fetch(key: str) -> None:
            try:
                read[key] = source.read(key)
            except BlobNotFoundError:
                read[key] = None

        if self._io is None:
            for key in chunk.keys:
                fetch(key)
        elif not within(deadline, [self._io.submit(fetch, key) for key in chunk.keys]):
            return None
        images = {
            key: Image(data=data, model=chunk.model, precision=chunk.precision, suspect=suspects)
            for key, data in read.items()
            if data is not None
        }
        if not self._core.classify(list(images.values()), deadline, alone_tries=ALONE_TRIES):
            return None
        failed = next((i for i in images.values() if i.failure is not None and not i.suspect), None)
        if failed is not None:  # unexpected, in the batch: the chunk again, its images alone
            raise ChunkRetryError(failed.failure or "failed") from failed.cause
        return [_line(key, images.get(key), chunk.top_k) for key in chunk.keys]


def _line(key: str, image: Image | None, top_k: int) -> ShardLine:
    if image is None:
        error = ResultError(kind=ErrorKind.MISSING_INPUT, reason="the source key is gone")
        return ShardLine(key=key, error=error)
    if image.prediction is not None:
        prediction = image.prediction
        top = [LabelScore(label=label, score=float(score)) for label, score in prediction.top5[:top_k]]
        return ShardLine(
            key=key,
            label=prediction.label,
            score=float(prediction.score),
            top=top,
            model=image.classified_by or "",
        )
    if image.error is not None:
        return ShardLine(key=key, error=image.error)
    # A failure another receive might mend, but a chunk is not retried image by image: its line
    # says so, and the job ends (an image classified alone twice has had its retries).
    if image.cause is not None:
        log.error("job image %s: %s", key, image.failure, exc_info=image.cause)
    return ShardLine(key=key, error=ResultError(kind=ErrorKind.FAILED, reason=image.failure or "failed"))
