"""HTTP routes: upload (course text format), classify (JSON), results, health, the upload page."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from services.contract import Result
from services.ports import BlobNotFoundError
from services.web.deps import ServicesDep, UploadDep
from services.web.errors import ApiError
from services.web.schemas import ClassifyResponse, ErrorResponse, Health, PendingResponse
from services.web.submission import submit
from services.web.upload import FILE_FIELDS

router = APIRouter()

# The body is parsed by hand (bounded stream, three accepted field names); describe it for /docs.
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {name: {"type": "string", "format": "binary"} for name in FILE_FIELDS},
                    "description": f"one image in any of the fields {', '.join(FILE_FIELDS)}",
                }
            }
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "empty file, missing field or not a multipart body",
        413: "image larger than the limit",
        415: "not an image (sniffed from the bytes)",
        422: "an image the model cannot read (truncated, corrupt, too many pixels...)",
        502: "the worker failed on this request",
    }.items()
}
_PENDING: dict[int | str, dict[str, Any]] = {
    202: {"model": PendingResponse, "description": "not done within the wait; poll Location"}
}
ResultId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="request id")]


def _pending(request_id: str) -> JSONResponse:
    location = f"/v1/results/{request_id}"
    body = PendingResponse(id=request_id, location=location)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": location})


def _checked(result: Result) -> Result:
    if result.error is not None:
        raise ApiError.from_result_error(result.error, result.id)
    return result


@router.post(
    "/upload",
    response_class=PlainTextResponse,
    response_model=None,
    responses={200: {"content": {"text/plain": {"example": "cat:tabby"}}}, **_PENDING, **_ERRORS},
    openapi_extra=_UPLOAD_BODY,
    summary="Classify one image; answers `<name without extension>:<label>` as text",
)
async def upload(image: UploadDep, services: ServicesDep) -> PlainTextResponse | JSONResponse:
    request_id, result = await submit(services, image)
    if result is None:
        return _pending(request_id)
    return PlainTextResponse(f"{image.stem}:{_checked(result).label}")


@router.post(
    "/v1/classify",
    response_model=ClassifyResponse,
    responses={**_PENDING, **_ERRORS},
    openapi_extra=_UPLOAD_BODY,
    summary="Classify one image; answers label, score, top-5 and timings as JSON",
)
async def classify(image: UploadDep, services: ServicesDep) -> ClassifyResponse | JSONResponse:
    request_id, result = await submit(services, image)
    if result is None:
        return _pending(request_id)
    return ClassifyResponse.from_result(_checked(result))


@router.get(
    "/v1/results/{request_id}",
    response_model=ClassifyResponse,
    responses={**_PENDING, **_ERRORS, 404: {"model": ErrorResponse, "description": "unknown id"}},
    summary="The stored result of a request (from the output bucket)",
)
async def get_result(request_id: ResultId, services: ServicesDep) -> ClassifyResponse | JSONResponse:
    try:
        blob = await to_thread.run_sync(services.outputs.get, request_id)
    except BlobNotFoundError:
        if await to_thread.run_sync(services.inputs.exists, request_id):
            return _pending(request_id)
        raise ApiError(404, "not_found", f"no request {request_id}") from None
    return ClassifyResponse.from_result(_checked(Result.model_validate_json(blob.data)))


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(services: ServicesDep) -> Health | JSONResponse:
    health = Health(
        status="ok" if services.dispatcher.alive else "degraded",
        backend=services.settings.backend,
        reply_consumer=services.dispatcher.alive,
    )
    if not services.dispatcher.alive:
        return JSONResponse(health.model_dump(), status_code=503)
    return health


_INDEX = resources.files("services.web").joinpath("static/index.html")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse(_INDEX.read_text(encoding="utf-8"))
