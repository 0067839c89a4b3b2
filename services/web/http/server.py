"""The web tier's HTTP server: uvicorn with the connection bounds of `connection_guard`, in one
process or several on one port.

`evision web` and `evision up` both serve through `serve`, so the bounds and the process layout
hold locally and in the cloud alike.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import resource
import signal
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess

from services.log_config import dict_config
from services.web.http.connection_guard import ConnectionLimits, GuardedHttpToolsProtocol, guarded_protocol
from services.web.main import create_app
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
        log_config=dict_config(),
        access_log=False,
    )


@functools.cache
def _limits_from_environment() -> ConnectionLimits:
    return connection_limits(WebSettings())


class EnvironmentGuardedProtocol(GuardedHttpToolsProtocol):
    """The bounds of this process's own settings (its environment): a class importable by name,
    as uvicorn's spawned web processes need (a class made at run time does not pickle)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.limits = _limits_from_environment()
        super().__init__(*args, **kwargs)


def serve(settings: WebSettings, *, host: str, port: int) -> bool:
    """Serve the web tier until SIGINT/SIGTERM; False if it did not start (e.g. cannot bind).

    One process: the app in this process. Several (`settings.web_processes`): uvicorn's process
    manager runs them on one listening socket (the kernel spreads connections over them) and
    restarts any that dies; each builds the app from the environment, where these settings are
    put, and so creates its own reply queue.
    """
    processes = settings.web_processes
    if processes <= 1:
        server = uvicorn.Server(server_config(create_app(settings), settings, host=host, port=port))
        with contextlib.suppress(SystemExit):  # uvicorn exits 1 if it cannot bind
            server.run()
        return server.started
    os.environ.update(settings.environment())  # the spawned processes' settings
    config = uvicorn.Config(
        "services.web.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        http=EnvironmentGuardedProtocol,
        log_config=dict_config(),
        access_log=False,
    )
    try:
        sock = config.bind_socket()
    except SystemExit:
        return False
    handlers = {signum: signal.getsignal(signum) for signum in SIGNALS}  # uvicorn's replace them
    manager = Multiprocess(config, sockets=[sock])
    try:
        manager.run()
    finally:
        sock.close()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    # A process that failed before serving (e.g. a bad API key file) stopped them all.
    return not any(process.exitcode == STARTUP_FAILURE for process in manager.processes)
