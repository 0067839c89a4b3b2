"""The benchmark table and JSON: every figure as images/s, as a ratio to bare, and latency deltas."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rich.table import Table

from services.bench.measurement import Measurement

# The targets.
HTTP_THROUGHPUT_RATIO = 0.85  # end-to-end local at concurrency 32, vs bare throughput
WORKER_LOOP_RATIO = 0.95  # worker loop vs bare throughput
SINGLE_LATENCY_BUDGET_MS = 15.0  # p50 at concurrency 1 may exceed bare single-image latency by this


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    value: float | None
    limit: float
    higher_is_better: bool
    unit: str = ""  # "" for ratios, "ms" for latencies

    def show(self, value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.1f} ms" if self.unit == "ms" else f"{value:.3f}"

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit


@dataclass(frozen=True, slots=True)
class BenchReport:
    bare: Measurement  # throughput of the bare in-process classifier
    bare_single: Measurement  # one image at a time: the latency floor
    measurements: list[Measurement]
    machine: dict[str, Any]

    def ratio(self, m: Measurement) -> float:
        """Images/s relative to bare: the bare rate measured next to this stage when there is one."""
        reference = m.reference_images_per_s or self.bare.images_per_s
        return m.images_per_s / reference if reference else 0.0

    def p50_delta_ms(self, m: Measurement) -> float | None:
        if m.latency is None or self.bare_single.latency is None:
            return None
        return m.latency.p50 - self.bare_single.latency.p50

    def find(self, name: str) -> Measurement | None:
        return next((m for m in self.measurements if m.name == name), None)

    def targets(self) -> list[Target]:
        http32 = self.find("HTTP local c=32")
        http1 = self.find("HTTP local c=1")
        loop = self.find("worker loop")
        single = self.bare_single.latency.p50 if self.bare_single.latency else None
        return [
            Target(
                f"HTTP local c=32 ≥ {HTTP_THROUGHPUT_RATIO} x bare",
                self.ratio(http32) if http32 else None,
                HTTP_THROUGHPUT_RATIO,
                higher_is_better=True,
            ),
            Target(
                f"HTTP local c=1 p50 ≤ bare single + {SINGLE_LATENCY_BUDGET_MS:.0f} ms",
                http1.latency.p50 if http1 and http1.latency else None,
                (single or 0.0) + SINGLE_LATENCY_BUDGET_MS,
                higher_is_better=False,
                unit="ms",
            ),
            Target(
                f"worker loop ≥ {WORKER_LOOP_RATIO} x bare",
                self.ratio(loop) if loop else None,
                WORKER_LOOP_RATIO,
                higher_is_better=True,
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        def row(m: Measurement) -> dict[str, Any]:
            return {
                **asdict(m),
                "images_per_s": round(m.images_per_s, 2),
                "ratio_to_bare": round(self.ratio(m), 3),
                "p50_delta_vs_bare_single_ms": _round(self.p50_delta_ms(m)),
            }

        return {
            "machine": self.machine,
            "bare": row(self.bare),
            "bare_single": row(self.bare_single),
            "measurements": [row(m) for m in self.measurements],
            "targets": [{**asdict(t), "met": t.met} for t in self.targets()],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_report(report: BenchReport) -> Table:
    table = Table(
        title="evision bench (warm-up excluded; bare ref = bare images/s measured just before and after"
        " the stage; Δp50 = p50 - bare single-image p50)",
        title_justify="left",
    )
    table.add_column("stage", no_wrap=True)
    for column in ("images", "images/s", "bare ref", "x bare", "p50 ms", "p95 ms", "p99 ms", "Δp50 ms"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("errors")
    table.add_column("correct", justify="right", no_wrap=True)
    for m in [report.bare, report.bare_single, *report.measurements]:
        lat = m.latency
        delta = report.p50_delta_ms(m)
        errors = ", ".join(f"{k} {v}" for k, v in m.errors.items()) or "none"
        table.add_row(
            m.name,
            str(m.images),
            f"{m.images_per_s:.1f}",
            f"{m.reference_images_per_s or report.bare.images_per_s:.1f}",
            f"{report.ratio(m):.2f}",
            _ms(lat.p50 if lat else None),
            _ms(lat.p95 if lat else None),
            _ms(lat.p99 if lat else None),
            "-" if delta is None else f"{delta:+.1f}",
            errors,
            f"{m.correct}/{m.checked}" if m.checked else "-",
        )
    return table


def render_targets(report: BenchReport) -> Table:
    table = Table(title="targets", title_justify="left")
    for column in ("target", "measured", "limit", "met"):
        table.add_column(column)
    status = {True: "[green]yes[/green]", False: "[red]NO[/red]", None: "[yellow]not measured[/yellow]"}
    for t in report.targets():
        table.add_row(t.name, t.show(t.value), t.show(t.limit), status[t.met])
    return table


def render_cpu(report: BenchReport) -> Table | None:
    """CPU milliseconds per image by process role: where the time goes, whatever the neighbours do."""
    rows = [(m.name, m.notes.get("cpu_ms_per_image") or {}) for m in [report.bare, *report.measurements]]
    roles = sorted({role for _, cpu in rows for role in cpu})
    if not roles:
        return None
    table = Table(title="CPU ms per image, by process", title_justify="left")
    table.add_column("stage", no_wrap=True)
    for role in [*roles, "total"]:
        table.add_column(role, justify="right")
    for name, cpu in rows:
        table.add_row(name, *(f"{cpu.get(role, 0.0):.2f}" for role in roles), f"{sum(cpu.values()):.2f}")
    return table
