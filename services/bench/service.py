"""(c)/(d) End to end through HTTP: `evision up` on a backend, driven by the load generator.

The service is started exactly as a user starts it, in its own process; the load generator runs
in this process, on the same machine, as a user's client would. On the aws backend the service
talks to a moto server in a process of its own (its CPU is counted as "emulator").
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.adapters.registry import plugin
from services.bench.cpu import CpuMeter
from services.bench.measurement import Measurement
from services.bench.processes import BenchError, Processes, child_environment, listening, wait_healthy
from services.loadgen import LoadConfig, run_load, summarize
from services.loadgen.expectations import Expectations
from services.loadgen.images import UploadImage
from services.loadgen.report import Summary
from services.worker.settings import WorkerSettings


@dataclass(frozen=True, slots=True)
class Run:
    concurrency: int
    requests: int


def measure_service(
    backend: str,
    images: Sequence[UploadImage],
    expectations: Expectations | None,
    *,
    runs: Sequence[Run],
    warmup: int,
    workers: int,
    work_dir: Path,
    deadline_s: float = 300.0,
    reference: Callable[[], float] | None = None,
    engine: str = "onnxruntime",
) -> list[Measurement]:
    """One measurement per run; `reference` (bare images/s) runs before, between and after them."""
    command, base_url = listening("up", "--workers", str(workers), "--backend", backend)
    # The workers `evision up` starts inherit these (the engine included).
    env = child_environment(
        WorkerSettings.from_values(backend=backend, data_dir=work_dir / "data", engine=engine)
    )
    measurements = []
    with contextlib.ExitStack() as stack:
        roots = []
        emulator = plugin(backend).emulator(own_process=True)  # its CPU is not the service's
        if emulator is not None:
            running = stack.enter_context(emulator)
            env |= running.environment
            if running.pid is not None:
                roots.append(running.pid)
        processes = stack.enter_context(Processes([command], env=env, log_dir=work_dir / "logs", name="up"))
        roots += [p.pid for p in processes.processes]
        wait_healthy(base_url, processes, timeout=120.0)
        if warmup:  # loads the model in every worker and fills every connection pool
            concurrency = max(r.concurrency for r in runs)
            _warm_up(base_url, images, warmup, concurrency, deadline_s)
        references = [reference()] if reference else []
        for run in runs:
            meter = CpuMeter(roots)
            meter.start()
            summary = _load(base_url, images, expectations, run.requests, run.concurrency, deadline_s)
            meter.stop()
            processes.check_alive()
            name = f"HTTP {backend} c={run.concurrency}"
            notes: dict[str, object] = {"cpu_ms_per_image": meter.ms_per_image(summary.answered)}
            if reference:
                references.append(reference())
                notes["bare_images_per_s_adjacent"] = round(statistics.fmean(references[-2:]), 2)
            measurements.append(
                Measurement.from_summary(name, summary, workers=workers, backend=backend, **notes)
            )
    return measurements


def _warm_up(
    base_url: str, images: Sequence[UploadImage], requests: int, concurrency: int, deadline_s: float
) -> None:
    """Until the service answers: on a loaded machine the workers' first model load (OpenVINO's
    compilation above all) can outlast the web wait, and every upload of a first round is a 202."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            _load(base_url, images, None, requests, concurrency, deadline_s)
            return
        except BenchError:
            if time.monotonic() >= deadline:
                raise


def _load(
    base_url: str,
    images: Sequence[UploadImage],
    expectations: Expectations | None,
    requests: int,
    concurrency: int,
    deadline_s: float,
) -> Summary:
    config = LoadConfig(
        url=f"{base_url}/upload",
        images=images,
        requests=requests,
        concurrency=concurrency,
        deadline_s=deadline_s,
        expectations=expectations,
    )
    summary = summarize(asyncio.run(run_load(config)))
    if summary.answered == 0:
        raise BenchError(f"no answers from {config.url}: {summary.errors} {summary.error_examples}")
    return summary
