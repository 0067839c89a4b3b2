"""`GET /v1/models`: the models this deployment serves (the default first, then the registry).

The list the resolver keeps (read again once older than its ttl): the page asks on every load, and on
S3 each read of the registry is a LIST and a GET per model."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter

from services.models.catalog import ModelInfo
from services.web.deps import ModelsDep
from services.web.responses import ERRORS

router = APIRouter(tags=["models"])


@router.get(
    "/v1/models", response_model=list[ModelInfo], responses=ERRORS, summary="The models this service has"
)
async def list_models(models: ModelsDep) -> list[ModelInfo]:
    return await to_thread.run_sync(models.models)
