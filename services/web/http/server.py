"""The web tier's HTTP server: uvicorn with the connection bounds of `connection_guard`, in one
process or several on one port.

`evision web` and `evision up` both serve through `serve`, so the bounds and the process layout
hold locally and in the cloud alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess

from services.log_config import dict_config
from services.web.http.connection_guard import guarded_protocol
from services.web.http.limits import connection_limits
from services.web.http.spawned import APP_FACTORY, EnvironmentGuardedProtocol
from services.web.main import create_app
from services.web.settings import WebSettings

log = logging.getLogger(__name__)


def server_config(app: FastAPI, settings: WebSettings) -> uvicorn.Config:
    limits = connection_limits(settings)
    log.debug("connection limits: %s", limits)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_protocol(limits),
        log_config=dict_config(),
        access_log=False,
    )


def serve(settings: WebSettings) -> bool:
    """Serve the web tier until SIGINT/SIGTERM; False if it did not start (e.g. cannot bind).

    One process: the app in this process. Several (`settings.web_processes`): uvicorn's process
    manager runs them on one listening socket (the kernel spreads connections over them) and
    restarts any that dies; each builds the app from the environment, where these settings are
    put, and so creates its own reply queue.
    """
    processes = settings.web_processes
    if processes <= 1:
        server = uvicorn.Server(server_config(create_app(settings), settings))
        with contextlib.suppress(SystemExit):  # uvicorn exits 1 if it cannot bind
            server.run()
        return server.started
    os.environ.update(settings.environment())  # the spawned processes' settings
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
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
