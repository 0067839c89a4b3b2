"""What each request handler needs, as `Annotated` dependencies, one per need.

The lifespan builds the parts once (`WebParts`, on `app.state.parts`); a route names only the
parts it uses, so no route can reach the backend or a part it has no need of.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.jobs.contract import JobRecord, JobSpec
from services.jobs.store import JobStore
from services.models.resolver import ModelResolver
from services.ports.storage import BlobStore
from services.status import StatusReport
from services.web.fast_scaling import FastScaling
from services.web.replies.dispatcher import ReplyDispatcher
from services.web.settings import WebSettings
from services.web.uploads.form import UploadedImage, read_upload
from services.web.uploads.submission import Submitter

StartJob = Callable[[JobSpec, str | None], JobRecord]  # (spec, idempotency key); blocking


@dataclass(frozen=True, slots=True)
class WebParts:
    settings: WebSettings
    inputs: BlobStore
    outputs: BlobStore
    submitter: Submitter
    dispatcher: ReplyDispatcher
    fast_scaling: FastScaling
    models: ModelResolver
    jobs: JobStore
    start_job: StartJob
    read_status: Callable[[], StatusReport]  # blocking: reads the queues and a file


def _parts(request: Request) -> WebParts:
    parts: WebParts = request.app.state.parts
    return parts


# The getters are async on purpose: FastAPI runs a plain `def` dependency in its thread pool (a
# thread hop per request for an attribute read).
async def _settings(request: Request) -> WebSettings:
    return _parts(request).settings


async def _inputs(request: Request) -> BlobStore:
    return _parts(request).inputs


async def _outputs(request: Request) -> BlobStore:
    return _parts(request).outputs


async def _submitter(request: Request) -> Submitter:
    return _parts(request).submitter


async def _dispatcher(request: Request) -> ReplyDispatcher:
    return _parts(request).dispatcher


async def _fast_scaling(request: Request) -> FastScaling:
    return _parts(request).fast_scaling


async def _models(request: Request) -> ModelResolver:
    return _parts(request).models


async def _jobs(request: Request) -> JobStore:
    return _parts(request).jobs


async def _start_job(request: Request) -> StartJob:
    return _parts(request).start_job


async def _read_status(request: Request) -> Callable[[], StatusReport]:
    return _parts(request).read_status


SettingsDep = Annotated[WebSettings, Depends(_settings)]
InputsDep = Annotated[BlobStore, Depends(_inputs)]
OutputsDep = Annotated[BlobStore, Depends(_outputs)]
SubmitterDep = Annotated[Submitter, Depends(_submitter)]
DispatcherDep = Annotated[ReplyDispatcher, Depends(_dispatcher)]
FastScalingDep = Annotated[FastScaling, Depends(_fast_scaling)]
ModelsDep = Annotated[ModelResolver, Depends(_models)]
JobStoreDep = Annotated[JobStore, Depends(_jobs)]
StartJobDep = Annotated[StartJob, Depends(_start_job)]
ReadStatusDep = Annotated[Callable[[], StatusReport], Depends(_read_status)]


async def _upload(request: Request, settings: SettingsDep) -> UploadedImage:
    return await read_upload(request, settings.max_upload_bytes)


UploadDep = Annotated[UploadedImage, Depends(_upload)]
