"""The worker group's queue-driven scaling, rendered from the ONE `services.elasticity.policy.ScalingPolicy`.

Each rule of `services.elasticity.alarms.deployed_rules(policy)` becomes one CloudWatch alarm + one
EC2 Auto Scaling step policy; every number (thresholds, steps, periods, datapoints, warm-up) comes
from those rules, so `decide()` (local supervisor), the simulator and the cloud follow one definition.

Metrics, each a Maximum over the rule's period (not CDK's default 5-minute period):
- fast (10 s): the depth the web tier publishes at high resolution (`services/web/fast_scaling.py`);
- backstop (60 s): SQS's `ApproximateNumberOfMessagesVisible` and visible + NotVisible; its
  scale-from-zero rule uses metric math on the group's `GroupDesiredCapacity`, so the ASG needs
  group metrics enabled.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from services import metric_names as names
from services.elasticity.alarms import BACKSTOP, FAST, AlarmRule, deployed_rules
from services.elasticity.policy import ScalingPolicy


@dataclass(frozen=True)
class QueueScaling:
    """The alarm and step policy of each rule (by rule name), as `add_queue_scaling` made them."""

    rules: dict[str, tuple[cloudwatch.Alarm, autoscaling.StepScalingAction]]

    @property
    def alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        return tuple(alarm for alarm, _ in self.rules.values())


def cloudwatch_period(seconds: float) -> cdk.Duration:
    """A policy period as a CloudWatch alarm period: 10 or 30 s (high-resolution metrics only) or
    a multiple of 60 s (CloudWatch User Guide, "High-resolution alarms")."""
    if seconds != int(seconds) or not (seconds in (10, 30) or seconds % 60 == 0):
        raise ValueError(f"CloudWatch alarm periods are 10, 30 or a multiple of 60 seconds, got {seconds}")
    return cdk.Duration.seconds(int(seconds))


_COMPARISONS = {
    ">=": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    "<=": cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
}
_ADJUSTMENTS = {
    "ChangeInCapacity": autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
    "ExactCapacity": autoscaling.AdjustmentType.EXACT_CAPACITY,
}


def add_queue_scaling(
    scope: Construct,
    *,
    asg: autoscaling.AutoScalingGroup,
    queue: sqs.IQueue,
    policy: ScalingPolicy,
) -> QueueScaling:
    """Create the alarms and step scaling policies that make `asg` follow `queue` per `policy`:
    the fast set on the web tier's 10 s depth metric, the backstop on SQS's 1-minute metrics.

    The group's own min/max capacity must be set by its creator (from the same policy).
    """
    fast_period = cloudwatch_period(policy.period_seconds)
    backstop_period = cloudwatch_period(policy.backstop_period_seconds)
    statistic = cloudwatch.Stats.MAXIMUM

    def published(metric_name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=names.NAMESPACE,
            metric_name=metric_name,
            dimensions_map={names.QUEUE: queue.queue_name},
            period=fast_period,
            statistic=statistic,
        )

    fast_visible = published(names.QUEUE_VISIBLE)
    visible = queue.metric_approximate_number_of_messages_visible(period=backstop_period, statistic=statistic)
    desired_capacity = cloudwatch.Metric(
        namespace="AWS/AutoScaling",
        metric_name="GroupDesiredCapacity",
        dimensions_map={"AutoScalingGroupName": asg.auto_scaling_group_name},
        period=backstop_period,
        statistic=statistic,
    )
    metrics: dict[str, dict[str, cloudwatch.IMetric]] = {
        FAST: {
            "visible": fast_visible,
            "outstanding": cloudwatch.MathExpression(
                expression="visible + inflight",
                using_metrics={"visible": fast_visible, "inflight": published(names.QUEUE_IN_FLIGHT)},
                label="Visible + in-flight messages (10 s)",
                period=fast_period,
            ),
        },
        BACKSTOP: {
            "visible": visible,
            "outstanding": queue.metric_approximate_number_of_messages_outstanding(
                period=backstop_period, statistic=statistic
            ),
            "visible_at_zero": cloudwatch.MathExpression(
                expression="IF(desired < 1, visible, 0)",
                using_metrics={"visible": visible, "desired": desired_capacity},
                label="Visible messages while the group is at zero",
                period=backstop_period,
            ),
        },
    }
    # The backstop acts only for periods in which the web tier published nothing (it is down, or
    # not deployed): otherwise SQS's late datapoints would undo what the fast path just did.
    web_seen = published(names.QUEUE_VISIBLE).with_(period=backstop_period)

    def gated(rule: AlarmRule, metric: cloudwatch.IMetric) -> cloudwatch.IMetric:
        return cloudwatch.MathExpression(
            expression=rule.backstop_expression(),
            using_metrics={"web": web_seen, "sqs": metric},
            label=f"{rule.name}: SQS while the web tier publishes nothing",
            period=backstop_period,
        )

    rendered = {}
    for source, rules in deployed_rules(policy).items():
        for rule in rules:
            metric = metrics[source][rule.metric]
            rendered[rule.name] = _render_rule(
                scope, rule, asg, gated(rule, metric) if source == BACKSTOP else metric
            )
    return QueueScaling(rendered)


def _render_rule(
    scope: Construct, rule: AlarmRule, asg: autoscaling.AutoScalingGroup, metric: cloudwatch.IMetric
) -> tuple[cloudwatch.Alarm, autoscaling.StepScalingAction]:
    action = autoscaling.StepScalingAction(
        scope,
        f"{rule.name}Policy",
        auto_scaling_group=asg,
        adjustment_type=_ADJUSTMENTS[rule.adjustment_type],
        estimated_instance_warmup=None
        if rule.warmup_seconds is None
        else cdk.Duration.seconds(rule.warmup_seconds),
        metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
    )
    for step in rule.adjustments:
        action.add_adjustment(adjustment=step.change, lower_bound=step.lower, upper_bound=step.upper)
    alarm = cloudwatch.Alarm(
        scope,
        f"{rule.name}Alarm",
        alarm_description=rule.description,
        metric=metric,
        threshold=rule.threshold,
        comparison_operator=_COMPARISONS[rule.comparison],
        evaluation_periods=rule.evaluation_periods,
        datapoints_to_alarm=rule.datapoints_to_alarm,
        # No data is not proof of anything (idleness included): keep the alarm's state.
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cloudwatch_actions.AutoScalingAction(action))
    return alarm, action
