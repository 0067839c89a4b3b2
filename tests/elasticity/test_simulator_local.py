"""Validation against reality we can run: the `local` preset predicts `evision up`'s burst timeline.

A real `evision up` (local backend, elastic from 0, at most 2 workers, 0.5 s periods) gets a burst
of 100 concurrent uploads; the same burst is simulated with the `local` preset at the same period,
scaled to this machine's speed as measured right before and right after (the bare model): a
shared machine's speed moves, by 2x from day to day and within seconds when a neighbour starts,
so the prediction is the band between the two speeds (the fast edge made whole where other
processes took a share of the cores). Tolerances around that band: time to the
last answer within max(1.5 s, 50 %) (a worker's start moves with the machine's load), and the
pool back at 0 within 2 periods + 1 s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.bench.model_bench import measure_bare
from services.elasticity.simulator.calibration import local_on_this_machine
from services.elasticity.simulator.presets import local_world
from services.elasticity.simulator.results import summarize
from services.elasticity.simulator.workloads import parse_workload
from tests.fixtures import GOLDEN, children, free_port, golden_bytes, wait_until_healthy

ROOT = Path(__file__).parents[2]
PERIOD = 0.5
UPLOADS = 100


async def _burst(url: str) -> list[float]:
    """Every upload at once; each one's answer time (s since the burst began)."""
    names = sorted(GOLDEN)
    started = time.monotonic()

    async def upload(client: httpx.AsyncClient, i: int) -> float:
        name = names[i % len(names)]
        response = await client.post(f"{url}/upload", files={"myfile": (name, golden_bytes(name))})
        assert response.status_code == 200, response.text
        return time.monotonic() - started

    limits = httpx.Limits(max_connections=UPLOADS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return list(await asyncio.gather(*(upload(client, i) for i in range(UPLOADS))))


def _bare_speed() -> float:
    return float(measure_bare(seconds=0.5, batch_sizes=(4,))["images_per_s"])


def _cpu_share(seconds: float = 0.3) -> float:
    """The share of a core one spinning thread gets now: ~1 on a quiet machine, less when other
    processes compete for the cores."""
    wall, cpu = time.perf_counter(), time.thread_time()
    while time.perf_counter() - wall < seconds:
        pass
    return min(1.0, (time.thread_time() - cpu) / (time.perf_counter() - wall))


def _predicted(bare: float) -> tuple[float, float]:
    """The simulated time to the last answer and to 0 workers again, at `bare` images/s."""
    world = local_world(
        parse_workload(f"burst:{UPLOADS}"), local_on_this_machine(bare), period_seconds=PERIOD
    )
    predicted = summarize("local", world.run())
    last, after = predicted.time_to_last_answer_s, predicted.back_to_min_after_last_answer_s
    assert last is not None and after is not None
    return last, last + after


def test_the_local_preset_predicts_the_supervisors_burst(tmp_path):
    before, share_before = _bare_speed(), _cpu_share()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVISION_", "AWS_"))}
    command = [sys.executable, "-m", "services.cli", "up", "--port", str(port), "--data-dir", str(tmp_path)]
    command += ["--scale-period", str(PERIOD), "--max-workers", "2"]
    up = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_healthy(url, up)
        started = time.monotonic()
        answers = asyncio.run(_burst(url))
        deadline = time.monotonic() + 30
        while children(up.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        back_to_zero = time.monotonic() - started
    finally:
        up.terminate()
        up.wait(30)
    after, share_after = _bare_speed(), _cpu_share()
    measured_last = max(answers)

    # Where other processes compete for the cores, the service (a web process and two workers,
    # more threads than the benchmark) takes a bigger share than the one-process benchmark did:
    # the fast edge is the benchmark's speed with its share made whole (seen: 1.7x under 3 CPU hogs).
    share = min(share_before, share_after)
    (fast_last, fast_zero), (slow_last, slow_zero) = (
        _predicted(max(before, after) / share),
        _predicted(min(before, after)),
    )
    print(
        f"\nbare model {before:.0f} then {after:.0f} images/s (a core's share {share:.2f}); "
        f"last answer: measured {measured_last:.2f} s, "
        f"predicted {fast_last:.2f}-{slow_last:.2f} s; "
        f"0 workers again: measured {back_to_zero:.2f} s, predicted {fast_zero:.2f}-{slow_zero:.2f} s"
    )
    tolerance = max(1.5, 0.5 * measured_last)
    assert fast_last - tolerance <= measured_last <= slow_last + tolerance
    assert fast_zero - (2 * PERIOD + 1.0) <= back_to_zero <= slow_zero + 2 * PERIOD + 1.0
