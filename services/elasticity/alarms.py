"""The ONE policy as the cloud runs it: one CloudWatch alarm + one step scaling policy per rule.

`alarm_rules(policy)` is data that `infra/scaling.py` renders into CloudFormation and that the
simulator evaluates, so both read the same thresholds, periods, datapoints and adjustments.

- scale from zero: `IF(GroupDesiredCapacity < 1, visible, 0) >= 1`, 1 of 1 periods ->
  +scale_from_zero_to. A change (not exact capacity) so that a misfire can only add, never remove.
- scale out: visible messages (Maximum per period) >= the first step's lower bound, M of N
  periods -> the step table as ChangeInCapacity adjustments, with the policy's warm-up.
- scale in: visible + in flight (outstanding) <= 0 for K of K periods -> ExactCapacity
  `idle_capacity`.

Step bounds are relative to the alarm threshold, as EC2 Auto Scaling step policies define them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from services.elasticity.metric_math import Const, Expr, Fill, If, Less, Metric
from services.elasticity.policy import ScalingPolicy

# What an alarm watches: visible messages, visible + in flight, or visible while the group is at 0.
AlarmMetric = Literal["visible", "outstanding", "visible_at_zero"]
Comparison = Literal[">=", "<="]
AdjustmentType = Literal["ChangeInCapacity", "ExactCapacity"]


@dataclass(frozen=True, slots=True)
class StepAdjustment:
    change: int
    lower: float | None = None  # relative to the threshold; None: unbounded
    upper: float | None = None


@dataclass(frozen=True, slots=True)
class AlarmRule:
    name: str  # "ScaleFromZero": CloudFormation ids "<name>Alarm" and "<name>Policy"
    description: str
    metric: AlarmMetric
    period_seconds: float
    threshold: float
    comparison: Comparison
    evaluation_periods: int
    datapoints_to_alarm: int
    adjustment_type: AdjustmentType
    adjustments: tuple[StepAdjustment, ...]
    warmup_seconds: int | None  # None: the group's default (only adding rules wait for warm-up)
    statistic: Literal["Maximum"] = "Maximum"

    def breaches(self, value: float) -> bool:
        return value >= self.threshold if self.comparison == ">=" else value <= self.threshold

    @property
    def neutral(self) -> float:
        """A value one short of breaching: what a muted period reads."""
        return self.threshold - 1 if self.comparison == ">=" else self.threshold + 1

    def backstop(self) -> Expr:
        """The backstop's metric math: SQS's value (`sqs`) only in periods in which the web tier
        published no depth (`web`), else `neutral`. SQS is filled with `neutral` first: IF makes
        a missing value 0 (metric_math.py), and SQS's datapoints arrive minutes late, so the
        latest periods would read 0 - "idle" to the scale-in rule - without it."""
        neutral = self.neutral
        return If(Less(Fill(Metric("web"), -1), Const(0)), Fill(Metric("sqs"), neutral), Const(neutral))

    def backstop_expression(self) -> str:
        """The expression infra renders; the simulator evaluates the same tree (`gated`)."""
        return self.backstop().render()

    def gated(self, sqs: Sequence[float | None], web: Sequence[float | None]) -> list[float | None]:
        """`backstop` over periods: None where a metric has no datapoint."""
        return self.backstop().evaluate({"sqs": sqs, "web": web})

    def adjustment_for(self, value: float) -> StepAdjustment | None:
        """The step the metric's value falls in.

        Above the threshold a lower bound is inclusive and an upper one exclusive; below it, the
        other way round (EC2 Auto Scaling API reference, StepAdjustment).
        """
        offset = value - self.threshold
        above = self.comparison == ">="
        for step in self.adjustments:
            low_ok = step.lower is None or (offset >= step.lower if above else offset > step.lower)
            high_ok = step.upper is None or (offset < step.upper if above else offset <= step.upper)
            if low_ok and high_ok:
                return step
        return None


def alarm_rules(
    policy: ScalingPolicy, *, period_seconds: float | None = None, prefix: str = ""
) -> tuple[AlarmRule, ...]:
    """The policy's three rules at `period_seconds` (default: the policy's own period)."""
    period = policy.period_seconds if period_seconds is None else period_seconds
    warmup = int(policy.warmup_periods * period)
    threshold = policy.scale_out_threshold
    scale_out = AlarmRule(
        name="ScaleOut",
        description="Backlog of visible messages larger than the workers clear in time: add workers.",
        metric="visible",
        period_seconds=period,
        threshold=threshold,
        comparison=">=",
        evaluation_periods=policy.scale_out_evaluation_periods,
        datapoints_to_alarm=policy.scale_out_datapoints_to_alarm,
        adjustment_type="ChangeInCapacity",
        adjustments=tuple(
            StepAdjustment(
                change=step.change,
                lower=step.lower - threshold,
                upper=None if step.upper is None else step.upper - threshold,
            )
            for step in policy.scale_out_steps
        ),
        warmup_seconds=warmup,
    )
    # The other two differ from it in these fields only.
    from_zero = replace(
        scale_out,
        name="ScaleFromZero",
        description="Messages are waiting and the worker group has no capacity: start workers.",
        metric="visible_at_zero",
        threshold=1,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        adjustments=(StepAdjustment(change=policy.scale_from_zero_to, lower=0),),
    )
    scale_in = replace(
        scale_out,
        name="ScaleIn",
        description="No visible and no in-flight messages for K periods: shrink to idle capacity.",
        metric="outstanding",
        threshold=0,
        comparison="<=",
        evaluation_periods=policy.scale_in_idle_periods,
        datapoints_to_alarm=policy.scale_in_idle_periods,
        adjustment_type="ExactCapacity",
        adjustments=(StepAdjustment(change=policy.idle_capacity, upper=0),),
        warmup_seconds=None,
    )
    rules = (from_zero, scale_out, scale_in)
    return tuple(replace(rule, name=prefix + rule.name) for rule in rules)


# The deployed stack's two sets (what infra/scaling.py renders and the simulator evaluates):
# - fast: the high-resolution depth the web tier publishes every 10 s. No scale-from-zero alarm
#   there: the web tier activates the group itself on the first upload (GroupDesiredCapacity, the
#   metric that rule needs, is a 1-minute metric).
# - backstop: SQS's own 1-minute metrics, all three rules, should the web tier not publish.
FAST = "fast"
BACKSTOP = "backstop"


def deployed_rules(policy: ScalingPolicy) -> dict[str, tuple[AlarmRule, ...]]:
    fast = tuple(rule for rule in alarm_rules(policy) if rule.name != "ScaleFromZero")
    backstop = alarm_rules(policy, period_seconds=policy.backstop_period_seconds, prefix="Backstop")
    return {FAST: fast, BACKSTOP: backstop}
