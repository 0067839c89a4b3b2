"""`evision up`: the whole service on one machine: the web tier (in this process) plus N workers.

Ctrl-C (SIGINT) or SIGTERM stops the web tier, then sends each worker one SIGTERM (it finishes the
batch in hand) and waits for them. A second signal while draining makes the workers exit now.
The workers run in their own session, so a terminal's Ctrl-C reaches only this process, and they
drain and exit by themselves should this process die.

Process management is deliberately minimal (a fixed worker count); the elastic local supervisor
replaces `_WorkerProcesses`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
from types import FrameType

from services.commands._options import add_backend_options, backend_overrides, setup_logging

log = logging.getLogger("evision.up")
DRAIN_SECONDS = 60.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="port (env PORT, default 8000)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=max(1, min(4, os.cpu_count() or 1)),
        help="worker processes (default: CPU count, at most 4)",
    )
    add_backend_options(parser)
    parser.add_argument(
        "--emulate",
        action="store_true",
        help="with --backend aws: start a local AWS emulator (moto) and use it",
    )


class _WorkerProcesses:
    def __init__(self, count: int, env: dict[str, str]) -> None:
        command = [sys.executable, "-m", "services.cli", "worker", "--exit-with-parent"]
        self.processes = [subprocess.Popen(command, env=env, start_new_session=True) for _ in range(count)]

    def signal_all(self, signum: int) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)

    def drain(self, timeout: float) -> None:
        self.signal_all(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop in %.0f s: killing it", process.pid, timeout)
                process.kill()
                process.wait()


def run(args: argparse.Namespace) -> int:
    setup_logging()
    import uvicorn

    from services.adapters.factory import make_backend
    from services.emulator import running_emulator
    from services.web.main import create_app
    from services.web.settings import WebSettings

    if args.emulate and args.backend != "aws":
        print("evision up: --emulate needs --backend aws", file=sys.stderr)
        return 2
    if args.workers < 0:
        print("evision up: --workers must be 0 or more", file=sys.stderr)
        return 2

    stopping: list[int] = []
    workers: _WorkerProcesses | None = None

    def on_signal(signum: int, _: FrameType | None) -> None:
        stopping.append(signum)
        if len(stopping) > 1 and workers is not None:  # impatient: workers exit now
            workers.signal_all(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)

    with contextlib.ExitStack() as stack:
        if args.emulate:
            emulator = stack.enter_context(running_emulator())  # children inherit the environment
            log.info("AWS emulator on %s", emulator.endpoint_url)
        settings = WebSettings(**backend_overrides(args))
        if settings.backend == "local" or args.emulate or os.environ.get("AWS_ENDPOINT_URL"):
            backend = make_backend(settings)
            try:
                backend.ensure(settings, reply_queues=[settings.reply_queue])
            finally:
                backend.close()
        env = {
            **os.environ,
            "EVISION_BACKEND": settings.backend,
            "EVISION_DATA_DIR": str(settings.data_dir.resolve()),
        }
        workers = _WorkerProcesses(args.workers, env)
        try:
            if not stopping:
                config = uvicorn.Config(
                    create_app(settings), host=args.host, port=args.port, log_level="info", access_log=False
                )
                server = uvicorn.Server(config)
                log.info(
                    "Elastic Vision on http://%s:%d (backend %s, %d workers, data %s); Ctrl-C stops",
                    args.host,
                    args.port,
                    settings.backend,
                    args.workers,
                    settings.data_dir,
                )
                with contextlib.suppress(SystemExit):  # uvicorn exits 1 if it cannot bind
                    server.run()
                if not server.started:
                    log.error("the web tier did not start")
                    return 1
        finally:
            log.info("stopping: draining %d workers", len(workers.processes))
            workers.drain(DRAIN_SECONDS)
    log.info("stopped")
    return 0
