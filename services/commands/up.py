"""`evision up`: the whole service on one machine: the web tier (in this process) plus elastic workers.

The local supervisor (`services.elasticity.supervisor`) starts and stops `evision worker` processes from the
request queue's depth with the same scaling policy as the cloud (0 workers while idle, one per
core at most by default); `--workers N` pins the count instead. Ctrl-C (SIGINT) or SIGTERM stops
the web tier and the sampling, then sends each worker one SIGTERM (it finishes the batch in hand)
and waits for them. A second signal while draining makes the workers exit now. The workers run in
their own session, so a terminal's Ctrl-C reaches only this process, and they drain and exit by
themselves should this process die.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from services.commands._options import (
    add_address_options,
    add_backend_options,
    address_overrides,
    backend_overrides,
    setup_logging,
)

if TYPE_CHECKING:
    from services.elasticity.supervisor import SupervisorSettings, WorkerPool

log = logging.getLogger("evision.up")


def configure(parser: argparse.ArgumentParser) -> None:
    add_address_options(parser)
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="a fixed number of worker processes (0: web tier only); default: elastic",
    )
    parser.add_argument(
        "--min-workers",
        type=int,
        metavar="N",
        help="elastic: fewest workers (env EVISION_MIN_WORKERS, default 0)",
    )
    parser.add_argument(
        "--max-workers",
        type=int,
        metavar="N",
        help="elastic: most workers (env EVISION_MAX_WORKERS, default CPU count, at most the policy max 20)",
    )
    parser.add_argument(
        "--scale-period",
        type=float,
        metavar="S",
        help="seconds between queue samples (env EVISION_SCALE_PERIOD, default 1)",
    )
    parser.add_argument(
        "--web-processes",
        type=int,
        metavar="N",
        help="web processes on the port, each with its reply queue (env EVISION_WEB_PROCESSES, default 1)",
    )
    parser.add_argument(
        "--standby",
        type=int,
        metavar="N",
        help="standby workers that answer while no worker is in service, e.g. while the first loads "
        "a large model (env EVISION_STANDBY_WORKERS, default 0; local backend)",
    )
    parser.add_argument(
        "--jobs-root",
        type=Path,
        metavar="DIR",
        help="batch jobs (evision batch, POST /v1/jobs) may read folders under this one "
        "(env EVISION_JOBS_ROOT; default: none, so no folder jobs)",
    )
    add_backend_options(parser)
    parser.add_argument(
        "--emulate",
        action="store_true",
        help="start a local emulator of the backend's services and use it (--backend aws: moto)",
    )


def _supervisor_settings(args: argparse.Namespace) -> SupervisorSettings:
    from services.elasticity.supervisor import SupervisorSettings

    names = {
        "min_workers": "min_workers",
        "max_workers": "max_workers",
        "scale_period": "scale_period",
        "standby": "standby_workers",
    }
    overrides = {field: getattr(args, arg) for arg, field in names.items() if getattr(args, arg) is not None}
    return SupervisorSettings(**backend_overrides(args), **overrides)


def _unbindable(host: str, port: int) -> str | None:
    """Why the web tier could not listen there (e.g. the port is in use), or None."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except OSError as error:
        reason = (
            "the port is in use (another evision up?); pick one with --port"
            if error.errno == errno.EADDRINUSE
            else error.strerror
        )
        return reason or str(error)
    return None


