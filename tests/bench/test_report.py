"""Ratios, latency deltas and target verdicts of the bench report."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from services.bench.measurement import Measurement
from services.bench.report import BenchReport, render_report, render_targets
from services.loadgen.report import Latency


def lat(p50: float) -> Latency:
    return Latency(count=10, mean=p50, p50=p50, p95=p50 * 1.5, p99=p50 * 2, max=p50 * 3)


def report(http32_per_s: float, http1_p50: float, loop_per_s: float) -> BenchReport:
    return BenchReport(
        bare=Measurement("bare model", images=200, seconds=1.0),  # 200 images/s
        bare_single=Measurement("bare single image", images=100, seconds=1.0, latency=lat(10.0)),
        measurements=[
            Measurement("worker loop", images=int(loop_per_s), seconds=1.0),
            Measurement("HTTP local c=1", images=50, seconds=1.0, latency=lat(http1_p50)),
            Measurement("HTTP local c=32", images=int(http32_per_s), seconds=1.0, latency=lat(100.0)),
        ],
        machine={"cpus": 2},
    )


def test_targets_met_at_their_limits() -> None:
    r = report(http32_per_s=170, http1_p50=25.0, loop_per_s=190)
    assert [t.met for t in r.targets()] == [True, True, True]
    assert r.ratio(r.measurements[2]) == pytest.approx(0.85)
    assert r.p50_delta_ms(r.measurements[1]) == pytest.approx(15.0)


def test_targets_missed_just_past_their_limits() -> None:
    r = report(http32_per_s=169, http1_p50=25.1, loop_per_s=189)
    assert [t.met for t in r.targets()] == [False, False, False]


def test_unmeasured_stages_are_neither_met_nor_missed() -> None:
    r = report(http32_per_s=170, http1_p50=25.0, loop_per_s=190)
    r.measurements.clear()
    assert [t.met for t in r.targets()] == [None, None, None]


def test_json_and_table_carry_every_row() -> None:
    r = report(http32_per_s=170, http1_p50=25.0, loop_per_s=190)
    data = json.loads(json.dumps(r.to_json()))
    assert [m["name"] for m in data["measurements"]] == ["worker loop", "HTTP local c=1", "HTTP local c=32"]
    assert data["measurements"][2]["ratio_to_bare"] == 0.85
    assert data["measurements"][1]["p50_delta_vs_bare_single_ms"] == 15.0
    assert [t["met"] for t in data["targets"]] == [True, True, True]
    console = Console(record=True, width=200)
    console.print(render_report(r))
    console.print(render_targets(r))
    text = console.export_text()
    assert "HTTP local c=32" in text and "170.0" in text and "+15.0" in text
