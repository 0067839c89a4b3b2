"""One benchmark figure: a throughput, optionally latencies, and what went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.loadgen.report import Latency, Summary


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str  # e.g. "bare model", "worker loop", "HTTP local c=32"
    images: int  # measured images (warm-up excluded)
    seconds: float
    latency: Latency | None = None  # per-image milliseconds, where meaningful
    errors: dict[str, int] = field(default_factory=dict)
    checked: int = 0  # answers compared with an expected label
    correct: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    @property
    def reference_images_per_s(self) -> float | None:
        """The bare rate measured right before and after this stage, if it was."""
        value = self.notes.get("bare_images_per_s_adjacent")
        return float(value) if value is not None else None

    @classmethod
    def from_summary(cls, name: str, summary: Summary, **notes: Any) -> Measurement:
        correctness = summary.correctness
        return cls(
            name=name,
            images=summary.answered,
            seconds=summary.first_to_last_s,
            latency=summary.latency,
            errors={**summary.errors, **({"not_sent": summary.not_sent} if summary.not_sent else {})},
            checked=correctness.checked if correctness else 0,
            correct=correctness.correct if correctness else 0,
            notes={"concurrency": summary.concurrency, **notes},
        )
