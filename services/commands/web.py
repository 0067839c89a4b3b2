"""`evision web`: the web tier alone (uvicorn; SIGINT/SIGTERM stop it gracefully)."""

from __future__ import annotations

import argparse
import os
import signal

from services.commands._options import add_backend_options, backend_overrides, setup_logging


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="port (env PORT, default 8000)"
    )
    add_backend_options(parser)


def run(args: argparse.Namespace) -> int:
    setup_logging()
    import uvicorn

    from services.web.main import create_app
    from services.web.server import server_config
    from services.web.settings import WebSettings

    settings = WebSettings(**backend_overrides(args))
    server = uvicorn.Server(server_config(create_app(settings), settings, host=args.host, port=args.port))
    # uvicorn stops gracefully on SIGINT/SIGTERM, then re-raises the signal: swallow that, exit 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    server.run()
    return 0 if server.started else 1
