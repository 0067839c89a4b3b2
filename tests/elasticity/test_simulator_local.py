"""Validation against reality we can run: the `local` preset predicts `evision up`'s burst timeline.

A real `evision up` (local backend, elastic from 0, at most 2 workers, 0.5 s periods) gets a burst
of 100 concurrent uploads; the same burst is simulated with the `local` preset at the same period,
scaled to this machine's speed as measured right before (the bare model, half a second).
Tolerances: time to the last answer within max(1.5 s, 50 %) (a worker's start and speed move with
the machine's load), and the pool back at 0 within 2 periods + 1 s of the measured time.
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
from tests.e2e.images import GOLDEN, golden_bytes
from tests.fixtures import children, free_port, wait_until_healthy

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


def test_the_local_preset_predicts_the_supervisors_burst(tmp_path):
    # The preset calibrated to this machine's speed now (a shared machine's moves by 2x).
    bare = measure_bare(seconds=0.5, batch_sizes=(4,))["images_per_s"]
    calibration = local_on_this_machine(bare)
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
    measured_last = max(answers)

    world = local_world(parse_workload(f"burst:{UPLOADS}"), calibration, period_seconds=PERIOD).run()
    predicted = summarize("local", world)
    assert (
        predicted.time_to_last_answer_s is not None and predicted.back_to_min_after_last_answer_s is not None
    )
    predicted_zero = predicted.time_to_last_answer_s + predicted.back_to_min_after_last_answer_s
    print(
        f"\nbare model {bare:.0f} images/s; last answer: measured {measured_last:.2f} s, "
        f"predicted {predicted.time_to_last_answer_s:.2f} s; "
        f"0 workers again: measured {back_to_zero:.2f} s, predicted {predicted_zero:.2f} s"
    )
    assert abs(predicted.time_to_last_answer_s - measured_last) <= max(1.5, 0.5 * measured_last)
    assert abs(predicted_zero - back_to_zero) <= 2 * PERIOD + 1.0
