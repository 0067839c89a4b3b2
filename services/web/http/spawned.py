"""The entry points of a spawned web process: uvicorn's process manager imports them by name.

A spawned process has only its environment (`serve` puts the settings there): its settings are
built here, once, as any entry point builds its own.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import FastAPI

from services.web.http.connection_guard import GuardedHttpToolsProtocol
from services.web.http.limits import connection_limits
from services.web.main import create_app
from services.web.settings import WebSettings

APP_FACTORY = f"{__name__}:app"


@functools.cache
def settings() -> WebSettings:
    return WebSettings()


def app() -> FastAPI:
    return create_app(settings())


class EnvironmentGuardedProtocol(GuardedHttpToolsProtocol):
    """The connection bounds of this process's settings: a class importable by name, as uvicorn's
    spawned processes need (a class made at run time does not pickle)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.limits = connection_limits(settings())
        super().__init__(*args, **kwargs)
