"""A job's progress as a client reads it (GET /v1/jobs/{id}): from the record alone, one read."""

from __future__ import annotations

import time
from collections.abc import Set

from pydantic import BaseModel

from services.jobs.contract import JobRecord, JobState, Manifest


class JobStatus(BaseModel):
    id: str
    state: JobState
    source: str
    total: int | None  # known once the whole source is listed
    chunks_sent: int  # chunk messages sent so far (planning progress)
    done: int
    failed: int
    images_per_second: float | None
    eta_seconds: float | None
    created_at: float
    finished_at: float | None
    results: str  # where to read the JSON Lines (GET)
    manifest: Manifest | None = None
    problem: str | None = None  # why planning cannot go on for now (it is retried)


def images_in(record: JobRecord, shards: Set[int]) -> int:
    """Images with a line, given the chunk indices that have their shard."""
    done = len(shards) * record.chunk_size
    if record.total is not None and record.chunks_sent - 1 in shards:  # the last chunk is short
        done -= record.chunks_sent * record.chunk_size - record.total
    return done


def status(record: JobRecord) -> JobStatus:
    """What the record says (the monitor keeps its counts as shards land): no other read."""
    done, failed = record.images_done, record.images_failed
    end = record.finished_at or time.time()
    elapsed = max(end - record.created_at, 1e-9)
    speed = done / elapsed if done else None
    eta = None
    if speed and record.total is not None and record.state == "running":
        eta = round(max(record.total - done, 0) / speed, 1)
    return JobStatus(
        id=record.id,
        state=record.state,
        source=record.spec.source,
        total=record.total,
        chunks_sent=record.chunks_sent,
        done=done,
        failed=failed,
        images_per_second=round(speed, 1) if speed else None,
        eta_seconds=eta,
        created_at=record.created_at,
        finished_at=record.finished_at,
        results=f"/v1/jobs/{record.id}/results",
        manifest=record.manifest,
        problem=record.problem,
    )
