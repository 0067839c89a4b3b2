"""The web process's HTTP server: uvicorn with the connection bounds of `guarded_http`.

`evision web` and `evision up` both serve through `server_config`, so the bounds hold locally
and in the cloud alike.
"""

from __future__ import annotations

import logging
import resource

import uvicorn
from fastapi import FastAPI

from services.web.guarded_http import ConnectionLimits, guarded_protocol
from services.web.settings import WebSettings

log = logging.getLogger(__name__)

# File descriptors kept out of the connection budget: the queue database, blob files, the
# emulator's or AWS's sockets, logs, the listening socket.
FD_RESERVE = 128


def raise_fd_limit() -> int:
    """Raise this process's soft file-descriptor limit to its hard limit; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = 1 << 16 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            log.warning("could not raise the file-descriptor limit above %d", soft)
    return soft


def connection_limits(settings: WebSettings) -> ConnectionLimits:
    most = settings.max_connections or max(16, raise_fd_limit() - FD_RESERVE)
    return ConnectionLimits(
        header_seconds=settings.header_seconds,
        body_idle_seconds=settings.body_idle_seconds,
        max_header_bytes=settings.max_header_bytes,
        max_connections=most,
    )


def server_config(app: FastAPI, settings: WebSettings, *, host: str, port: int) -> uvicorn.Config:
    limits = connection_limits(settings)
    log.debug("connection limits: %s", limits)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        log_level="info",
        access_log=False,
    )
