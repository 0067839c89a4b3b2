"""Arrival times of uploads, from a `--workload` spec (seeded: the same spec gives the same times).

- `burst:N`: N uploads at t=0, each client waiting synchronously (the course workload generators).
- `poisson:RATE:SECONDS`: a Poisson stream of RATE uploads/s for SECONDS.
- `steps:RATE@SECONDS,RATE@SECONDS,...`: a Poisson stream whose rate changes, e.g. `steps:5@600,50@300`.
- `day`: an idle day with 5 bursts (100, 500, 2000, 100 and 1000 uploads at 03:00, 09:00, 12:00,
  15:00 and 20:00), the day's other 86 400 s without any upload.
- `job:N`: a batch job over N images: the planner lists the source and puts its keys on the job
  queue at `PLANNING_KEYS_PER_SECOND`, workers take them a chunk at a time (no web wait).
- a path to a CSV file: one arrival time in seconds per line (first column; a header is skipped).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

DAY_SECONDS = 86_400.0
DAY_BURSTS: tuple[tuple[float, int], ...] = (
    (3 * 3600.0, 100),
    (9 * 3600.0, 500),
    (12 * 3600.0, 2000),
    (15 * 3600.0, 100),
    (20 * 3600.0, 1000),
)
STANDARD_WORKLOADS = ("burst:100", "burst:2000", "poisson:50:1800", "day")
# A job's planner lists 1 000 keys per ListObjectsV2 call and sends 10 chunks per SendMessageBatch:
# ~100 ms per listing call is an estimate (S3 list latency is not documented), so 10 000 keys/s.
PLANNING_KEYS_PER_SECOND = 10_000.0


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    arrivals: npt.NDArray[np.float64]  # seconds, sorted
    horizon: float  # the workload's own length (the simulation runs on until the pool is idle)
    job: bool = False  # through the job path: chunks of keys, results per shard


def _poisson(rng: np.random.Generator, rate: float, start: float, seconds: float) -> npt.NDArray[np.float64]:
    if rate <= 0 or seconds <= 0:
        return np.empty(0)
    count = rng.poisson(rate * seconds)
    return np.sort(start + rng.uniform(0.0, seconds, count))


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {text!r}")
    return value


def parse_workload(spec: str, *, seed: int = 1) -> Workload:
    rng = np.random.default_rng(seed)
    kind, _, rest = spec.partition(":")
    if kind == "burst":
        count = int(_number(rest, "burst:N"))
        return Workload(spec, np.zeros(count), 0.0)
    if kind == "job":
        count = int(_number(rest, "job:N"))
        return Workload(spec, np.arange(count, dtype=np.float64) / PLANNING_KEYS_PER_SECOND, 0.0, job=True)
    if kind == "poisson":
        rate, _, seconds = rest.partition(":")
        duration = _number(seconds, "poisson:RATE:SECONDS (SECONDS)")
        return Workload(spec, _poisson(rng, _number(rate, "poisson RATE"), 0.0, duration), duration)
    if kind == "steps":
        parts, start = [], 0.0
        for step in rest.split(","):
            rate, _, seconds = step.partition("@")
            duration = _number(seconds, f"steps: {step!r} (SECONDS)")
            parts.append(_poisson(rng, _number(rate, f"steps: {step!r} (RATE)"), start, duration))
            start += duration
        return Workload(spec, np.concatenate(parts) if parts else np.empty(0), start)
    if spec == "day":
        arrivals = np.concatenate([np.full(count, at) for at, count in DAY_BURSTS])
        return Workload(spec, arrivals, DAY_SECONDS)
    path = Path(spec)
    if path.is_file():
        return Workload(path.name, _read_csv(path), 0.0)
    raise ValueError(
        f"unknown workload {spec!r}: use burst:N, job:N, poisson:RATE:SECONDS, steps:RATE@SECONDS,..., day, "
        "or a CSV file of arrival times"
    )


def _read_csv(path: Path) -> npt.NDArray[np.float64]:
    times: list[float] = []
    with path.open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            if not row or not row[0].strip():
                continue
            try:
                times.append(float(row[0]))
            except ValueError:
                if number == 1:
                    continue  # a header
                raise ValueError(f"{path}:{number}: not a time in seconds: {row[0]!r}") from None
    arrivals = np.sort(np.asarray(times, dtype=np.float64))
    if len(arrivals) and arrivals[0] < 0:
        raise ValueError(f"{path}: arrival times must not be negative")
    return arrivals
