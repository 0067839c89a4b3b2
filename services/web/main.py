"""The FastAPI app: `create_app(settings)`; its lifespan starts the parts (services/web/lifespan.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from services.web.errors import install_error_handlers
from services.web.front_door.door import Admission, FrontDoor
from services.web.front_door.rate_limit import RateLimiter
from services.web.lifespan import start_parts
from services.web.routes import ROUTERS, TAGS
from services.web.settings import WebSettings

log = logging.getLogger(__name__)


def create_app(settings: WebSettings) -> FastAPI:
    admission = Admission(header=settings.api_key_header, trust_forwarded_for=settings.trust_forwarded_for)
    if settings.rate_limit_per_second > 0:
        admission.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:  # what started is stopped, in reverse, even mid start-up
            app.state.parts = await start_parts(stack, settings, admission)
            yield

    # /docs and /redoc with Swagger UI and ReDoc served from the package, not a CDN (offline too).
    app = FastAPIOffline(
        title="Elastic Vision",
        summary="Image recognition as a service",
        version="0.1.0",
        lifespan=lifespan,
        openapi_tags=TAGS,
    )
    install_error_handlers(app)
    app.add_middleware(FrontDoor, admission=admission)
    for router in ROUTERS:
        app.include_router(router)
    return app
