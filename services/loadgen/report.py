"""Figures from a load run: throughput, latency percentiles, errors by kind, correctness."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table

from services.loadgen.answers import OutcomeKind
from services.loadgen.runner import LoadResult, Outcome

EXAMPLES_PER_KIND = 3


@dataclass(frozen=True, slots=True)
class Latency:
    """Milliseconds over the answered requests (a label came back, right or wrong, or a malformed answer)."""

    count: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latency | None:
        if not seconds:
            return None
        ms = sorted(s * 1000.0 for s in seconds)
        if len(ms) == 1:
            return cls(1, ms[0], ms[0], ms[0], ms[0], ms[0])
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(len(ms), statistics.fmean(ms), cuts[49], cuts[94], cuts[98], ms[-1])


@dataclass(frozen=True, slots=True)
class Correctness:
    checked: int  # answered requests whose image has an expected label
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.checked if self.checked else None


@dataclass(frozen=True, slots=True)
class Summary:
    url: str
    requested: int
    concurrency: int
    sent: int
    not_sent: int
    ok: int
    answered: int  # a 200 answer: right, wrong or malformed
    first_to_last_s: float  # first request sent -> last answer received
    requests_per_s: float  # answered requests per second over first_to_last_s
    latency: Latency | None
    errors: dict[str, int] = field(default_factory=dict)
    error_examples: dict[str, list[str]] = field(default_factory=dict)
    correctness: Correctness | None = None

    @property
    def error_count(self) -> int:
        return sum(self.errors.values()) + self.not_sent

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.correctness is not None:
            data["correctness"]["accuracy"] = self.correctness.accuracy
        return data


def summarize(result: LoadResult) -> Summary:
    outcomes = result.outcomes
    answered = [o for o in outcomes if o.answered]
    errors = Counter(str(o.kind) for o in outcomes if o.kind is not OutcomeKind.OK)
    examples: defaultdict[str, list[str]] = defaultdict(list)
    for o in outcomes:
        if o.kind is not OutcomeKind.OK and len(examples[o.kind]) < EXAMPLES_PER_KIND:
            examples[str(o.kind)].append(_describe(o))
    span = (max(o.finished for o in outcomes) - min(o.started for o in outcomes)) if outcomes else 0.0
    checked = [o for o in answered if o.expected is not None and o.kind is not OutcomeKind.MALFORMED]
    correctness = None
    if result.config.expectations is not None:
        correctness = Correctness(checked=len(checked), correct=sum(o.label == o.expected for o in checked))
    return Summary(
        url=result.config.url,
        requested=result.config.requests,
        concurrency=result.config.concurrency,
        sent=len(outcomes),
        not_sent=result.not_sent,
        ok=sum(o.kind is OutcomeKind.OK for o in outcomes),
        answered=len(answered),
        first_to_last_s=span,
        requests_per_s=len(answered) / span if span > 0 else 0.0,
        latency=Latency.of([o.latency_s for o in answered]),
        errors=dict(sorted(errors.items())),
        error_examples=dict(sorted(examples.items())),
        correctness=correctness,
    )


def _describe(outcome: Outcome) -> str:
    got = f" got {outcome.label!r}" if outcome.kind is OutcomeKind.WRONG_LABEL else ""
    return f"{outcome.image}: {outcome.detail}{got}"


def render_summary(summary: Summary) -> Table:
    table = Table(title=f"loadgen → {summary.url}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    sent = f"{summary.sent} sent of {summary.requested}, concurrency {summary.concurrency}"
    table.add_row("requests", sent)
    if summary.not_sent:
        table.add_row("not sent", f"{summary.not_sent} (total time cap reached)")
    table.add_row("answered", f"{summary.answered}, {summary.ok} ok")
    table.add_row("first → last", f"{summary.first_to_last_s:.3f} s")
    table.add_row("throughput", f"{summary.requests_per_s:.1f} requests/s")
    if summary.latency is not None:
        lat = summary.latency
        table.add_row(
            "latency ms",
            f"p50 {lat.p50:.1f}  p95 {lat.p95:.1f}  p99 {lat.p99:.1f}  "
            f"max {lat.max:.1f}  mean {lat.mean:.1f}",
        )
    if summary.correctness is not None:
        c = summary.correctness
        accuracy = f" ({c.accuracy:.1%})" if c.accuracy is not None else ""
        table.add_row("correct labels", f"{c.correct} of {c.checked} checked{accuracy}")
    for kind, count in summary.errors.items():
        examples = "; ".join(summary.error_examples.get(kind, []))
        table.add_row(f"error: {kind}", f"{count}  [dim]{examples}[/dim]")
    if not summary.errors and not summary.not_sent:
        table.add_row("errors", "none")
    return table
