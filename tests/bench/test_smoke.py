"""`evision bench --quick`: every stage runs for real (model, worker processes, HTTP, moto); tiny counts.

The figures of a quick run mean nothing; this checks that each stage measures something, that
every answer is right, and that the JSON report carries it all. Each runs the CLI in its own
process with faulthandler on: a native crash in an engine (seen once under load, in the in-process
OpenVINO + ONNX Runtime bench) then fails this test with its stack, not the whole pytest run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from model import EngineName

# Below the suite's per-test timeout (pyproject.toml), so a hung child is shown, not just killed.
CHILD_TIMEOUT_SECONDS = 240


def evision(*args: str) -> str:
    """Runs `evision ARGS` in a child process; returns its standard output, fails with its output.

    A child still running after CHILD_TIMEOUT_SECONDS gets SIGABRT, on which faulthandler prints
    every thread's stack: a hang fails with where it hung."""
    command = [sys.executable, "-X", "faulthandler", "-m", "services.cli", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        try:
            out, err = child.communicate(timeout=CHILD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGABRT)
            out, err = child.communicate()
    assert child.returncode == 0, f"exit {child.returncode}\n{out[-4000:]}\n{err[-8000:]}"
    return out


@pytest.mark.slow
def test_quick_bench_measures_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    evision(
        "bench",
        "--quick",
        "--engine",
        "onnxruntime",
        "--workers",
        "1",
        "--json",
        str(out),
        "--work-dir",
        str(tmp_path),
    )

    report = json.loads(out.read_text())
    assert report["bare"]["images_per_s"] > 0
    assert report["bare_single"]["latency"]["p50"] > 0
    names = [m["name"] for m in report["measurements"]]
    assert names == ["worker loop", "HTTP local c=1", "HTTP local c=32", "HTTP aws c=1", "HTTP aws c=32"]
    for m in report["measurements"]:
        assert m["errors"] == {}, m["name"]
        assert m["images"] > 0 and m["images_per_s"] > 0, m["name"]
        assert m["checked"] == m["correct"] == m["images"], m["name"]
        assert m["notes"]["cpu_ms_per_image"]["workers"] > 0, m["name"]
    local = [m for m in report["measurements"] if m["name"].startswith(("worker", "HTTP local"))]
    assert all(m["notes"]["bare_images_per_s_adjacent"] > 0 for m in local)
    aws = [m for m in report["measurements"] if m["name"].startswith("HTTP aws")]
    assert all(m["notes"]["cpu_ms_per_image"]["emulator"] > 0 for m in aws)  # moto in its own process
    assert [t["met"] is not None for t in report["targets"]] == [True, True, True]


@pytest.mark.slow
def test_quick_bench_runs_the_default_engine_beside_the_bare_fp32_model(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    printed = evision("bench", "--quick", "--skip-aws", "--json", str(out), "--work-dir", str(tmp_path))
    engines = json.loads(out.read_text())["engines"]
    first, default = list(engines)
    assert first == "onnxruntime"
    assert default in {f"auto ({name})" for name in get_args(EngineName)}
    assert engines[default]["machine"]["engine"] == default.removeprefix("auto (").removesuffix(")")
    assert "the default engine, auto (" in printed
    for report in engines.values():
        assert report["bare"]["images_per_s"] > 0
        assert all(m["errors"] == {} and m["correct"] == m["images"] for m in report["measurements"])
    assert "engines side by side" in printed
    measured = {m["name"] for report in engines.values() for m in report["measurements"]}
    assert not any("aws" in name for name in measured)  # --skip-aws holds with --quick too


@pytest.mark.slow
def test_bench_standby_measures_the_web_tier_beside_an_idle_and_a_busy_standby() -> None:
    printed = evision("bench-standby", "--requests", "64", "--backlog", "600")
    assert "busy / idle" in printed and "resident memory: web tier" in printed
    classified = int(printed.split("the standby classified ")[1].split()[0])
    assert classified >= 0
    # It was busy while the web tier was measured: a batch in hand from the phase's start to its end
    # (a loaded machine may complete none within the phase).
    assert "the standby held a batch when the busy phase began, and also at its end" in printed
