"""Batch jobs: `POST /v1/jobs`, `GET /v1/jobs[/{id}[/results]]`, `DELETE /v1/jobs/{id}` (cancel)."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Path
from fastapi.responses import StreamingResponse
from starlette.convertors import Convertor, register_url_convertor

from services.contract import ErrorKind
from services.idempotency import HEADER, KEY_PATTERN
from services.jobs import lifecycle
from services.jobs.contract import JobRecord, JobSpec
from services.jobs.creation import JobRefusedError
from services.jobs.progress import JobStatus, status
from services.jobs.service import results
from services.jobs.store import JobStore
from services.web.deps import FastScalingDep, JobStoreDep, StartJobDep
from services.web.errors import ApiError
from services.web.responses import ERRORS
from services.web.schemas import ErrorResponse

router = APIRouter(tags=["jobs"])
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="job id")]


class _JobIdConvertor(Convertor[str]):
    """Only a job id's shape routes to a job, so /v1/jobs/uploads is never taken for one (a GET
    there is a 405, not a 422 about a malformed id)."""

    regex = "[0-9a-f]{32}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("job_id", _JobIdConvertor())
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "unknown job"}}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        pattern=KEY_PATTERN,
        description="a retry with the same key and the same spec returns the first job (resume, not "
        "restart); the same key with another spec is refused (422)",
    ),
]


def _record(jobs: JobStore, job: str) -> JobRecord:
    record = jobs.record(job)
    if record is None:
        raise ApiError(404, ErrorKind.NOT_FOUND, f"no job {job}")
    return record


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=JobStatus,
    responses={
        **ERRORS,
        422: {"model": ErrorResponse, "description": "a source it cannot read, an output it cannot write"},
    },
    summary="Start a batch job over a folder (local) or an s3://bucket/prefix (aws)",
)
async def post_job(
    spec: JobSpec,
    start_job: StartJobDep,
    fast_scaling: FastScalingDep,
    idempotency_key: IdempotencyKey = None,
) -> JobStatus:
    try:
        record = await to_thread.run_sync(start_job, spec, idempotency_key)
    except JobRefusedError as exc:
        raise ApiError(422, ErrorKind.INVALID_REQUEST, str(exc)) from None
    fast_scaling.on_upload()  # from zero: raise the pool now, not at the first alarm
    return status(record)


@router.get("/v1/jobs", response_model=list[JobStatus], summary="Recent jobs, newest first")
async def list_jobs(jobs: JobStoreDep, limit: int = 20) -> list[JobStatus]:
    def newest() -> list[JobStatus]:
        ids = sorted(jobs.job_ids(), reverse=True)[: max(1, min(limit, 100))]
        return [status(r) for r in (jobs.record(i) for i in ids) if r is not None]

    return await to_thread.run_sync(newest)


@router.get(
    "/v1/jobs/{job_id:job_id}",
    response_model=JobStatus,
    responses={**ERRORS, **NOT_FOUND},
    summary="A job's progress",
)
async def get_job(job_id: JobId, jobs: JobStoreDep) -> JobStatus:
    record = await to_thread.run_sync(_record, jobs, job_id)  # the one storage read
    return status(record)


@router.get(
    "/v1/jobs/{job_id:job_id}/results",
    responses={**ERRORS, **NOT_FOUND, 200: {"content": {"application/x-ndjson": {}}}},
    summary="The job's results so far: one JSON line per image, in source-key order per chunk",
)
async def get_job_results(job_id: JobId, jobs: JobStoreDep) -> StreamingResponse:
    record = await to_thread.run_sync(_record, jobs, job_id)
    shards = await to_thread.run_sync(lambda: list(results(jobs, record)))
    return StreamingResponse(iter(shards), media_type="application/x-ndjson")


@router.delete(
    "/v1/jobs/{job_id:job_id}",
    status_code=202,
    response_model=JobStatus,
    responses={**ERRORS, **NOT_FOUND},
    summary="Cancel a job: no new chunk starts; what is done stays done",
)
async def cancel_job(job_id: JobId, jobs: JobStoreDep) -> JobStatus:
    record = await to_thread.run_sync(lifecycle.cancel, jobs, job_id)
    if record is None:
        raise ApiError(404, ErrorKind.NOT_FOUND, f"no job {job_id}")
    return status(record)
