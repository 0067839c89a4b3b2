"""Where a job reads and writes (checked against the jobs root), its claim on the output, its results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from services.contract import new_request_id
from services.jobs.contract import JobRecord, JobSpec
from services.jobs.store import JobStore
from services.ports.job_locations import JobOutput

CLAIM_FILE = "_JOB.json"


class JobLocationError(ValueError):
    """A source the service may not read (outside the jobs root, or of the other backend's kind)."""


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


def results(store: JobStore, record: JobRecord) -> Iterator[bytes]:
    """The job's JSON Lines, shard by shard in chunk order (what is written so far)."""
    for index in sorted(store.shard_indices(record.id)):
        yield store.shard(record.id, index)
