"""Upload one image: `POST /upload` (the course clients' text answer) and `POST /v1/classify` (JSON)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from services.web.deps import ServicesDep, UploadDep
from services.web.responses import ERRORS, PENDING, checked, pending
from services.web.schemas import ClassifyResponse
from services.web.submission import submit
from services.web.upload import FILE_FIELDS

router = APIRouter(tags=["classify"])

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


@router.post(
    "/upload",
    response_class=PlainTextResponse,
    response_model=None,
    responses={200: {"content": {"text/plain": {"example": "cat:tabby"}}}, **PENDING, **ERRORS},
    openapi_extra=_UPLOAD_BODY,
    summary="Classify one image; answers `<name without extension>:<label>` as text",
)
async def upload(image: UploadDep, services: ServicesDep) -> PlainTextResponse | JSONResponse:
    request_id, result = await submit(services, image)
    if result is None:
        return pending(request_id)
    return PlainTextResponse(f"{image.stem}:{checked(result).label}")


@router.post(
    "/v1/classify",
    response_model=ClassifyResponse,
    responses={**PENDING, **ERRORS},
    openapi_extra=_UPLOAD_BODY,
    summary="Classify one image; answers label, score, top-5 and timings as JSON",
)
async def classify(image: UploadDep, services: ServicesDep) -> ClassifyResponse | JSONResponse:
    request_id, result = await submit(services, image)
    if result is None:
        return pending(request_id)
    return ClassifyResponse.from_result(checked(result))
