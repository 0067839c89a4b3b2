"""`evision status`: queue depth, workers running/desired and the recent scaling decisions.

Reads the request queue's depth (local SQLite or SQS) and the local supervisor's snapshot
(`<data dir>/status.json`); `--json` prints the same document as `GET /v1/status`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime

from rich.console import Console
from rich.table import Table

from services.commands._options import add_backend_options, backend_overrides
from services.ports.storage import QueueDepth
from services.status import StatusReport


def configure(parser: argparse.ArgumentParser) -> None:
    add_backend_options(parser)
    parser.add_argument("--json", action="store_true", help="print the status as JSON (as GET /v1/status)")
    parser.add_argument(
        "--decisions", type=int, default=10, metavar="N", help="recent scaling decisions to show (default 10)"
    )


def _time(stamp: float) -> str:
    return datetime.fromtimestamp(stamp).strftime("%H:%M:%S.%f")[:-3]


def _dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def render(report: StatusReport, console: Console, decisions: int = 10) -> None:
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    queue = report.queue
    summary.add_row("backend", report.backend)
    depth = (
        f"[red]unreadable: {queue.error}[/red]"
        if queue.error
        else f"{_dash(queue.visible)} visible, {_dash(queue.in_flight)} in flight"
    )
    summary.add_row(f"queue {queue.name}", depth)
    dead = report.dead_letters
    if dead is not None:
        waiting = f"[red]unreadable: {dead.error}[/red]" if dead.error else f"{_dash(dead.visible)} waiting"
        if dead.visible:
            waiting = f"[yellow]{waiting}[/yellow] (the web tier gives each a failed result)"
        summary.add_row(f"dead letters {dead.name}", waiting)
    summary.add_row("workers managed by", report.workers_managed_by)
    supervisor = report.supervisor
    if supervisor is not None:
        workers = f"{supervisor.running} running, {supervisor.desired} desired"
        if supervisor.draining:
            workers += f", {supervisor.draining} draining"
        summary.add_row("workers", workers)
        summary.add_row(
            "policy",
            f"{supervisor.min_workers}..{supervisor.max_workers} workers, "
            f"sampled every {supervisor.period_seconds:g} s",
        )
        summary.add_row("restarts", str(supervisor.restarts))
    console.print(summary)
    if supervisor is None or decisions <= 0:
        return
    table = Table(
        title="recent scaling decisions",
        title_justify="left",
        caption="depth: visible + in flight; workers: before -> after (running)",
        caption_justify="left",
    )
    table.add_column("time", no_wrap=True)
    table.add_column("depth", justify="right", no_wrap=True)
    table.add_column("workers", justify="right", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for record in supervisor.decisions[-decisions:]:
        table.add_row(
            _time(record.time),
            f"{record.visible} + {record.in_flight}",
            f"{record.current} -> {record.desired} ({record.running})",
            record.reason,
        )
    if not supervisor.decisions:
        table.caption = "none yet: the queue has been idle"
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from services.adapters.registry import open_backend
    from services.settings import BackendSettings
    from services.status import collect_status

    settings = BackendSettings(**backend_overrides(args))
    backend = open_backend(settings)

    def depth_of(name: str) -> Callable[[], QueueDepth]:
        def depth() -> QueueDepth:
            reason = backend.storage.unavailable_reason()  # checked first: reading would create the data
            if reason is not None:
                raise FileNotFoundError(reason)
            return backend.storage.queue(name).depth()

        return depth

    try:
        report = collect_status(
            backend=settings.backend,
            capacity_manager=backend.capacity.manager,
            queue_name=settings.request_queue,
            depth=depth_of(settings.request_queue),
            supervisor=backend.capacity.supervisor_status,
            dead_letters=(settings.dead_letter_queue, depth_of(settings.dead_letter_queue)),
        )
    finally:
        backend.close()
    if args.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        render(report, Console(), args.decisions)
    return 0
