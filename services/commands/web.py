"""`evision web`: the web tier alone (uvicorn; SIGINT/SIGTERM stop it gracefully)."""

from __future__ import annotations

import argparse
import logging
import signal

from services.commands._options import (
    add_address_options,
    add_backend_options,
    address_overrides,
    backend_overrides,
    setup_logging,
)

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    add_address_options(parser)
    parser.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="web processes on this port, each with its reply queue (env EVISION_WEB_PROCESSES, default 1)",
    )
    add_backend_options(parser)


def run(args: argparse.Namespace) -> int:
    setup_logging()
    from services.exit_codes import CONFIGURATION_ERROR
    from services.web.config_check import configuration_problem
    from services.web.http.server import serve
    from services.web.settings import WebSettings

    processes = {} if args.processes is None else {"web_processes": args.processes}
    settings = WebSettings(**backend_overrides(args), **address_overrides(args), **processes)
    problem = configuration_problem(settings)
    if problem is not None:  # before any process starts: nothing to respawn
        log.error("evision web: refusing to start: %s", problem)
        return CONFIGURATION_ERROR
    # uvicorn stops gracefully on SIGINT/SIGTERM, then re-raises the signal: swallow that, exit 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    started = serve(settings)
    return 0 if started else 1
