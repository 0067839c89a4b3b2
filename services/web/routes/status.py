"""`GET /v1/status` (the same report as `evision status --json`) and `GET /healthz`."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.status import StatusReport, collect_status
from services.web.deps import ServicesDep
from services.web.schemas import Health

router = APIRouter(tags=["status"])


@router.get(
    "/v1/status",
    response_model=StatusReport,
    summary="Queue depth, workers running/desired and recent scaling decisions",
)
async def status(services: ServicesDep) -> StatusReport:
    settings = services.settings
    report = await to_thread.run_sync(
        lambda: collect_status(
            backend=settings.backend,
            capacity_manager=services.backend.capacity_manager,
            queue_name=settings.request_queue,
            depth=services.requests.depth,
            data_dir=settings.data_dir,
            dead_letters=(
                settings.dead_letter_queue,
                services.backend.queue(settings.dead_letter_queue).depth,
            ),
        )
    )
    report.models = services.dispatcher.recent_models()
    return report


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(services: ServicesDep) -> Health | JSONResponse:
    """200 while the reply consumer runs (the load balancer's health check), 503 otherwise."""
    health = Health(
        status="ok" if services.dispatcher.alive else "degraded",
        backend=services.settings.backend,
        reply_consumer=services.dispatcher.alive,
    )
    if not services.dispatcher.alive:
        return JSONResponse(health.model_dump(), status_code=503)
    return health
