"""A new job's record, its claim on the output, its results. (Where a job may read and write is
the backend's to say: `Backend.job_locations`.)"""

from __future__ import annotations

import json
from collections.abc import Iterator

from services.contract import new_request_id
from services.jobs.contract import JobRecord, JobSpec
from services.jobs.store import JobStore
from services.ports.job_locations import JobOutput

CLAIM_FILE = "_JOB.json"


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