def run(args: argparse.Namespace) -> int:
    setup_logging()
    from services.adapters.registry import open_backend, plugin
    from services.elasticity.supervisor import Supervisor, WorkerPool, local_policy, worker_command
    from services.jobs.backlog import WorkBacklog
    from services.retention import RetentionSweeper
    from services.settings import BackendSettings
    from services.status import status_path
    from services.web.http.server import serve
    from services.web.settings import WebSettings
    from services.worker.settings import WorkerSettings

    try:
        scaling = _supervisor_settings(args)
        emulator = plugin(scaling.backend).emulator() if args.emulate else None
        if args.emulate and emulator is None:
            raise ValueError(f"--emulate: the {scaling.backend} backend has no emulator (it needs none)")
        policy = None if args.workers == 0 else local_policy(scaling, fixed=args.workers)
        if scaling.standby_workers and policy is None:
            raise ValueError("--standby bridges workers: it needs elastic or fixed workers, not --workers 0")
    except ValueError as error:  # pydantic's ValidationError is a ValueError too
        print(f"evision up: {error}", file=sys.stderr)
        return 2

    processes = {} if args.web_processes is None else {"web_processes": args.web_processes}
    if args.jobs_root is not None:
        processes["jobs_root"] = args.jobs_root.absolute()
    try:
        settings = WebSettings(**backend_overrides(args), **address_overrides(args), **processes)
    except ValueError as error:
        print(f"evision up: {error}", file=sys.stderr)
        return 2
    problem = _unbindable(settings.host, settings.port)
    if problem is not None:  # before any worker starts or any banner is printed
        print(f"evision up: cannot listen on {settings.host}:{settings.port}: {problem}", file=sys.stderr)
        return 1

    stopping: list[int] = []
    pool: WorkerPool | None = None

    def on_signal(signum: int, _: FrameType | None) -> None:
        stopping.append(signum)
        if len(stopping) > 1 and pool is not None:  # impatient: workers exit now
            pool.signal_all(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)

    with contextlib.ExitStack() as stack:
        if emulator is not None:
            running = stack.enter_context(emulator)  # sets this process's environment: children inherit
            log.info("%s emulator: %s", scaling.backend, dict(running.environment))
        backend = open_backend(settings)  # the supervisor samples the request queue through it
        stack.callback(backend.close)
        if scaling.standby_workers:
            try:  # what the standby asks: `up`'s own workers in service (no cloud group here)
                backend.capacity.worker_group_gauge(None)
            except ValueError as error:
                print(f"evision up: --standby on the {settings.backend} backend: {error}", file=sys.stderr)
                return 2
        if backend.storage.provisions_itself:
            backend.storage.provision(settings)
        sweeper = RetentionSweeper(backend, every=scaling.sweep_seconds)
        sweeper.start()
        stack.callback(sweeper.stop)
        # The workers share these settings (names of buckets and queues, the data dir).
        env = {**os.environ, **settings.environment(only=BackendSettings)}
        supervisor = None
        if policy is not None:
            pool = WorkerPool(worker_command(), env)
            # Locally a standby asks and polls every period: both are cheap here (files, SQLite).
            period = policy.period_seconds
            standby_env = WorkerSettings.from_values(
                standby_gate_seconds=period, standby_poll_seconds=min(period, 20.0)
            ).environment(explicit_only=True)
            supervisor = Supervisor(
                policy=policy,
                # Requests and job chunks alike (a chunk counts as its images).
                queue=WorkBacklog(
                    backend.storage.queue(settings.request_queue),
                    backend.storage.queue(settings.job_queue),
                    settings.job_chunk_size,
                ),
                pool=pool,
                status_file=status_path(settings.data_dir),
                standby=WorkerPool(worker_command(standby=True), {**env, **standby_env})
                if scaling.standby_workers
                else None,
                standby_workers=scaling.standby_workers,
                activations=backend.capacity.activation_requests(),
            )
            supervisor.start()
        try:
            if not stopping:
                log.info(
                    "Elastic Vision on http://%s:%d (backend %s, %d web %s, %s workers, data %s);"
                    " Ctrl-C stops",
                    settings.host,
                    settings.port,
                    settings.backend,
                    settings.web_processes,
                    "process" if settings.web_processes == 1 else "processes",
                    "no" if policy is None else f"{policy.min_capacity}..{policy.max_capacity}",
                    settings.data_dir,
                )
                if not serve(settings):
                    log.error("the web tier did not start")
                    return 1
        finally:
            if supervisor is not None:
                supervisor.stop(scaling.drain_seconds)
    log.info("stopped")
    return 0
