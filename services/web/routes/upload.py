"""Upload one image: `POST /upload` (the course clients' text answer) and `POST /v1/classify` (JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from services.contract import PRECISIONS, ErrorKind, Precision, Result
from services.idempotency import HEADER, KEY_PATTERN
from services.models.errors import UnknownModelError
from services.models.resolver import ModelResolver
from services.web.deps import ModelsDep, SubmitterDep, UploadDep
from services.web.errors import ApiError
from services.web.responses import ERRORS, PENDING, TEXT_ROUTE_ERRORS, TEXT_ROUTE_PENDING, checked, pending
from services.web.schemas import ClassifyResponse
from services.web.uploads.form import (
    FILE_FIELDS,
    MAX_MODEL_CHARS,
    MODEL_FIELD,
    PRECISION_FIELD,
    UploadedImage,
)
from services.web.uploads.submission import Submitter, submit

router = APIRouter(tags=["classify"])
ModelQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_MODEL_CHARS,
        description="name@version or name of a registered model (GET /v1/models); default: the default model",
    ),
]
PrecisionQuery = Annotated[
    Precision | None,
    Query(
        description="auto (default): the service's engine, the fastest that agrees with fp32; fp32: "
        "the fp32 reference (ONNX Runtime); int8: the model's int8 variant (a 422 if it has none)",
    ),
]

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        pattern=KEY_PATTERN,
        description="any unique string (e.g. a UUID) per image: a retry with the same key and image "
        "within the input retention returns the first upload's id and result, classified once; "
        "the same key with another image is refused (422)",
    ),
]

# The body is parsed by hand (bounded stream, three accepted field names); describe it for /docs.
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **{name: {"type": "string", "format": "binary"} for name in FILE_FIELDS},
                        MODEL_FIELD: {
                            "type": "string",
                            "maxLength": MAX_MODEL_CHARS,
                            "description": "as ?model=",
                        },
                        PRECISION_FIELD: {
                            "type": "string",
                            "enum": list(PRECISIONS),
                            "description": "as ?precision=",
                        },
                    },
                    "description": f"one image in any of the fields {', '.join(FILE_FIELDS)}; "
                    f"optionally the model in `{MODEL_FIELD}` and the precision in `{PRECISION_FIELD}`",
                }
            }
        },
    }
}


_TEXT_ANSWER: dict[str, Any] = {
    "response_class": PlainTextResponse,
    "response_model": None,
    "responses": {
        200: {"content": {"text/plain": {"example": "cat:tabby"}}},
        **TEXT_ROUTE_PENDING,
        **TEXT_ROUTE_ERRORS,
    },
    "openapi_extra": _UPLOAD_BODY,
}


# Course clients given a bare host URL post to it: the same upload, the same answer.
@router.post("/", operation_id="upload_at_root", summary="The same as POST /upload", **_TEXT_ANSWER)
@router.post(
    "/upload",
    summary="Classify one image; answers `<name without extension>:<label>` as text",
    **_TEXT_ANSWER,
)
async def upload(
    image: UploadDep,
    submitter: SubmitterDep,
    models: ModelsDep,
    idempotency_key: IdempotencyKeyHeader = None,
    model: ModelQuery = None,
    precision: PrecisionQuery = None,
) -> PlainTextResponse | JSONResponse:
    result = await _classified(submitter, models, image, idempotency_key, model, precision)
    if isinstance(result, JSONResponse):
        return result
    return PlainTextResponse(f"{image.stem}:{result.label}")


@router.post(
    "/v1/classify",
    response_model=ClassifyResponse,
    responses={**PENDING, **ERRORS},
    openapi_extra=_UPLOAD_BODY,
    summary="Classify one image; answers label, score, top-5 and timings as JSON",
)
async def classify(
    image: UploadDep,
    submitter: SubmitterDep,
    models: ModelsDep,
    idempotency_key: IdempotencyKeyHeader = None,
    model: ModelQuery = None,
    precision: PrecisionQuery = None,
) -> ClassifyResponse | JSONResponse:
    result = await _classified(submitter, models, image, idempotency_key, model, precision)
    if isinstance(result, JSONResponse):
        return result
    return ClassifyResponse.from_result(result)


async def _classified(
    submitter: Submitter,
    models: ModelResolver,
    image: UploadedImage,
    idempotency_key: str | None,
    model: str | None,
    precision: Precision | None,
) -> Result | JSONResponse:
    """The labelled result, or the 202 answer when the wait ran out (an error result raises)."""
    try:
        ref = await to_thread.run_sync(models.resolve, model or image.model)
    except UnknownModelError as exc:
        raise ApiError(422, ErrorKind.INVALID_REQUEST, str(exc)) from None
    pinned = precision or image.precision or "auto"  # the query parameter wins, as for the model
    request_id, result = await submit(submitter, image, idempotency_key, ref, pinned)
    return pending(request_id) if result is None else checked(result)
