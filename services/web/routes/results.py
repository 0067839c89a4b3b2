"""`GET /v1/results/{id}`: a stored result, read from the output bucket (works on any web process)."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from services.contract import ErrorKind
from services.results import stored_result
from services.web.deps import InputsDep, OutputsDep
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
async def get_result(
    request_id: ResultId, inputs: InputsDep, outputs: OutputsDep
) -> ClassifyResponse | JSONResponse:
    result = await to_thread.run_sync(stored_result, outputs, request_id)
    if result is not None:
        return ClassifyResponse.from_result(checked(result))
    if await to_thread.run_sync(inputs.exists, request_id):
        return pending(request_id)
    raise ApiError(404, ErrorKind.NOT_FOUND, f"no request {request_id}")
