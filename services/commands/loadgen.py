"""`evision loadgen`: concurrent uploads against a running service, every answer checked.

Works against the local mode and a deployed URL alike. Always bounded: at most --requests
uploads, at most --concurrency at a time, and the whole run stops after --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.loadgen import LoadConfig, Outcome, load_expectations, load_images, render_summary, summarize
from services.loadgen.answers import OutcomeKind
from services.loadgen.runner import MAX_REQUESTS, LoadResult, run_load


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Bounded by design: never more than --requests uploads, --concurrency at a time, "
        "and never longer than --timeout seconds. Exit status 0 when every request was answered "
        "correctly, 1 otherwise."
    )
    parser.add_argument(
        "--url",
        required=True,
        help="upload endpoint, e.g. http://127.0.0.1:8000/upload (bare host → /upload)",
    )
    parser.add_argument(
        "--images", required=True, type=Path, metavar="DIR", help="directory of images to cycle"
    )
    parser.add_argument(
        "--requests", "-n", type=int, default=100, metavar="N", help="uploads to send (default 100)"
    )
    parser.add_argument(
        "--concurrency", "-c", type=int, default=8, metavar="C", help="uploads in flight (default 8)"
    )
    parser.add_argument(
        "--expect", type=Path, metavar="CSV", help="expected labels: rows of image_name,label"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the summary as JSON ('-' = stdout)"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="total time cap (default 300 s)"
    )
    parser.add_argument(
        "--request-timeout", type=float, default=60.0, metavar="S", help="per-request timeout (default 60 s)"
    )
    parser.add_argument("--warmup", type=int, default=0, metavar="N", help="uploads sent first, not counted")
    parser.add_argument("--field", default="myfile", help="multipart field name (default myfile)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    try:
        images = load_images(args.images)
        expectations = load_expectations(args.expect) if args.expect else None
        config = LoadConfig(
            url=args.url,
            images=images,
            requests=args.requests,
            concurrency=args.concurrency,
            deadline_s=args.timeout,
            request_timeout_s=args.request_timeout,
            field_name=args.field,
            expectations=expectations,
        )
        if not 0 <= args.warmup <= MAX_REQUESTS:
            raise ValueError(f"warmup must be within 0..{MAX_REQUESTS}")
    except (OSError, ValueError) as exc:
        err.print(f"[red]evision loadgen:[/red] {exc}")
        return 2
    if args.warmup:
        warmup = dataclasses.replace(config, requests=args.warmup, expectations=None)
        _run_with_progress(warmup, err, "warm-up", show=not args.no_progress)
    result = _run_with_progress(config, err, "uploads", show=not args.no_progress)
    summary = summarize(result)
    Console().print(render_summary(summary))
    if args.json:
        text = json.dumps(summary.to_json(), indent=2)
        if str(args.json) == "-":
            sys.stdout.write(text + "\n")
        else:
            args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if summary.error_count == 0 else 1


def _run_with_progress(config: LoadConfig, console: Console, title: str, *, show: bool) -> LoadResult:
    if not show:
        return asyncio.run(run_load(config))
    progress = Progress(
        TextColumn(f"[bold]{title}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errors]} errors"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        refresh_per_second=4,  # cheap: the generator shares the CPU with what it measures
    )
    task = progress.add_task(title, total=config.requests, errors=0)
    errors = 0

    def advance(outcome: Outcome) -> None:
        nonlocal errors
        errors += outcome.kind is not OutcomeKind.OK
        progress.update(task, advance=1, errors=errors)

    with progress:
        return asyncio.run(run_load(config, on_outcome=advance))
