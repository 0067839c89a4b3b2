"""`evision simulate`: how the cloud tier would serve a workload, per scaling set-up (no AWS needed).

    evision simulate --workload burst:100 --preset deployed --json -
    evision simulate --standard --preset all --plot timeline.png

Presets and calibration: `services/elasticity/simulator/` (every number with its source).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

if TYPE_CHECKING:
    from services.elasticity.policy import ScalingPolicy
    from services.elasticity.simulator.calibration import Calibration


def configure(parser: argparse.ArgumentParser) -> None:
    from services.elasticity.simulator import CUSTOM, PRESETS
    from services.elasticity.simulator.workloads import STANDARD_WORKLOADS

    parser.add_argument(
        "--workload",
        action="append",
        metavar="SPEC",
        help="burst:N, poisson:RATE:SECONDS, steps:RATE@SECONDS,..., day, or a CSV of arrival times "
        "(repeatable; default burst:100)",
    )
    parser.add_argument(
        "--standard",
        action="store_true",
        help=f"the four standard workloads: {', '.join(STANDARD_WORKLOADS)}",
    )
    parser.add_argument(
        "--preset",
        action="append",
        metavar="NAME",
        help=f"{', '.join([*PRESETS, CUSTOM])}, or all (repeatable; default deployed)",
    )
    parser.add_argument(
        "--policy-file", type=Path, metavar="JSON", help="a ScalingPolicy as JSON: adds the custom preset"
    )
    parser.add_argument("--min-capacity", type=int, help="custom policy: the deployed one with this minimum")
    parser.add_argument("--max-capacity", type=int, help="custom policy: ... this maximum")
    parser.add_argument(
        "--period-seconds", type=float, help="custom policy: ... this alarm period (60, 120...)"
    )
    parser.add_argument("--sqs-lag", type=float, help="seconds before an SQS datapoint reaches the alarms")
    parser.add_argument(
        "--bootstrap-seconds", type=float, help="an instance's install time (default measured)"
    )
    parser.add_argument("--images-per-second", type=float, help="one worker instance's speed")
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="the model the workers run: efficientnet-lite0 (default), -lite1 or -lite2 (their measured "
        "speed relative to Lite0 scales the workers' and the standby's)",
    )
    parser.add_argument(
        "--standby",
        type=int,
        metavar="N",
        help="standby workers per web instance (default 1, as deployed: standbyWorkers; 0: none)",
    )
    parser.add_argument("--wait-seconds", type=float, help="the web tier's synchronous wait (default 30)")
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed of the Poisson workloads (default 1)"
    )
    parser.add_argument(
        "--web-instances",
        type=int,
        default=4,
        help="web instances at full scale, for the maximum-throughput line (default 4: webMaxCapacity)",
    )
    parser.add_argument(
        "--web-cpu-ms",
        type=float,
        help="the web process's CPU per upload in ms (default: the measured figure, web_capacity.py)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON (- for standard output)")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="a timeline per run of the first workload")
    parser.add_argument(
        "--markdown", action="store_true", help="print the table as Markdown (for the README)"
    )


def _custom_policy(args: argparse.Namespace) -> ScalingPolicy | None:
    from services.elasticity.simulator.presets import DEPLOYED_POLICY, policy_from_file

    policy = policy_from_file(args.policy_file) if args.policy_file else None
    overrides = {
        name: getattr(args, name)
        for name in ("min_capacity", "max_capacity", "period_seconds")
        if getattr(args, name) is not None
    }
    if overrides:
        policy = replace(policy or DEPLOYED_POLICY, **overrides)
    return policy


def _calibration(args: argparse.Namespace, base: Calibration) -> Calibration:
    calibration = base
    if args.sqs_lag is not None:
        calibration = replace(calibration, metrics=replace(calibration.metrics, sqs_lag=args.sqs_lag))
    if args.bootstrap_seconds is not None:
        calibration = replace(
            calibration, phases=replace(calibration.phases, bootstrap=args.bootstrap_seconds)
        )
    if args.images_per_second is not None:
        calibration = replace(
            calibration, speed=replace(calibration.speed, images_per_second=args.images_per_second)
        )
    if args.wait_seconds is not None:
        calibration = replace(calibration, wait_seconds=args.wait_seconds)
    if args.model is not None:
        from services.elasticity.simulator.calibration import MODEL_SPEED

        if args.model not in MODEL_SPEED:
            raise ValueError(f"--model: one of {', '.join(MODEL_SPEED)}, got {args.model!r}")
        factor = MODEL_SPEED[args.model]
        speed = replace(calibration.speed, images_per_second=calibration.speed.images_per_second * factor)
        standby = replace(
            calibration.standby, images_per_second=calibration.standby.images_per_second * factor
        )
        calibration = replace(calibration, speed=speed, standby=standby)
    if args.standby is not None:
        if args.standby < 0:
            raise ValueError(f"--standby must be 0 or more, got {args.standby}")
        deployment = replace(calibration.deployment, standby_workers=args.standby)
        calibration = replace(calibration, deployment=deployment)
    return calibration


def _maximum_line(args: argparse.Namespace, policy: ScalingPolicy | None) -> str:
    from services.elasticity.policy import ScalingPolicy
    from services.elasticity.simulator.calibration import CLOUD
    from services.elasticity.simulator.capacity import deployment_maximum
    from services.elasticity.web_capacity import WebCapacity

    calibration = _calibration(args, CLOUD)
    web = WebCapacity() if args.web_cpu_ms is None else WebCapacity(cpu_ms_per_upload=args.web_cpu_ms)
    workers = (policy or ScalingPolicy()).max_capacity
    maximum = deployment_maximum(calibration, workers=workers, web_instances=args.web_instances, web=web)
    return maximum.describe(calibration)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from services.elasticity.simulator import CUSTOM, PRESETS, RunResult, simulate
    from services.elasticity.simulator.calibration import CLOUD
    from services.elasticity.simulator.report import (
        markdown_bills,
        markdown_table,
        plot_timelines,
        render_bills,
        render_table,
    )
    from services.elasticity.simulator.workloads import STANDARD_WORKLOADS

    err = Console(stderr=True)
    workloads = [*(STANDARD_WORKLOADS if args.standard else ()), *(args.workload or ())] or ["burst:100"]
    presets: list[str] = []
    for name in args.preset or ["deployed"]:
        presets += list(PRESETS) if name == "all" else [name]
    try:
        policy = _custom_policy(args)
        if policy is not None and CUSTOM not in presets:
            presets.append(CUSTOM)
        runs = []
        started = time.perf_counter()
        for workload in workloads:
            for preset in presets:
                base = PRESETS[preset].calibration if preset in PRESETS else CLOUD
                calibration = _calibration(args, base)
                runs.append(
                    simulate(preset, workload, seed=args.seed, calibration=calibration, policy=policy)
                )
        elapsed = time.perf_counter() - started
    except (OSError, ValueError) as exc:
        err.print(f"[red]evision simulate:[/red] {exc}")
        return 2
    results = [result for result, _ in runs]
    if args.json:
        text = TypeAdapter(list[RunResult]).dump_json(results, indent=2).decode() + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text)
    if args.markdown:
        print(markdown_table(results))
        billed = next((world.calibration for _, world in runs if world.calibration.billed), None)
        if billed is not None:
            print()
            print(markdown_bills(billed))
    elif args.json != "-":
        console = Console(width=None if sys.stdout.isatty() else 160)
        render_table(results, console)
        render_bills(runs, console)
        err.print(f"{len(runs)} runs simulated in {elapsed:.1f} s")
        err.print(_maximum_line(args, policy))
    if args.plot:
        first = [run for run in runs if run[0].workload == runs[0][0].workload]
        try:
            plot_timelines(first, args.plot)
        except RuntimeError as exc:
            err.print(f"[red]evision simulate:[/red] {exc}")
            return 2
        err.print(f"timeline plot: {args.plot}")
    return 0
