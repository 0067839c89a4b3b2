"""`evision simulate` through its command line: the JSON, the table with its bills, the plot, the
deployment's maximum throughput and `--model`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from services.elasticity.simulator import PRESETS
from services.elasticity.simulator.presets import CLOUD_PRESETS
from tests.fixtures import PROJECT_ROOT


def test_evision_simulate_prints_json_table_and_plot(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "services.cli", "simulate"]
    as_json = subprocess.run(
        [*command, "--workload", "burst:100", "--preset", "deployed", "--json", "-"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    [run] = json.loads(as_json.stdout)
    for key in (
        "time_to_last_answer_s",
        "latency_p50_s",
        "latency_p95_s",
        "latency_max_s",
        "answered_202",
        "peak_instances",
        "instance_seconds",
        "cost_usd",
        "back_to_min_after_last_answer_s",
    ):
        assert run[key] is not None, key
    plot = tmp_path / "timeline.png"
    table = subprocess.run(
        [*command, "--standard", "--preset", "all", "--plot", str(plot)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    runs, _, bills = table.stdout.partition("the runs' bills by category")
    assert runs.count("burst:2000") == len(PRESETS) and "poisson:50:1800" in runs
    assert bills.count("burst:2000") == len(CLOUD_PRESETS)  # the local preset is not billed
    assert "idle month" in bills and "1 000 images at steady load" in bills
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 20_000
    bad = subprocess.run(
        [*command, "--workload", "nonsense"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "unknown workload" in bad.stderr


def test_simulate_prints_the_deployments_maximum_throughput() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "simulate", "--web-instances", "1", "--web-cpu-ms", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},  # one line, unwrapped
    )
    assert done.returncode == 0, done.stderr
    assert "web 1 x t3.small = 500 uploads/s" in done.stderr and "bound by the web tier" in done.stderr


def test_a_slower_model_takes_longer_and_costs_more_on_the_same_job() -> None:
    """`--model`: the workers' (and the standby's) speed scaled by the model's measured speed."""
    command = [sys.executable, "-m", "services.cli", "simulate", "--workload", "job:100000", "--json", "-"]
    runs = {}
    for model in ("efficientnet-lite0", "efficientnet-lite2"):
        out = subprocess.run(
            [*command, "--model", model], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
        [runs[model]] = json.loads(out.stdout)
    fast, slow = runs["efficientnet-lite0"], runs["efficientnet-lite2"]
    assert (
        slow["time_to_last_answer_s"] > fast["time_to_last_answer_s"] and slow["cost_usd"] > fast["cost_usd"]
    )
    refused = subprocess.run(
        [*command, "--model", "resnet"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "efficientnet-lite2" in refused.stdout + refused.stderr
