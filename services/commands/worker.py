"""`evision worker`: one worker process (model loaded once; first SIGTERM/SIGINT drains, second exits)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from services.commands._options import add_backend_options, backend_overrides, setup_logging

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    add_backend_options(parser)
    parser.add_argument("--burst", action="store_true", help="exit when the request queue is empty")
    parser.add_argument(
        "--threads", type=int, help="inference threads (env EVISION_THREADS, default: one per core)"
    )
    parser.add_argument("--batch-size", type=int, help="messages per receive, 1-10 (env EVISION_BATCH_SIZE)")
    parser.add_argument(
        "--standby",
        action="store_true",
        help="bridge the worker group (EVISION_STANDBY_GROUP): take work only while it has no worker "
        "in service; one inference thread and one batch at a time unless --threads says otherwise",
    )
    parser.add_argument(
        "--exit-with-parent",
        nargs="?",
        const=0,
        type=int,
        metavar="PID",
        help="drain and exit if the parent process (PID: that one; `evision up` passes its own, so "
        "a parent that dies while this worker starts is noticed too) dies",
    )


def _watch_parent(parent: int) -> None:
    """Stop once `parent` (the pid the process had when it started) is no longer the parent: also
    when it died before this watch began (during the model load, when the supervisor was killed
    right after starting this worker), or the worker would outlive it for ever."""

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(1.0)
        log.warning("parent process %d is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run(args: argparse.Namespace) -> int:
    # The parent to outlive no longer than: named (the supervisor's pid), else the one at start.
    parent = args.exit_with_parent or os.getppid()
    setup_logging()
    # A stop asked for while the model loads is honoured as soon as the worker exists.
    early: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _: early.append(signum))
    from services.adapters.registry import open_backend
    from services.worker.classifier import classifier_for
    from services.worker.runner import Worker
    from services.worker.settings import WorkerSettings

    overrides = backend_overrides(args)
    if args.threads is not None:
        overrides["threads"] = args.threads
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    settings = WorkerSettings(**overrides)
    if args.standby:  # bounded: it shares its host with the web tier
        standby = {"batches_in_flight": 1, "poll_seconds": settings.standby_poll_seconds}
        settings = WorkerSettings(**{"threads": 1, **overrides, **standby})
    backend = open_backend(settings)
    gate = None
    if args.standby:
        from services.worker.standby import StandbyGate

        try:
            gauge = backend.capacity.worker_group_gauge(settings.standby_group)
        except ValueError as error:
            print(f"evision worker --standby: {error} (EVISION_STANDBY_GROUP)", file=sys.stderr)
            backend.close()
            return 2
        gate = StandbyGate(gauge, recheck_seconds=settings.standby_gate_seconds)
    classifier = classifier_for(settings)
    metrics = None
    if settings.metrics:
        from services.worker.metrics import MetricsPublisher

        metrics = MetricsPublisher(backend.telemetry.metrics_sink())
    worker = Worker.on_backend(backend, settings, classifier, metrics=metrics, gate=gate)
    worker.install_signal_handlers()
    if early:
        worker.request_stop()
    if args.exit_with_parent is not None:
        _watch_parent(parent)
    code = 1
    try:
        # On a warm-pool instance: nothing is received until the instance is InService. A standby
        # is no member of the group: it neither waits for it nor counts as in service.
        serving = gate is not None or backend.capacity.await_serving(settings.placement(), worker.stopping)
        code = worker.work(burst=args.burst) if serving else 0
    finally:
        worker.close()
        if metrics is not None:
            metrics.close()
        backend.close()
    if worker.wedged:  # a stuck thread would keep the interpreter from exiting
        logging.shutdown()
        os._exit(code)
    return code
