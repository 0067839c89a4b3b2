"""The whole benchmark in one run: (a) bare, (b) worker loop, (c) HTTP local, (d) HTTP aws (moto)."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from model import EngineName
from services.bench.bare import BareRun, combine, golden_images, measure_bare_once, reference_rate
from services.bench.measurement import Measurement
from services.bench.report import BenchReport
from services.bench.service import Run, measure_service
from services.bench.worker_loop import measure_worker_loop
from services.loadgen.expectations import Expectations, load_expectations
from services.loadgen.images import UploadImage, load_images

HIGH_CONCURRENCY = 32


@dataclass(frozen=True, slots=True)
class BenchPlan:
    workers: int
    bare_seconds: float = 2.0  # per bench-model set-up and batch size
    reference_seconds: float = 3.0  # the best bare set-up again, right before/after each stage; 0: off
    loop_images: int = 600
    c1_requests: int = 150
    c32_requests: int = 640
    aws_scale: float = 0.15  # moto manages ~50-100 operations/s: fewer requests there; 0 skips (d)
    engine: EngineName = "onnxruntime"  # every stage's workers and its bare yardstick

    def __post_init__(self) -> None:
        counts = (self.workers, self.loop_images, self.c1_requests, self.c32_requests)
        if min(counts) < 1:
            raise ValueError("workers and every count must be at least 1")
        if self.bare_seconds <= 0:
            raise ValueError("bare seconds must be positive")
        if self.reference_seconds < 0:
            raise ValueError("reference seconds must not be negative")
        if not 0 <= self.aws_scale <= 1:
            raise ValueError("aws scale must be within 0..1")

    @classmethod
    def quick(cls, workers: int) -> BenchPlan:
        """A smoke run: every stage runs, no figure means anything."""
        return cls(
            workers,
            bare_seconds=0.2,
            reference_seconds=0.2,
            loop_images=20,
            c1_requests=5,
            c32_requests=40,
            aws_scale=0.5,
        )

    def warmup(self, requests: int) -> int:
        return min(requests, 2 * HIGH_CONCURRENCY)


def bench_images(
    image_dir: Path | None, labels: Path | None
) -> tuple[list[UploadImage], Expectations | None]:
    """The images every stage uses and their expected labels (default: the model's golden images)."""
    if image_dir is None:
        images, expectations = golden_images()
        return images, (load_expectations(labels) if labels else expectations)
    return load_images(image_dir), (load_expectations(labels) if labels else None)


def run_suite(
    plan: BenchPlan,
    images: Sequence[UploadImage],
    expectations: Expectations | None,
    *,
    work_dir: Path,
    console: Console,
) -> BenchReport:
    machine: dict[str, object] = {
        "cpus": os.cpu_count(),
        "workers": plan.workers,
        "images": len(images),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    measurements: list[Measurement] = []

    bare_runs = [_bare(plan, console, "first")]
    best = bare_runs[0]

    def reference() -> float:
        with console.status("bare reference"):
            return reference_rate(best.setup, best.batch, seconds=plan.reference_seconds, engine=plan.engine)

    with console.status("(b) worker loop"):
        loop = measure_worker_loop(
            images,
            expectations,
            count=plan.loop_images,
            engine=plan.engine,
            warmup=plan.warmup(plan.loop_images),
            workers=plan.workers,
            work_dir=work_dir / "worker-loop",
            reference=reference if plan.reference_seconds > 0 else None,
        )
    measurements.append(loop)
    console.log(f"(b) worker loop: {loop.images_per_s:.1f} images/s")

    # (c) the embedded backend, the yardstick's neighbour; (d) the cloud's, against its emulator.
    stages: list[tuple[str, str, float]] = [("c", "local", 1.0)]
    if plan.aws_scale > 0:
        stages.append(("d", "aws", plan.aws_scale))
    for letter, backend, scale in stages:
        runs = [
            Run(1, max(3, math.ceil(plan.c1_requests * scale))),
            Run(HIGH_CONCURRENCY, max(HIGH_CONCURRENCY, math.ceil(plan.c32_requests * scale))),
        ]
        with console.status(f"({letter}) HTTP {backend}"):
            found = measure_service(
                backend,
                images,
                expectations,
                runs=runs,
                engine=plan.engine,
                warmup=plan.warmup(runs[-1].requests),
                workers=plan.workers,
                work_dir=work_dir / f"http-{backend}",
                reference=reference if plan.reference_seconds > 0 and letter == "c" else None,
            )
        for m in found:
            console.log(f"{m.name}: {m.images_per_s:.1f} images/s")
        measurements.extend(found)

    bare_runs.append(_bare(plan, console, "again, at the end"))
    bare, bare_single = combine(bare_runs)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    machine["plan"] = dataclasses.asdict(plan)
    return BenchReport(bare=bare, bare_single=bare_single, measurements=measurements, machine=machine)


def _bare(plan: BenchPlan, console: Console, when: str) -> BareRun:
    with console.status(f"(a) bare model, {when}"):
        run = measure_bare_once(seconds=plan.bare_seconds, engine=plan.engine)
    console.log(
        f"(a) bare model, {when}: {run.images / run.seconds:.1f} images/s ({run.setup}, batch {run.batch})"
    )
    return run
