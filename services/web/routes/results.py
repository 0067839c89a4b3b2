"""`GET /v1/results/{id}`: a stored result, read from the output bucket (works on any web process)."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from services.contract import ErrorKind, Result
from services.ports import BlobNotFoundError
from services.web.deps import ServicesDep
from services.web.errors import ApiError
from services.web.responses import ERRORS, PENDING, checked, pending
from services.web.schemas import ClassifyResponse, ErrorResponse

router = APIRouter(tags=["results"])
ResultId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="request id")]


@router.get(
    "/v1/results/{request_id}",
    response_model=ClassifyResponse,
    responses={**PENDING, **ERRORS, 404: {"model": ErrorResponse, "description": "unknown id"}},
    summary="The stored result of a request (from the output bucket)",
)
async def get_result(request_id: ResultId, services: ServicesDep) -> ClassifyResponse | JSONResponse:
    try:
        blob = await to_thread.run_sync(services.outputs.get, request_id)
    except BlobNotFoundError:
        if await to_thread.run_sync(services.inputs.exists, request_id):
            return pending(request_id)
        raise ApiError(404, ErrorKind.NOT_FOUND, f"no request {request_id}") from None
    return ClassifyResponse.from_result(checked(Result.model_validate_json(blob.data)))
