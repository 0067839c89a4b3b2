"""The worker group's queue-driven scaling, rendered from the ONE `services.elasticity.policy.ScalingPolicy`.

Each rule of `services.elasticity.alarms.alarm_rules(policy)` becomes one CloudWatch alarm + one
EC2 Auto Scaling step policy; every number (thresholds, steps, periods, datapoints, warm-up) comes
from those rules, so `decide()` (local supervisor), the simulator and the cloud follow one definition.

Metrics: `ApproximateNumberOfMessagesVisible` and visible + NotVisible (outstanding), each a
Maximum over `period_seconds` (not CDK's default 5-minute period); the scale-from-zero rule uses
metric math on the group's `GroupDesiredCapacity`, so the ASG needs group metrics enabled.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from services.elasticity.alarms import AlarmRule, alarm_rules
from services.elasticity.policy import ScalingPolicy


@dataclass(frozen=True)
class QueueScaling:
    """The alarms and step policies created by `add_queue_scaling` (e.g. for a dashboard)."""

    scale_from_zero_alarm: cloudwatch.Alarm
    scale_out_alarm: cloudwatch.Alarm
    scale_in_alarm: cloudwatch.Alarm
    scale_from_zero_action: autoscaling.StepScalingAction
    scale_out_action: autoscaling.StepScalingAction
    scale_in_action: autoscaling.StepScalingAction

    @property
    def alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        return (self.scale_from_zero_alarm, self.scale_out_alarm, self.scale_in_alarm)


def cloudwatch_period(policy: ScalingPolicy) -> cdk.Duration:
    """The policy period as a CloudWatch alarm period (10, 30 or a multiple of 60 seconds).

    SQS and Auto Scaling group metrics are published once a minute, so use 60 s or more.
    """
    seconds = policy.period_seconds
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
    """Create the alarms and step scaling policies that make `asg` follow `queue` per `policy`.

    The group's own min/max capacity must be set by its creator (from the same policy).
    """
    period = cloudwatch_period(policy)
    statistic = cloudwatch.Stats.MAXIMUM
    visible = queue.metric_approximate_number_of_messages_visible(period=period, statistic=statistic)
    desired_capacity = cloudwatch.Metric(
        namespace="AWS/AutoScaling",
        metric_name="GroupDesiredCapacity",
        dimensions_map={"AutoScalingGroupName": asg.auto_scaling_group_name},
        period=period,
        statistic=statistic,
    )
    metrics: dict[str, cloudwatch.IMetric] = {
        "visible": visible,
        "outstanding": queue.metric_approximate_number_of_messages_outstanding(
            period=period, statistic=statistic
        ),
        "visible_at_zero": cloudwatch.MathExpression(
            expression="IF(desired < 1, visible, 0)",
            using_metrics={"visible": visible, "desired": desired_capacity},
            label="Visible messages while the group is at zero",
            period=period,
        ),
    }
    rendered = [_render_rule(scope, rule, asg, metrics[rule.metric]) for rule in alarm_rules(policy)]
    (zero_alarm, zero), (out_alarm, out), (in_alarm, in_) = rendered
    return QueueScaling(
        scale_from_zero_alarm=zero_alarm,
        scale_out_alarm=out_alarm,
        scale_in_alarm=in_alarm,
        scale_from_zero_action=zero,
        scale_out_action=out,
        scale_in_action=in_,
    )


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
