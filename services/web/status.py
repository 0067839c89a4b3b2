"""`GET /v1/status`: the same report as `evision status --json` (queue depth, workers, decisions)."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from services.status import StatusReport, collect_status
from services.web.deps import ServicesDep

router = APIRouter()


@router.get(
    "/v1/status",
    response_model=StatusReport,
    summary="Queue depth, workers running/desired and recent scaling decisions",
)
async def status(services: ServicesDep) -> StatusReport:
    settings = services.settings
    return await to_thread.run_sync(
        lambda: collect_status(
            backend=settings.backend,
            capacity_manager=services.backend.capacity_manager,
            queue_name=settings.request_queue,
            depth=services.requests.depth,
            data_dir=settings.data_dir,
        )
    )
