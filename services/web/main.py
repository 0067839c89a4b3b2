"""The FastAPI app: `create_app(settings)`; the lifespan wires the backend and the reply consumer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from services.adapters.registry import open_backend
from services.jobs.backlog import WorkBacklog
from services.jobs.monitor import JobMonitor
from services.jobs.store import JobStore
from services.jobs.webhook import webhook_secret
from services.model_catalog import ModelResolver
from services.periodic import Periodic
from services.web.activity import Activity
from services.web.deps import WebServices
from services.web.errors import install_error_handlers
from services.web.fast_scaling import FastScaling
from services.web.front_door.api_keys import load_api_keys
from services.web.front_door.gate import FrontDoor, Gate
from services.web.front_door.rate_limit import RateLimiter
from services.web.replies.dead_letters import DeadLetterDrainer
from services.web.replies.dispatcher import ReplyDispatcher
from services.web.replies.group_send import GroupSender
from services.web.replies.queue_keeper import ReplyQueueKeeper
from services.web.routes import ROUTERS, TAGS
from services.web.settings import WebSettings
from services.web.uploads.orphan_sweep import OrphanSweep

log = logging.getLogger(__name__)


def create_app(settings: WebSettings) -> FastAPI:

    gate = Gate(header=settings.api_key_header, trust_forwarded_for=settings.trust_forwarded_for)
    if settings.rate_limit_per_second > 0:
        gate.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = await to_thread.run_sync(open_backend, settings)
        gate.keys = await to_thread.run_sync(load_api_keys, settings, backend.read_secret)
        if gate.keys is not None:
            log.info("API keys on: %d valid keys (header %s)", len(gate.keys), settings.api_key_header)
        if backend.provisions_itself:  # in AWS the infrastructure owns queues and buckets
            await to_thread.run_sync(backend.provision, settings)
        keeper = ReplyQueueKeeper(
            backend.reply_queues(),
            settings.reply_queue_prefix,
            heartbeat_seconds=settings.reply_heartbeat_seconds,
            orphan_seconds=settings.reply_orphan_seconds,
        )
        replies = await to_thread.run_sync(keeper.open)
        dispatcher = ReplyDispatcher(replies, poll_seconds=settings.reply_poll_seconds)
        requests = backend.queue(settings.request_queue)
        backlog = WorkBacklog(requests, backend.queue(settings.job_queue), settings.job_chunk_size)
        fast_scaling = FastScaling(
            requests=backlog,
            reporter=backend.depth_reporter(),
            activator=backend.capacity_activator(settings.worker_group, settings.scale_from_zero_to),
            depth_seconds=settings.depth_metric_seconds,
            activation_seconds=settings.activation_seconds,
        )
        activity = Activity(
            depth=fast_scaling.depth,  # one queue read per period serves both
            data_dir=settings.data_dir,
            capacity_manager=backend.capacity_manager,
            interval=settings.summary_seconds,
        )
        outputs = backend.blobs(settings.output_bucket)
        drainer = DeadLetterDrainer.for_settings(
            settings,
            dead_letters=backend.queue(settings.dead_letter_queue),
            outputs=outputs,
            reply_queue=backend.queue,
        )
        inputs = backend.blobs(settings.input_bucket)
        orphans = OrphanSweep(
            inputs=inputs,
            outputs=outputs,
            requests=requests,
            dead_letters=backend.queue(settings.dead_letter_queue),
            reply_to=keeper.name,
            period=settings.orphan_sweep_seconds,
            margin=2 * settings.visibility_timeout,  # a web process between its put and its send
        )
        jobs = JobStore(outputs)
        job_monitor = JobMonitor(
            store=jobs,
            queue=backend.queue(settings.job_queue),
            dead_letters=backend.queue(settings.job_dead_letter_queue),
            source=backend.job_source,
            output=backend.job_output,
            webhook_secret=await to_thread.run_sync(webhook_secret, settings, backend.read_secret),
            stale_seconds=max(30.0, 5 * settings.job_monitor_seconds),
            allow_private_webhooks=settings.webhook_allow_private,
            webhook_timeout=settings.webhook_timeout_seconds,
            idle_seconds=settings.job_monitor_seconds,
            busy_seconds=settings.job_busy_monitor_seconds,
        )
        job_monitoring = Periodic(
            job_monitor.step, every=job_monitor.period, name="job-monitor", woken=job_monitor.woken
        )
        app.state.services = WebServices(
            settings=settings,
            backend=backend,
            inputs=inputs,
            outputs=outputs,
            dead_letters=drainer,
            requests=requests,
            # On the event loop a send is brief; through a network, concurrent ones share a batch.
            send_request=requests.send if backend.calls_are_brief else GroupSender(requests.send_batch).send,
            reply_queue=keeper.name,
            dispatcher=dispatcher,
            activity=activity,
            fast_scaling=fast_scaling,
            jobs=jobs,
            job_monitor=job_monitor,
            models=ModelResolver(backend.model_registry()),
        )
        dispatcher.start(asyncio.get_running_loop())
        activity.start()
        fast_scaling.start()
        drainer.start()
        orphans.start()
        job_monitoring.start()
        try:
            yield
        finally:
            job_monitor.stop_event.set()
            await to_thread.run_sync(job_monitoring.stop)
            await to_thread.run_sync(orphans.stop)
            await to_thread.run_sync(drainer.stop)
            await fast_scaling.stop()
            await activity.stop()
            await to_thread.run_sync(dispatcher.stop)
            await to_thread.run_sync(keeper.close)
            backend.close()

    # /docs and /redoc with Swagger UI and ReDoc served from the package, not a CDN (offline too).
    app = FastAPIOffline(
        title="Elastic Vision",
        summary="Image recognition as a service",
        version="0.1.0",
        lifespan=lifespan,
        openapi_tags=TAGS,
    )
    install_error_handlers(app)
    app.add_middleware(FrontDoor, gate=gate)
    for router in ROUTERS:
        app.include_router(router)
    return app
