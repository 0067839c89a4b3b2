"""The web process's parts and background services, started in order on one exit stack.

Each background service is a context manager entered on the stack as it starts, so a start-up
that fails half-way undoes exactly what had started (the reply queue is deleted, the threads and
tasks stopped), and shutdown stops everything in the reverse order of its start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from typing import TypeVar

from anyio import to_thread

from services.adapters.registry import open_backend
from services.idempotency import IdempotencyKeys
from services.jobs.backlog import WorkBacklog
from services.jobs.creation import create_job
from services.jobs.monitor import JobMonitor
from services.jobs.store import JobStore
from services.jobs.webhook import webhook_secret
from services.models.resolver import ModelResolver
from services.ports.backend import Backend
from services.ports.staging import JobStaging
from services.ports.storage import BlobStore, MessageQueue
from services.status import collect_status
from services.web.activity import Activity
from services.web.deps import WebParts
from services.web.fast_scaling import FastScaling
from services.web.front_door.api_keys import load_api_keys
from services.web.front_door.door import Admission
from services.web.replies.dead_letters import DeadLetterDrainer
from services.web.replies.dispatcher import ReplyDispatcher
from services.web.replies.group_send import GroupSender
from services.web.replies.queue_keeper import ReplyQueueKeeper
from services.web.settings import WebSettings
from services.web.uploads.orphan_sweep import OrphanSweep
from services.web.uploads.submission import Submitter

log = logging.getLogger(__name__)


T = TypeVar("T")


@asynccontextmanager
async def off_the_loop(service: AbstractContextManager[T]) -> AsyncIterator[T]:
    """A blocking context manager, entered and left in a worker thread (the loop goes on)."""
    value = await to_thread.run_sync(service.__enter__)
    try:
        yield value
    except BaseException as exc:
        await to_thread.run_sync(service.__exit__, type(exc), exc, exc.__traceback__)
        raise
    await to_thread.run_sync(service.__exit__, None, None, None)


async def start_parts(stack: AsyncExitStack, settings: WebSettings, admission: Admission) -> WebParts:
    """Open the backend and start the background services on `stack`; the parts the routes use."""
    backend = await _open_backend(stack, settings, admission)
    requests = backend.storage.queue(settings.request_queue)
    keeper = ReplyQueueKeeper(
        backend.storage.reply_queues(),
        settings.reply_queue_prefix,
        heartbeat_seconds=settings.reply_heartbeat_seconds,
        orphan_seconds=settings.reply_orphan_seconds,
    )
    replies = await stack.enter_async_context(off_the_loop(keeper))
    dispatcher = await stack.enter_async_context(
        ReplyDispatcher(replies, poll_seconds=settings.reply_poll_seconds)
    )
    fast_scaling = FastScaling(
        requests=WorkBacklog(requests, backend.storage.queue(settings.job_queue), settings.job_chunk_size),
        reporter=backend.telemetry.depth_reporter(),
        activator=backend.capacity.activator(settings.worker_group, settings.scale_from_zero_to),
        depth_seconds=settings.depth_metric_seconds,
        activation_seconds=settings.activation_seconds,
    )
    activity = Activity(
        depth=fast_scaling.depth,  # one queue read per period serves both
        supervisor=backend.capacity.supervisor_status,
        capacity_manager=backend.capacity.manager,
        interval=settings.summary_seconds,
    )
    await stack.enter_async_context(activity)
    await stack.enter_async_context(fast_scaling)
    inputs, outputs = (
        backend.storage.blobs(settings.input_bucket),
        backend.storage.blobs(settings.output_bucket),
    )
    await _start_sweepers(stack, settings, backend, inputs, outputs, requests, reply_to=keeper.name)
    jobs = JobStore(outputs)
    job_monitor = await _job_monitor(settings, backend, jobs)
    await stack.enter_async_context(off_the_loop(job_monitor.running()))
    models = ModelResolver(backend.models)
    submitter = Submitter(
        inputs=inputs,
        outputs=outputs,
        # On the event loop a send is brief; through a network, concurrent ones share a batch.
        send_request=requests.send
        if backend.storage.calls_are_brief
        else GroupSender(requests.send_batch).send,
        reply_queue=keeper.name,
        dispatcher=dispatcher,
        activity=activity,
        fast_scaling=fast_scaling,
        wait_seconds=settings.wait_seconds,
        crash_after=settings.crash_after,
        calls_are_brief=backend.storage.calls_are_brief,
    )
    start_job = partial(
        create_job,
        store=jobs,
        keys=IdempotencyKeys(outputs),
        monitor=job_monitor,
        locations=backend.job_locations,
        resolve_model=models.resolve,
        jobs_root=settings.jobs_root,
        chunk_size=settings.job_chunk_size,
        staged_location=inputs.staging_location if isinstance(inputs, JobStaging) else None,
    )
    read_status = partial(
        collect_status,
        backend=settings.backend,
        capacity_manager=backend.capacity.manager,
        queue_name=settings.request_queue,
        depth=requests.depth,
        supervisor=backend.capacity.supervisor_status,
        dead_letters=(settings.dead_letter_queue, backend.storage.queue(settings.dead_letter_queue).depth),
    )
    return WebParts(
        settings, inputs, outputs, submitter, dispatcher, fast_scaling, models, jobs, start_job, read_status
    )


async def _open_backend(stack: AsyncExitStack, settings: WebSettings, admission: Admission) -> Backend:
    """The backend (closed last), the admission's API keys, and the provisioning where it is ours."""
    backend = await to_thread.run_sync(open_backend, settings)
    stack.callback(backend.close)
    admission.keys = await to_thread.run_sync(load_api_keys, settings, backend.deployment.read_secret)
    if admission.keys is not None:
        log.info("API keys on: %d valid keys (header %s)", len(admission.keys), settings.api_key_header)
    if backend.storage.provisions_itself:  # in AWS the infrastructure owns queues and buckets
        await to_thread.run_sync(backend.storage.provision, settings)
    return backend


