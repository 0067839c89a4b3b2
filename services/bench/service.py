"""(c)/(d) End to end through HTTP: `evision up` on a backend, driven by the load generator.

The service is started exactly as a user starts it, in its own process; the load generator runs
in this process, on the same machine, as a user's client would. On the aws backend the service
talks to a moto server in a process of its own (its CPU is counted as "emulator").
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from services.bench.cpu import CpuMeter
from services.bench.measurement import Measurement
from services.bench.processes import (
    BenchError,
    Processes,
    child_environment,
    evision,
    free_port,
    wait_healthy,
)
from services.loadgen import LoadConfig, run_load, summarize
from services.loadgen.expectations import Expectations
from services.loadgen.images import UploadImage
from services.loadgen.report import Summary


@dataclass(frozen=True, slots=True)
class Run:
    concurrency: int
    requests: int


def measure_service(
    backend: Literal["local", "aws"],
    images: Sequence[UploadImage],
    expectations: Expectations | None,
    *,
    runs: Sequence[Run],
    warmup: int,
    workers: int,
    work_dir: Path,
    deadline_s: float = 300.0,
    reference: Callable[[], float] | None = None,
) -> list[Measurement]:
    """One measurement per run; `reference` (bare images/s) runs before, between and after them."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = evision("up", "--port", str(port), "--workers", str(workers), "--backend", backend)
    env = child_environment(data_dir=str((work_dir / "data").resolve()))
    measurements = []
    with contextlib.ExitStack() as stack:
        roots = []
        if backend == "aws":  # a moto server in its own process: its CPU is not the service's
            emulator = stack.enter_context(_moto_server(work_dir / "logs"))
            env |= emulator.environment
            roots.append(emulator.pid)
        processes = stack.enter_context(Processes([command], env=env, log_dir=work_dir / "logs", name="up"))
        roots += [p.pid for p in processes.processes]
        wait_healthy(base_url, processes, timeout=120.0)
        if warmup:  # loads the model in every worker and fills every connection pool
            concurrency = max(r.concurrency for r in runs)
            _load(base_url, images, None, warmup, concurrency, deadline_s)
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


@dataclass(frozen=True, slots=True)
class _Emulator:
    pid: int
    environment: dict[str, str]


@contextlib.contextmanager
def _moto_server(log_dir: Path) -> Iterator[_Emulator]:
    """`moto_server` on a free loopback port, as its own process, until exit."""
    from services.emulator import emulator_environment

    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    endpoint = f"http://127.0.0.1:{port}"
    with Processes([command], env=child_environment(), log_dir=log_dir, name="moto") as processes:
        deadline = time.monotonic() + 60.0
        while not _answers(endpoint):
            processes.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"moto server on {endpoint} did not answer within 60 s")
            time.sleep(0.1)
        yield _Emulator(processes.processes[0].pid, emulator_environment(endpoint))


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


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
