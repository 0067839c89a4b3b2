"""Answers shared by the routes: the 202 "still working" answer, a stored result's verdict, the
documented error responses."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from services.contract import Result
from services.web.errors import ApiError
from services.web.schemas import ErrorResponse, PendingResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "empty file, missing field or not a multipart body",
        413: "image larger than the limit",
        415: "not an image (sniffed from the bytes)",
        422: "an image the model cannot read (truncated, corrupt, too many pixels...)",
        502: "the worker failed on this request",
    }.items()
}
PENDING: dict[int | str, dict[str, Any]] = {
    202: {"model": PendingResponse, "description": "not done within the wait; poll Location"}
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


# The same answers, for routes whose success is text: FastAPI would document a `model` under the
# route's own media type (text/plain), but errors and the 202 are JSON whatever the route.
TEXT_ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _json("ErrorResponse", response["description"]) for code, response in ERRORS.items()
}
TEXT_ROUTE_PENDING: dict[int | str, dict[str, Any]] = {
    202: _json("PendingResponse", PENDING[202]["description"])
}


def pending(request_id: str) -> JSONResponse:
    location = f"/v1/results/{request_id}"
    body = PendingResponse(id=request_id, location=location)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": location})


def checked(result: Result) -> Result:
    """The result if it has a label; its error as an ApiError otherwise."""
    if result.error is not None:
        raise ApiError.from_result_error(result.error, result.id)
    return result
