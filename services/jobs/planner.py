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
import time

from services.jobs.contract import ChunkMessage, JobRecord
from services.jobs.store import JobStore
from services.ports import JobSource, MessageQueue

log = logging.getLogger("services.jobs")
SEND_BATCH = 10  # SQS SendMessageBatch's limit: one call per 10 chunks


def plan(
    record: JobRecord,
    source: JobSource,
    queue: MessageQueue,
    store: JobStore,
    stop: threading.Event | None = None,
) -> JobRecord:
    """Send the job's remaining chunks; the record as saved last (state running once listed)."""
    chunk: list[str] = []
    bodies: list[str] = []
    index = record.chunks_sent
    cursor = record.cursor

    def flush() -> None:
        nonlocal record, bodies
        if bodies:
            queue.send_batch(bodies)
            record = record.model_copy(
                update={"cursor": cursor, "chunks_sent": index, "updated_at": time.time(), "problem": None}
            )
            store.put_record(record)
            bodies = []

    for key in source.keys_after(record.cursor):
        if stop is not None and stop.is_set():
            flush()
            return record
        chunk.append(key)
        if len(chunk) == record.chunk_size:
            bodies.append(_chunk(record, index, chunk))
            index, cursor, chunk = index + 1, chunk[-1], []
            if len(bodies) == SEND_BATCH:
                flush()
                latest = store.record(record.id)
                if latest is not None and latest.state == "cancelled":
                    return latest
    if chunk:
        bodies.append(_chunk(record, index, chunk))
        index, cursor = index + 1, chunk[-1]
    flush()
    total = (index - 1) * record.chunk_size + len(chunk) if chunk else index * record.chunk_size
    record = record.model_copy(
        update={
            "state": "running",
            "total": total,
            "chunks_sent": index,
            "updated_at": time.time(),
            "problem": None,
        }
    )
    store.put_record(record)
    log.info("job %s planned: %d images in %d chunks", record.id, total, index)
    return record


def _chunk(record: JobRecord, index: int, keys: list[str]) -> str:
    return ChunkMessage(
        job=record.id,
        index=index,
        source=record.spec.source,
        keys=keys,
        top_k=record.spec.top_k,
        model=record.spec.model,
    ).model_dump_json()
