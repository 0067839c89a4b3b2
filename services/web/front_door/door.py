"""The front door: API keys (401) and a per-client rate limit (429), before any route runs.

A plain ASGI middleware (cheaper per request than Starlette's BaseHTTPMiddleware). Both are off
by default, so existing clients keep working; what turns them on is in `WebSettings`. The page,
the docs, the schema and `/healthz` (the load balancer's health check) stay open: they cost
nothing and reveal nothing. A client is its API key when keys are on, else its address: the
socket's peer, or with `trust_forwarded_for` (behind the load balancer, which appends the
address it saw as the last `X-Forwarded-For` entry) that last entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from services.contract import ErrorKind
from services.web.errors import error_response
from services.web.front_door.api_keys import ApiKeys
from services.web.front_door.rate_limit import RateLimiter

OPEN_PATHS = frozenset({"/", "/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
OPEN_PREFIXES = ("/static-offline-docs/",)  # fastapi-offline's Swagger UI and ReDoc assets


@dataclass
class Admission:
    """What the door checks; filled in by the app's lifespan (keys may come from the backend)."""

    header: str = "X-API-Key"  # as written in errors; matched case-insensitively
    keys: ApiKeys | None = None
    limiter: RateLimiter | None = None
    trust_forwarded_for: bool = False


class FrontDoor:
    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission = self.admission
        if scope["type"] != "http" or (admission.keys is None and admission.limiter is None) or _open(scope):
            await self.app(scope, receive, send)
            return
        client = None
        if admission.keys is not None:
            client = admission.keys.client_of(_header(scope, admission.header.lower().encode()))
            if client is None:
                reason = f"missing or wrong API key: send yours in the {admission.header} header"
                headers = {"www-authenticate": f'ApiKey header="{admission.header}"'}
                await error_response(401, ErrorKind.UNAUTHORIZED, reason, headers=headers)(
                    scope, receive, send
                )
                return
        if admission.limiter is not None:
            wait = admission.limiter.retry_after(client or _address(scope, admission.trust_forwarded_for))
            if wait:
                reason = f"too many requests from this client; retry in {wait} s"
                headers = {"retry-after": str(wait)}
                await error_response(429, ErrorKind.RATE_LIMITED, reason, headers=headers)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


def _open(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] in ("GET", "HEAD") and (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _address(scope: Scope, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        forwarded = _header(scope, b"x-forwarded-for")
        if forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
