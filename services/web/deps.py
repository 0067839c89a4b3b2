"""What a request handler needs, as Annotated dependencies (built once in the app lifespan)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.jobs.monitor import JobMonitor
from services.jobs.store import JobStore
from services.model_catalog import ModelResolver
from services.ports import Backend, BlobStore, MessageQueue
from services.web.activity import Activity
from services.web.fast_scaling import FastScaling
from services.web.replies.dead_letters import DeadLetterDrainer
from services.web.replies.dispatcher import ReplyDispatcher
from services.web.settings import WebSettings
from services.web.uploads.form import UploadedImage, read_upload


@dataclass(frozen=True, slots=True)
class WebServices:
    settings: WebSettings
    backend: Backend
    inputs: BlobStore
    outputs: BlobStore
    dead_letters: DeadLetterDrainer
    requests: MessageQueue
    send_request: Callable[[str], object]  # to `requests`; grouped into batches where calls are slow
    reply_queue: str  # this process's own (the keeper's)
    dispatcher: ReplyDispatcher
    activity: Activity
    fast_scaling: FastScaling
    jobs: JobStore
    job_monitor: JobMonitor
    models: ModelResolver


async def get_services(request: Request) -> WebServices:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool (a thread hop per
    # request for an attribute read).
    services: WebServices = request.app.state.services
    return services


ServicesDep = Annotated[WebServices, Depends(get_services)]


async def get_upload(request: Request, services: ServicesDep) -> UploadedImage:
    return await read_upload(request, services.settings.max_upload_bytes)


UploadDep = Annotated[UploadedImage, Depends(get_upload)]
