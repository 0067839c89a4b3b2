"""The few CloudWatch metric-math functions the alarms use, as one tree that renders the expression
infra deploys and evaluates it the way CloudWatch does, period by period, for the simulator.

Semantics (CloudWatch User Guide, "Metric math syntax and functions", 2026-12; FIELD-NOTES):
- a metric's period with no datapoint is missing (None);
- `FILL(m, v)` gives `v` where `m` is missing;
- `a < b` is 1 or 0 where both are present;
- `IF(condition, t, f)` yields a value at every period of `condition`: `t` where it is non-zero,
  `f` where it is zero, and **0 where the branch chosen has no datapoint** (IF turns a missing
  time-series value into 0, not into missing data).
The last rule is why the backstop fills SQS's metric before IF: a 0 where SQS's late datapoint
has not arrived yet would read "idle" to a scale-in alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Series = Sequence[float | None]


class Expr:
    def render(self) -> str:
        raise NotImplementedError

    def evaluate(self, metrics: Mapping[str, Series]) -> list[float | None]:
        raise NotImplementedError


def _length(metrics: Mapping[str, Series]) -> int:
    return len(next(iter(metrics.values())))


@dataclass(frozen=True)
class Metric(Expr):
    id: str

    def render(self) -> str:
        return self.id

    def evaluate(self, metrics: Mapping[str, Series]) -> list[float | None]:
        return list(metrics[self.id])


@dataclass(frozen=True)
class Const(Expr):
    value: float

    def render(self) -> str:
        return f"{self.value:g}"

    def evaluate(self, metrics: Mapping[str, Series]) -> list[float | None]:
        return [self.value] * _length(metrics)


@dataclass(frozen=True)
class Fill(Expr):
    metric: Expr
    value: float

    def render(self) -> str:
        return f"FILL({self.metric.render()}, {self.value:g})"

    def evaluate(self, metrics: Mapping[str, Series]) -> list[float | None]:
        return [self.value if v is None else v for v in self.metric.evaluate(metrics)]


@dataclass(frozen=True)
class Less(Expr):
    left: Expr
    right: Expr

    def render(self) -> str:
        return f"{self.left.render()} < {self.right.render()}"

    def evaluate(self, metrics: Mapping[str, Series]) -> list[float | None]:
        pairs = zip(self.left.evaluate(metrics), self.right.evaluate(metrics), strict=True)
        return [None if a is None or b is None else float(a < b) for a, b in pairs]


@dataclass(frozen=True)
class If(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr

    def render(self) -> str:
        return f"IF({self.condition.render()}, {self.then.render()}, {self.otherwise.render()})"

    def evaluate(self, metrics: Mapping[str, Series]) -> list[float | None]:
        result: list[float | None] = []
        then, otherwise = self.then.evaluate(metrics), self.otherwise.evaluate(metrics)
        for c, t, f in zip(self.condition.evaluate(metrics), then, otherwise, strict=True):
            if c is None:
                result.append(None)
            else:
                chosen = t if c else f
                result.append(0.0 if chosen is None else chosen)
        return result
