"""The runs as a table (rich), as JSON, and as a timeline plot (matplotlib, optional extra `plot`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from services.elasticity.simulator.bill import CATEGORIES, Bill, idle_month, per_thousand_images
from services.elasticity.simulator.calibration import Calibration
from services.elasticity.simulator.prices import DATE
from services.elasticity.simulator.results import RunResult
from services.elasticity.simulator.world import World

COLUMNS: tuple[tuple[str, str], ...] = (
    ("preset", "preset"),
    ("workload", "workload"),
    ("first_answer_s", "first answer s"),
    ("latency_p50_s", "p50 s"),
    ("latency_p95_s", "p95 s"),
    ("latency_max_s", "max s"),
    ("time_to_last_answer_s", "last answer s"),
    ("answered_202", "202s"),
    ("answered_by_standby", "standby"),
    ("peak_instances", "peak"),
    ("instance_seconds", "inst-s"),
    ("cost_usd", "cost $"),
    ("back_to_min_after_last_answer_s", "to min s"),
)


def _cell(value: object, key: str = "") -> str:
    if key == "cost_usd" and isinstance(value, float):
        return f"{value:.4f}"
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_table(results: Sequence[RunResult], console: Console) -> None:
    table = Table(
        title="simulated cloud tier",
        title_justify="left",
        caption="latencies per upload; 202s: answered after the web wait; standby: answered by "
        "the web tier's standby workers; "
        "cost: the whole bill of the simulated span (itemized below)",
        caption_justify="left",
    )
    for _, header in COLUMNS:
        table.add_column(
            header, justify="left" if header in ("preset", "workload") else "right", no_wrap=True
        )
    for result in results:
        data = result.model_dump()
        table.add_row(*(_cell(data[key], key) for key, _ in COLUMNS))
    console.print(table)


def render_bill(bill: Bill, console: Console) -> None:
    """One line per item, grouped by category, with the total."""
    table = Table(title=f"{bill.title}: ${bill.total:,.4f}", title_justify="left")
    table.add_column("category", no_wrap=True)
    table.add_column("item")
    table.add_column("$", justify="right", no_wrap=True)
    for category in CATEGORIES:
        for item in bill.items:
            if item.category == category:
                table.add_row(category, item.item, f"{item.usd:,.4f}")
    table.caption = f"AWS us-east-1 list prices of {DATE} (services/elasticity/simulator/prices.py)"
    table.caption_justify = "left"
    console.print(table)


def render_run_bills(results: Sequence[RunResult], console: Console) -> None:
    """Each billed run's cost by category."""
    billed = [r for r in results if r.cost_usd > 0]
    if not billed:
        return
    table = Table(title="the runs' bills by category ($)", title_justify="left")
    for header in ("preset", "workload", *CATEGORIES, "total"):
        table.add_column(
            header, justify="left" if header in ("preset", "workload") else "right", no_wrap=True
        )
    for result in billed:
        cells = [f"{result.bill_usd.get(category, 0.0):,.4f}" for category in CATEGORIES]
        table.add_row(result.preset, result.workload, *cells, f"{result.cost_usd:,.4f}")
    console.print(table)


def render_bills(runs: Sequence[tuple[RunResult, World]], console: Console) -> None:
    """The runs' bills by category, then for each billed calibration its idle month and the cost
    of 1 000 images at steady load."""
    render_run_bills([result for result, _ in runs], console)
    shown: list[object] = []
    for result, world in runs:
        calibration = world.calibration
        if not calibration.billed or calibration in shown:
            continue
        shown.append(calibration)
        idle = idle_month(calibration.deployment, calibration)
        thousand = per_thousand_images(calibration.deployment, calibration)
        by_job = per_thousand_images(calibration.deployment, calibration, job=True)
        render_bill(idle, console)
        render_bill(thousand, console)
        render_bill(by_job, console)
        console.print(
            f"{result.preset}: idle month ${idle.total:,.2f}; 1 000 images at steady load "
            f"${thousand.total:,.4f} on top (through a job ${by_job.total:,.4f})"
        )


def markdown_table(results: Sequence[RunResult]) -> str:
    """The same table as Markdown (for the README)."""
    lines = ["| " + " | ".join(header for _, header in COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for result in results:
        data = result.model_dump()
        lines.append("| " + " | ".join(_cell(data[key], key) for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def markdown_bills(calibration: Calibration) -> str:
    """The idle month and 1 000 images at steady load, itemized, as Markdown (for the README)."""
    lines: list[str] = []
    for bill in (
        idle_month(calibration.deployment, calibration),
        per_thousand_images(calibration.deployment, calibration),
        per_thousand_images(calibration.deployment, calibration, job=True),
    ):
        lines += [
            f"**{bill.title}: ${bill.total:,.2f}**"
            if bill.total >= 1
            else f"**{bill.title}: ${bill.total:,.4f}**",
            "",
        ]
        lines += ["| category | item | $ |", "| --- | --- | --- |"]
        lines += [f"| {i.category} | {i.item} | {i.usd:,.4f} |" for i in bill.items]
        lines.append("")
    return "\n".join(lines)


def plot_timelines(runs: Sequence[tuple[RunResult, World]], path: Path) -> None:
    """One row per run: queue depth, desired and in-service instances, answers so far."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'elastic-vision[plot]'") from None
    figure, axes = plt.subplots(len(runs), 1, figsize=(10, 2.7 * len(runs)), squeeze=False)
    for row, (result, world) in zip(axes, runs, strict=True):
        depth_axis = row[0]
        points = world.timeline
        end = max(p.t for p in points) if points else 1.0
        times = [p.t for p in points]
        depth_axis.fill_between(
            times,
            [p.visible + p.in_flight for p in points],
            step="post",
            alpha=0.3,
            label="queue (visible + in flight)",
        )
        depth_axis.step(
            times, [p.answered for p in points], where="post", color="tab:green", label="answered"
        )
        depth_axis.set_ylabel("uploads")
        depth_axis.set_xlim(0, end * 1.04)  # the last step (back to the minimum) stays visible
        capacity_axis = depth_axis.twinx()
        capacity_axis.step(times, [p.desired for p in points], where="post", color="tab:red", label="desired")
        capacity_axis.step(
            times,
            [p.in_service for p in points],
            where="post",
            color="tab:purple",
            linestyle="--",
            label="in service",
        )
        capacity_axis.set_ylabel("instances")
        capacity_axis.set_ylim(bottom=0)
        depth_axis.set_title(
            f"{result.preset} on {result.workload}: last answer {_cell(result.time_to_last_answer_s)} s, "
            f"{result.answered_202} of {result.uploads} past the web wait, "
            f"{result.answered_by_standby} by the standby, ${result.cost_usd:.4f}",
            fontsize=9,
            loc="left",
        )
        handles = depth_axis.get_legend_handles_labels()[0] + capacity_axis.get_legend_handles_labels()[0]
        depth_axis.legend(handles=handles, loc="upper right", fontsize=7)
    for row in axes:
        row[0].set_xlabel("seconds since the first upload", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
