"""Client-visible errors: every error the web tier answers is JSON `{"error": kind, "reason": ..., "id"?}`.

Kinds come from the one enum, `services.contract.ErrorKind` — FastAPI's and Starlette's own
refusals (404, 405, request validation 422, any other HTTPException, an unexpected 500) included.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute, Match

from services.contract import ErrorKind, ResultError

log = logging.getLogger(__name__)

_HTTP_KINDS = {404: ErrorKind.NOT_FOUND, 405: ErrorKind.METHOD_NOT_ALLOWED, 413: ErrorKind.TOO_LARGE}


class ApiError(Exception):
    def __init__(self, status: int, kind: ErrorKind, reason: str, *, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind
        self.reason = reason
        self.request_id = request_id

    @classmethod
    def from_result_error(cls, error: ResultError, request_id: str) -> ApiError:
        """The worker's verdict: a bad image is the client's fault (422), anything else is ours (502)."""
        status = 422 if error.kind.is_client_error else 502
        return cls(status, error.kind, error.reason, request_id=request_id)


def error_response(
    status: int,
    kind: ErrorKind,
    reason: str,
    *,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, str] = {"error": kind.value, "reason": reason}
    if request_id is not None:
        body["id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.kind, exc.reason, request_id=exc.request_id)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = _HTTP_KINDS.get(
        exc.status_code, ErrorKind.BAD_REQUEST if exc.status_code < 500 else ErrorKind.INTERNAL
    )
    if exc.status_code == 404:
        reason = f"no such resource: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        reason = f"{request.method} is not allowed on {request.url.path}"
        # Starlette's Allow names the methods of the first route on this path only (GET / and
        # POST / are two routes): name every route's.
        allowed = _allowed_methods(request)
        if allowed:
            return error_response(405, ErrorKind.METHOD_NOT_ALLOWED, reason, headers={"Allow": allowed})
    else:
        reason = str(exc.detail)
    return error_response(exc.status_code, kind, reason, headers=dict(exc.headers or {}))


def _leaf_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's wrapper of an included router
        yield from _leaf_routes(inner.routes) if inner is not None else (route,)


def _allowed_methods(request: Request) -> str:
    """The methods of the routes on this path; where a literal path and a template both match
    (/v1/jobs/uploads and /v1/jobs/{job_id}), the literal's only: the template's id is not one."""
    matched: list[BaseRoute] = []
    for route in _leaf_routes(request.app.router.routes):
        match, _ = route.matches({**request.scope, "method": "\0"})  # a method no route has
        if match is Match.PARTIAL:
            matched.append(route)
    literal = max((_literal_segments(route) for route in matched), default=0)
    methods: set[str] = set()
    for route in matched:
        if _literal_segments(route) == literal:
            methods |= getattr(route, "methods", None) or set()
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _literal_segments(route: BaseRoute) -> int:
    return sum(1 for part in str(getattr(route, "path", "")).split("/") if part and "{" not in part)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in exc.errors()
    ]
    return error_response(422, ErrorKind.INVALID_REQUEST, "; ".join(problems) or "invalid request")


async def _client_gone(request: Request, _: Exception) -> Response:
    # The client closed the connection mid-request (or its body stopped and the server closed it):
    # nothing to answer, nothing went wrong here. One line, not a traceback.
    log.info("client went away during %s %s", request.method, request.url.path)
    return Response(status_code=499)  # nginx's "client closed request"; never reaches anyone


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback itself after this answer; the client learns nothing internal.
    return error_response(500, ErrorKind.INTERNAL, "an unexpected error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
