"""Batch jobs: `POST /v1/jobs`, `GET /v1/jobs[/{id}[/results]]`, `DELETE /v1/jobs/{id}` (cancel)."""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Path
from fastapi.responses import StreamingResponse

from services.contract import ErrorKind
from services.jobs.contract import FINAL_STATES, JobRecord, JobSpec
from services.jobs.service import (
    JobLocationError,
    JobStatus,
    check_location,
    check_output,
    claim_output,
    new_job,
    results,
    status,
)
from services.model_catalog import UnknownModelError
from services.ports import JobSource, OutputUnwritableError, SourceUnreadableError
from services.web.deps import ServicesDep
from services.web.errors import ApiError
from services.web.responses import ERRORS
from services.web.schemas import ErrorResponse
from services.web.uploads.idempotency import HEADER, KEY_PATTERN, IdempotencyKeys

router = APIRouter(tags=["jobs"])
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="job id")]
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


def _first_key(source: JobSource) -> str | None:
    """One listing call: a source that cannot be listed is refused now, not planned for ever."""
    return next(iter(source.keys_after("")), None)


def _record(services: ServicesDep, job: str) -> JobRecord:
    record = services.jobs.record(job)
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
async def create_job(
    spec: JobSpec, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JobStatus:
    settings = services.settings
    try:
        location = check_location(spec.source, jobs_root=settings.jobs_root)
        source = services.backend.job_source(location)  # the backend's own check: this kind?
        await to_thread.run_sync(_first_key, source)  # and this one: a bucket it may list?
        output = None if spec.output is None else check_output(spec.output, jobs_root=settings.jobs_root)
        if output is not None:
            services.backend.job_output(output)  # this kind of location?
        model = await to_thread.run_sync(services.models.resolve, spec.model)
    except (JobLocationError, ValueError, UnknownModelError, SourceUnreadableError) as exc:
        raise ApiError(422, ErrorKind.INVALID_REQUEST, str(exc)) from None
    if spec.webhook is not None and not services.job_monitor.signs_webhooks:
        raise ApiError(
            422, ErrorKind.INVALID_REQUEST, "this service signs no webhooks (no webhook secret set)"
        )
    fingerprint = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()
    keys = IdempotencyKeys(services.outputs)
    if idempotency_key is not None:
        remembered = await to_thread.run_sync(keys.lookup, idempotency_key, fingerprint)
        if remembered is not None and (existing := services.jobs.record(remembered.id)) is not None:
            if existing.state == "planning":
                services.job_monitor.start_planning(existing)  # resume, if its planner died
            return await to_thread.run_sync(status, services.jobs, existing)
    record = new_job(spec.model_copy(update={"model": model}), location, settings.job_chunk_size, output)
    if output is not None:  # and one it may write? Found now, not when the job is done.
        try:
            await to_thread.run_sync(claim_output, services.backend.job_output(output), record)
        except OutputUnwritableError as exc:
            raise ApiError(422, ErrorKind.INVALID_REQUEST, str(exc)) from None
    await to_thread.run_sync(services.jobs.put_record, record)
    if idempotency_key is not None:
        await to_thread.run_sync(keys.remember, idempotency_key, fingerprint, record.id)
    services.job_monitor.start_planning(record)
    services.fast_scaling.on_upload()  # from zero: raise the pool now, not at the first alarm
    return await to_thread.run_sync(status, services.jobs, record)


@router.get("/v1/jobs", response_model=list[JobStatus], summary="Recent jobs, newest first")
async def list_jobs(services: ServicesDep, limit: int = 20) -> list[JobStatus]:
    def newest() -> list[JobStatus]:
        ids = sorted(services.jobs.job_ids(), reverse=True)[: max(1, min(limit, 100))]
        return [status(services.jobs, r) for r in (services.jobs.record(i) for i in ids) if r is not None]

    return await to_thread.run_sync(newest)


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobStatus,
    responses={**ERRORS, **NOT_FOUND},
    summary="A job's progress",
)
async def get_job(job_id: JobId, services: ServicesDep) -> JobStatus:
    record = await to_thread.run_sync(_record, services, job_id)
    return await to_thread.run_sync(status, services.jobs, record)


@router.get(
    "/v1/jobs/{job_id}/results",
    responses={**ERRORS, **NOT_FOUND, 200: {"content": {"application/x-ndjson": {}}}},
    summary="The job's results so far: one JSON line per image, in source-key order per chunk",
)
async def get_job_results(job_id: JobId, services: ServicesDep) -> StreamingResponse:
    record = await to_thread.run_sync(_record, services, job_id)
    shards = await to_thread.run_sync(lambda: list(results(services.jobs, record)))
    return StreamingResponse(iter(shards), media_type="application/x-ndjson")


@router.delete(
    "/v1/jobs/{job_id}",
    status_code=202,
    response_model=JobStatus,
    responses={**ERRORS, **NOT_FOUND},
    summary="Cancel a job: no new chunk starts; what is done stays done",
)
async def cancel_job(job_id: JobId, services: ServicesDep) -> JobStatus:
    record = await to_thread.run_sync(_record, services, job_id)
    if record.state not in FINAL_STATES:
        now = time.time()
        record = record.model_copy(update={"state": "cancelled", "finished_at": now, "updated_at": now})
        await to_thread.run_sync(services.jobs.put_record, record)
    return await to_thread.run_sync(status, services.jobs, record)
