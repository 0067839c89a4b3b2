"""`evision bench`: in one run on this machine, how close the whole pipeline comes to the bare model.

(a) the bare in-process classifier (the model package's bench), (b) the worker loop alone
(queue -> result, no HTTP), (c) end to end through HTTP on the local backend at concurrency 1
and 32, (d) the same on the aws backend against a moto server. Same images, same model, same
machine; warm-up excluded. Prints a table (and optionally JSON) with each figure as images/s,
as a ratio to (a), and p50 latency deltas vs the bare single-image latency.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast, get_args

from rich.console import Console

from model import EngineName, auto_engine

if TYPE_CHECKING:
    from services.bench.report import BenchReport

# One worker process uses every core (one inference thread per core, like one cloud instance), and
# it is what `evision up` runs under any load short of a 1000-message backlog.
DEFAULT_WORKERS = 1
# Issue #38: the whole service on its default engine against the bare fp32 model, same run.
DEFAULT_ENGINE_TARGET = 1.3


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images", type=Path, metavar="DIR", help="images (default: the model's test images)"
    )
    parser.add_argument("--expect", type=Path, metavar="CSV", help="expected labels (default: the model's)")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="worker processes, each with one inference thread per core (default 1)",
    )
    parser.add_argument(
        "--bare-seconds", type=float, default=2.0, help="per bench-model set-up and batch size (default 2)"
    )
    parser.add_argument(
        "--reference-seconds",
        type=float,
        default=3.0,
        help="re-measure bare for this long right before/after each local stage (0: off; default 3)",
    )
    parser.add_argument("--loop-images", type=int, default=600, help="images through the worker loop")
    parser.add_argument("--c1-requests", type=int, default=150, help="HTTP requests at concurrency 1")
    parser.add_argument("--c32-requests", type=int, default=640, help="HTTP requests at concurrency 32")
    parser.add_argument(
        "--aws-scale", type=float, default=0.15, help="request counts on moto, as a fraction (moto is slow)"
    )
    parser.add_argument("--skip-aws", action="store_true", help="leave out (d), the moto backend")
    parser.add_argument(
        "--engine",
        default="onnxruntime,auto",
        help="inference engines, comma-separated: the whole suite per engine, side by side, each "
        "against the first's bare model (onnxruntime, onnxruntime-int8, openvino, or auto: the "
        "service's default, the engine it picks on this machine; default onnxruntime,auto: the "
        "default engine against the bare fp32 model)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run, not a measurement")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--work-dir", type=Path, help="keep data and logs here (default: a temporary dir)")


def run(args: argparse.Namespace) -> int:
    from services.bench.processes import BenchError
    from services.bench.report import render_cpu, render_report, render_targets
    from services.bench.suite import BenchPlan, bench_images, run_suite

    console = Console(width=None if sys.stdout.isatty() else 140)  # the table needs ~120 columns
    try:
        images, expectations = bench_images(args.images, args.expect)
        plan = (
            BenchPlan.quick(args.workers)
            if args.quick
            else BenchPlan(
                workers=args.workers,
                bare_seconds=args.bare_seconds,
                reference_seconds=args.reference_seconds,
                loop_images=args.loop_images,
                c1_requests=args.c1_requests,
                c32_requests=args.c32_requests,
                aws_scale=args.aws_scale,
            )
        )
        if args.skip_aws:  # with --quick too
            plan = dataclasses.replace(plan, aws_scale=0.0)
    except (OSError, ValueError) as exc:
        console.print(f"[red]evision bench:[/red] {exc}")
        return 2
    engines = _engines(str(args.engine), console)
    if engines is None:
        return 2
    reports: dict[str, BenchReport] = {}
    with tempfile.TemporaryDirectory(prefix="evision-bench-") as tmp:
        for key, engine in engines.items():
            work_dir = (args.work_dir or Path(tmp)) / key.split()[0]
            console.rule(f"engine: {key}")
            try:
                report = run_suite(
                    dataclasses.replace(plan, engine=engine),
                    images,
                    expectations,
                    work_dir=work_dir,
                    console=console,
                )
            except BenchError as exc:
                console.print(f"[red]evision bench failed:[/red] {exc}")
                return 1
            report.machine.update(python=sys.version.split()[0], platform=platform.platform(), engine=engine)
            console.print(render_report(report))
            if (cpu := render_cpu(report)) is not None:
                console.print(cpu)
            console.print(render_targets(report))
            reports[key] = report
    if len(reports) > 1:
        console.print(compare_engines(reports))
    if args.json:
        body = (
            next(iter(reports.values())).to_json()
            if len(reports) == 1
            else {"engines": {name: report.to_json() for name, report in reports.items()}}
        )
        args.json.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return 0


def _engines(asked: str, console: Console) -> dict[str, EngineName] | None:
    """The engines to run, by the name the report gives them (`auto` as `auto (<its pick>)`)."""
    requested = [name.strip() for name in asked.split(",") if name.strip()]
    known = (*get_args(EngineName), "auto")
    unknown = [name for name in requested if name not in known]
    if unknown or not requested:
        console.print(f"[red]evision bench:[/red] unknown engine {unknown}; known: {known}")
        return None
    engines: dict[str, EngineName] = {}
    for name in dict.fromkeys(requested):
        if name == "auto":
            with console.status("auto: choosing the engine, as a worker does at its start"):
                picked = auto_engine(threads=os.cpu_count() or 1)
            engines[f"auto ({picked})"] = picked
        else:
            engines[name] = cast("EngineName", name)
    return engines


def compare_engines(reports: Mapping[str, BenchReport]) -> str:
    """Each engine's bare limit and HTTP c=32 throughput against the first engine's, in one line each."""
    first_name, first = next(iter(reports.items()))
    lines = ["engines side by side (ratios to " + first_name + "):"]
    for name, report in reports.items():
        stage, base = report.find("HTTP local c=32"), first.find("HTTP local c=32")
        http = (
            f"{stage.images_per_s / base.images_per_s:.2f}" if stage and base and base.images_per_s else "-"
        )
        own = f"{report.ratio(stage):.2f}" if stage else "-"
        # The issue #38 yardstick: the whole service on this engine against the bare first engine
        # (fp32), the same images in the same run.
        over_first_bare = (
            f"{stage.images_per_s / first.bare.images_per_s:.2f}"
            if stage and first.bare.images_per_s
            else "-"
        )
        lines.append(
            f"  {name}: bare {report.bare.images_per_s:.1f} images/s "
            f"(x{report.bare.images_per_s / first.bare.images_per_s:.2f}), HTTP local c=32 x{http}, "
            f"its own ratio to bare {own}, to {first_name}'s bare {over_first_bare}"
        )
        if name.startswith("auto") and first_name == "onnxruntime" and stage and first.bare.images_per_s:
            ratio = stage.images_per_s / first.bare.images_per_s
            met = "met" if ratio >= DEFAULT_ENGINE_TARGET else "NOT met"
            lines.append(
                f"  the default engine, {name}, serves {ratio:.2f}x the bare fp32 model at HTTP c=32 "
                f"(target >= {DEFAULT_ENGINE_TARGET}: {met})"
            )
    return "\n".join(lines)
