"""Client-visible errors: every refusal is JSON `{"error": kind, "reason": ..., "id"?: ...}`."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from services.contract import ErrorKind, ResultError


class ApiError(Exception):
    def __init__(self, status: int, kind: str, reason: str, *, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind
        self.reason = reason
        self.request_id = request_id

    @classmethod
    def from_result_error(cls, error: ResultError, request_id: str) -> ApiError:
        """The worker's verdict: a bad image is the client's fault (422), anything else is ours (502)."""
        status = 422 if ErrorKind(error.kind).is_client_error else 502
        return cls(status, str(error.kind), error.reason, request_id=request_id)


async def api_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body: dict[str, str] = {"error": exc.kind, "reason": exc.reason}
    if exc.request_id is not None:
        body["id"] = exc.request_id
    return JSONResponse(body, status_code=exc.status)
