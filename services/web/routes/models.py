"""`GET /v1/models`: the models this deployment serves (the default first, then the registry)."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from services.model_catalog import ModelInfo, catalog
from services.web.deps import ServicesDep
from services.web.responses import ERRORS

router = APIRouter(tags=["models"])


@router.get(
    "/v1/models", response_model=list[ModelInfo], responses=ERRORS, summary="The models this service has"
)
async def list_models(services: ServicesDep) -> list[ModelInfo]:
    return await to_thread.run_sync(catalog, services.backend.model_registry())
