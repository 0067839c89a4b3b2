"""`GET /v1/status` (the same report as `evision status --json`) and `GET /healthz`."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.status import StatusReport
from services.web.deps import DispatcherDep, ReadStatusDep, SettingsDep
from services.web.schemas import Health

router = APIRouter(tags=["status"])


@router.get(
    "/v1/status",
    response_model=StatusReport,
    summary="Queue depth, workers running/desired and recent scaling decisions",
)
async def status(read_status: ReadStatusDep, dispatcher: DispatcherDep) -> StatusReport:
    report = await to_thread.run_sync(read_status)
    report.models = dispatcher.recent_models()
    return report


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(dispatcher: DispatcherDep, settings: SettingsDep) -> Health | JSONResponse:
    """200 while the reply consumer runs (the load balancer's health check), 503 otherwise."""
    health = Health(
        status="ok" if dispatcher.alive else "degraded",
        backend=settings.backend,
        reply_consumer=dispatcher.alive,
    )
    if not dispatcher.alive:
        return JSONResponse(health.model_dump(), status_code=503)
    return health