async def _start_sweepers(
    stack: AsyncExitStack,
    settings: WebSettings,
    backend: Backend,
    inputs: BlobStore,
    outputs: BlobStore,
    requests: MessageQueue,
    *,
    reply_to: str,
) -> None:
    """The dead-letter drainer and the orphan sweep (both threads)."""
    drainer = DeadLetterDrainer.for_settings(
        settings,
        dead_letters=backend.storage.queue(settings.dead_letter_queue),
        outputs=outputs,
        reply_queue=backend.storage.queue,
    )
    await stack.enter_async_context(off_the_loop(drainer))
    orphans = OrphanSweep(
        inputs=inputs,
        outputs=outputs,
        requests=requests,
        dead_letters=backend.storage.queue(settings.dead_letter_queue),
        reply_to=reply_to,
        period=settings.orphan_sweep_seconds,
        margin=2 * settings.visibility_timeout,  # a web process between its put and its send
    )
    await stack.enter_async_context(off_the_loop(orphans))


async def _job_monitor(settings: WebSettings, backend: Backend, jobs: JobStore) -> JobMonitor:
    return JobMonitor(
        store=jobs,
        queue=backend.storage.queue(settings.job_queue),
        dead_letters=backend.storage.queue(settings.job_dead_letter_queue),
        source=backend.job_locations.source,
        output=backend.job_locations.output,
        webhook_secret=await to_thread.run_sync(webhook_secret, settings, backend.deployment.read_secret),
        stale_seconds=max(30.0, 5 * settings.job_monitor_seconds),
        allow_private_webhooks=settings.webhook_allow_private,
        webhook_timeout=settings.webhook_timeout_seconds,
        idle_seconds=settings.job_monitor_seconds,
        busy_seconds=settings.job_busy_monitor_seconds,
    )
