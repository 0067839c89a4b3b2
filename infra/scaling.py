"""The worker group's queue-driven scaling, rendered from the ONE `services.elasticity.policy.ScalingPolicy`.

Each rule of the policy becomes one CloudWatch alarm + one EC2 Auto Scaling step policy; every
number (thresholds, steps, periods, datapoints, warm-up, capacities) is read from the policy object,
so `services.elasticity.policy.decide()` (local supervisor, tests) and the cloud follow the same definition.

- scale from zero: metric math `IF(GroupDesiredCapacity < 1, visible, 0) >= 1`, 1 of 1 periods ->
  +scale_from_zero_to. A change (not exact capacity) so that a misfire can only add, never remove.
  Needs the group's `GroupDesiredCapacity` metric: create the ASG with group metrics enabled.
- scale out: `ApproximateNumberOfMessagesVisible` (Maximum over `period_seconds`, not CDK's default
  5-minute period) >= the first step's lower bound, M of N periods -> the step table as
  ChangeInCapacity adjustments, with the policy's warm-up.
- scale in: `ApproximateNumberOfMessagesVisible + NotVisible` (outstanding) <= 0 for K of K
  periods -> ExactCapacity `idle_capacity`.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

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
    warmup = cdk.Duration.seconds(int(policy.warmup_periods * policy.period_seconds))
    statistic = cloudwatch.Stats.MAXIMUM
    visible = queue.metric_approximate_number_of_messages_visible(period=period, statistic=statistic)
    outstanding = queue.metric_approximate_number_of_messages_outstanding(period=period, statistic=statistic)
    desired_capacity = cloudwatch.Metric(
        namespace="AWS/AutoScaling",
        metric_name="GroupDesiredCapacity",
        dimensions_map={"AutoScalingGroupName": asg.auto_scaling_group_name},
        period=period,
        statistic=statistic,
    )

    from_zero = autoscaling.StepScalingAction(
        scope,
        "ScaleFromZeroPolicy",
        auto_scaling_group=asg,
        adjustment_type=autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        estimated_instance_warmup=warmup,
        metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
    )
    from_zero.add_adjustment(adjustment=policy.scale_from_zero_to, lower_bound=0)
    from_zero_alarm = cloudwatch.Alarm(
        scope,
        "ScaleFromZeroAlarm",
        alarm_description="Messages are waiting and the worker group has no capacity: start workers.",
        metric=cloudwatch.MathExpression(
            expression="IF(desired < 1, visible, 0)",
            using_metrics={"visible": visible, "desired": desired_capacity},
            label="Visible messages while the group is at zero",
            period=period,
        ),
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    from_zero_alarm.add_alarm_action(cloudwatch_actions.AutoScalingAction(from_zero))

    threshold = policy.scale_out_threshold
    scale_out = autoscaling.StepScalingAction(
        scope,
        "ScaleOutPolicy",
        auto_scaling_group=asg,
        adjustment_type=autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        estimated_instance_warmup=warmup,
        metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
    )
    for step in policy.scale_out_steps:  # bounds are relative to the alarm threshold
        scale_out.add_adjustment(
            adjustment=step.change,
            lower_bound=step.lower - threshold,
            upper_bound=None if step.upper is None else step.upper - threshold,
        )
    scale_out_alarm = cloudwatch.Alarm(
        scope,
        "ScaleOutAlarm",
        alarm_description="Backlog of visible messages larger than the workers clear in time: add workers.",
        metric=visible,
        threshold=threshold,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=policy.scale_out_evaluation_periods,
        datapoints_to_alarm=policy.scale_out_datapoints_to_alarm,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    scale_out_alarm.add_alarm_action(cloudwatch_actions.AutoScalingAction(scale_out))

    scale_in = autoscaling.StepScalingAction(
        scope,
        "ScaleInPolicy",
        auto_scaling_group=asg,
        adjustment_type=autoscaling.AdjustmentType.EXACT_CAPACITY,
        metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
    )
    scale_in.add_adjustment(adjustment=policy.idle_capacity, upper_bound=0)
    scale_in_alarm = cloudwatch.Alarm(
        scope,
        "ScaleInAlarm",
        alarm_description="No visible and no in-flight messages for K periods: shrink to idle capacity.",
        metric=outstanding,
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=policy.scale_in_idle_periods,
        datapoints_to_alarm=policy.scale_in_idle_periods,
        # No data is not proof of idleness: keep the alarm's state rather than terminate workers.
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    scale_in_alarm.add_alarm_action(cloudwatch_actions.AutoScalingAction(scale_in))

    return QueueScaling(
        scale_from_zero_alarm=from_zero_alarm,
        scale_out_alarm=scale_out_alarm,
        scale_in_alarm=scale_in_alarm,
        scale_from_zero_action=from_zero,
        scale_out_action=scale_out,
        scale_in_action=scale_in,
    )
