"""Results in the output bucket (key = request id, the source of truth) and the replies that
announce them: built, stored and read here, by the workers and the web tier alike."""

from __future__ import annotations

from services.contract import ErrorKind, ReplyMessage, RequestMessage, Result, ResultError
from services.ports.storage import BlobNotFoundError, BlobStore

CONTENT_TYPE = "application/json"


def error_result(request: RequestMessage, kind: ErrorKind, reason: str, **fields: object) -> Result:
    """The result of a request that ends without a label (`fields`: e.g. model, worker, timings)."""
    return Result(id=request.id, image=request.image, error=ResultError(kind=kind, reason=reason), **fields)  # type: ignore[arg-type]


def store_result(outputs: BlobStore, result: Result) -> None:
    outputs.put(result.id, result.model_dump_json().encode(), content_type=CONTENT_TYPE)


def stored_result(outputs: BlobStore, request_id: str) -> Result | None:
    """The stored result of `request_id`, or None while there is none (blocking)."""
    try:
        return Result.model_validate_json(outputs.get(request_id).data)
    except BlobNotFoundError:
        return None


def reply_body(result: Result) -> str:
    """The reply message announcing `result` to the web process that waits for it."""
    return ReplyMessage(id=result.id, result=result).model_dump_json()
