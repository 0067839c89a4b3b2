"""Planning a job: the source listed in key order, cut into chunk messages on the job queue.

Resumable: the record keeps the last key of the last chunk sent (`cursor`) and the chunks sent,
saved after every send, so a planner that dies is resumed from there by any web process. The
listing is sorted, so the chunks after the cursor are the same ones again: a chunk sent twice
(a crash between the send and the save) has the same index and keys, and its second shard
replaces the first.
"""

from __future__ import annotations

import logging
import threading

from services.jobs import lifecycle
from services.jobs.contract import ChunkMessage, JobRecord
from services.jobs.store import JobStore
from services.ports.job_locations import JobSource
from services.ports.storage import MessageQueue

log = logging.getLogger("services.jobs")
SEND_BATCH = 10  # SQS SendMessageBatch's limit: one call per 10 chunks


def plan(
    record: JobRecord,
    source: JobSource,
    queue: MessageQueue,
    store: JobStore,
    stop: threading.Event | None = None,
) -> JobRecord:
    """Send the job's remaining chunks; the record as saved last (running once all is listed).

    Stops as soon as the record is final (a cancel): every save re-reads it (`lifecycle`)."""
    chunk: list[str] = []
    bodies: list[str] = []
    index = record.chunks_sent
    cursor = record.cursor

    def flush() -> JobRecord:
        nonlocal bodies
        if bodies:
            queue.send_batch(bodies)
            bodies = []
            saved = lifecycle.advance_plan(store, record.id, cursor=cursor, chunks_sent=index)
            return saved or record
        return record

    for key in source.keys_after(record.cursor):
        if stop is not None and stop.is_set():
            return flush()
        chunk.append(key)
        if len(chunk) == record.chunk_size:
            bodies.append(_chunk(record, index, chunk))
            index, cursor, chunk = index + 1, chunk[-1], []
            if len(bodies) == SEND_BATCH and (saved := flush()).state != "planning":
                log.info("job %s is %s: planning stops at chunk %d", record.id, saved.state, index)
                return saved
    if chunk:
        bodies.append(_chunk(record, index, chunk))
        index, cursor = index + 1, chunk[-1]
    if (saved := flush()).state != "planning":
        return saved
    total = (index - 1) * record.chunk_size + len(chunk) if chunk else index * record.chunk_size
    saved = lifecycle.planned(store, record.id, total=total, chunks_sent=index) or record
    if saved.state == "running":
        log.info("job %s planned: %d images in %d chunks", record.id, total, index)
    return saved


def _chunk(record: JobRecord, index: int, keys: list[str]) -> str:
    return ChunkMessage(
        job=record.id,
        index=index,
        source=record.spec.source,
        keys=keys,
        top_k=record.spec.top_k,
        model=record.spec.model,
        precision=record.spec.precision,
    ).model_dump_json()
