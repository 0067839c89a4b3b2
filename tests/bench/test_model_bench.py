"""bench-model's measuring functions run on the real model and report sane figures (tiny durations)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from services.bench import model_bench as bench


def test_measure_bare_reports_the_best_end_to_end_figure() -> None:
    report = bench.measure_bare(seconds=0.05, batch_sizes=(1, 2))
    stages = {m["stage"] for m in report["measurements"]}
    assert stages == {"end-to-end"}
    assert len(report["measurements"]) == len(bench.SETUPS) * 2
    best = max(m["images_per_s"] for m in report["measurements"])
    assert report["images_per_s"] == best > 0
    assert report["single_image_latency_ms"] > 0
    assert all(m["images"] >= m["batch"] for m in report["measurements"])


def _run(tmp_path, batch: str) -> dict[str, Any]:
    """`evision bench-model` with tiny durations; its JSON report."""
    parser = argparse.ArgumentParser()
    bench.configure(parser)
    out = tmp_path / "bench.json"
    args = parser.parse_args(["--seconds", "0.02", "--batch-sizes", batch, "--json", str(out)])
    assert bench.run(args) == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_cli_writes_json(tmp_path) -> None:
    report = _run(tmp_path, "1")
    assert {m["stage"] for m in report["measurements"]} == {"bare", "end-to-end"}
    assert report["draft"]["large_jpeg"] == "4000x3000" and report["draft"]["draft_speedup"] > 0


def test_by_default_every_engine_is_measured_side_by_side(tmp_path) -> None:
    report = _run(tmp_path, "4")
    engines = report["engines"]
    assert report["stages_ms"]["decode (fast path)"] > 0 and report["stages_ms"]["infer int8 (batch 1)"] > 0
    assert list(engines)[:2] == ["onnxruntime-fp32", "onnxruntime-int8"]  # fp32 first: the yardstick
    assert all(report["images_per_s"] > 0 for report in engines.values())
