"""The connection bounds of a web process, from its settings and its file-descriptor limit."""

from __future__ import annotations

import logging
import resource

from services.web.http.connection_guard import ConnectionLimits
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
