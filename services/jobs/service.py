"""Creating, reading, listing and cancelling jobs: what the HTTP routes and the CLI ask for."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from services.contract import new_request_id
from services.jobs.contract import JobRecord, JobSpec, JobState, Manifest
from services.jobs.store import JobStore
from services.ports import JobOutput

CLAIM_FILE = "_JOB.json"


class JobLocationError(ValueError):
    """A source the service may not read (outside the jobs root, or of the other backend's kind)."""


class JobStatus(BaseModel):
    id: str
    state: JobState
    source: str
    total: int | None
    done: int
    failed: int
    images_per_second: float | None
    eta_seconds: float | None
    created_at: float
    finished_at: float | None
    results: str  # where to read the JSON Lines (GET)
    manifest: Manifest | None = None
    problem: str | None = None  # why planning cannot go on for now (it is retried)


def _folder_under_root(given: str, jobs_root: Path | None, what: str, verb: str) -> Path:
    """`given` (relative to the jobs root, or absolute) resolved, if it lies under the root."""
    if jobs_root is None:
        raise JobLocationError(
            f"this service {verb} no folders: start it with a jobs root (EVISION_JOBS_ROOT)"
        )
    root = jobs_root.resolve()
    folder = (root / given).resolve()  # an absolute `given` stays itself
    if not folder.is_relative_to(root):
        raise JobLocationError(f"{what} must be a folder under the jobs root {root}")
    return folder


def check_output(output: str, *, jobs_root: Path | None) -> str:
    """Where to copy the results: a prefix as given (the backend decides), or a folder under the
    jobs root (created at the end if missing)."""
    if output.startswith("s3://"):
        return output
    return str(_folder_under_root(output, jobs_root, "output", "writes"))


def check_location(source: str, *, jobs_root: Path | None) -> str:
    """`source` as the backend should read it, or JobLocationError saying why it is refused: a
    bucket prefix goes to the backend as given (its `job_source` decides whether it can read it);
    a folder must lie under the jobs root."""
    if source.startswith("s3://"):
        return source
    folder = _folder_under_root(source, jobs_root, "source", "reads")
    if not folder.is_dir():
        raise JobLocationError(f"no folder {folder}")
    return str(folder)


def new_job(spec: JobSpec, location: str, chunk_size: int, output: str | None = None) -> JobRecord:
    resolved = spec.model_copy(update={"source": location, "output": output})
    return JobRecord(id=new_request_id(), spec=resolved, chunk_size=chunk_size)


def claim_output(output: JobOutput, record: JobRecord) -> None:
    """`_JOB.json` in the output location at once: which job writes there (and whether the
    service may write there at all: OutputUnwritableError, before the job is accepted)."""
    claim = {"job": record.id, "source": record.spec.source, "created_at": record.created_at}
    output.write(CLAIM_FILE, json.dumps(claim, indent=2).encode())


def status(store: JobStore, record: JobRecord) -> JobStatus:
    manifest = store.manifest(record.id) if record.state == "done" else None
    if manifest is not None:
        done, failed = manifest.total, manifest.failed
    else:
        shards = store.shard_indices(record.id)
        done = len(shards) * record.chunk_size
        if record.total is not None and record.chunks_sent - 1 in shards:  # the last chunk is short
            done -= record.chunks_sent * record.chunk_size - record.total
        failed = store.failed_count(record.id)
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
        done=done,
        failed=failed,
        images_per_second=round(speed, 1) if speed else None,
        eta_seconds=eta,
        created_at=record.created_at,
        finished_at=record.finished_at,
        results=f"/v1/jobs/{record.id}/results",
        manifest=manifest,
        problem=record.problem,
    )


def results(store: JobStore, record: JobRecord) -> Iterator[bytes]:
    """The job's JSON Lines, shard by shard in chunk order (what is written so far)."""
    for index in sorted(store.shard_indices(record.id)):
        yield store.shard(record.id, index)
