"""The CloudWatch alarms and step policies follow the ONE scaling policy object, and so does decide()."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.scaling import cloudwatch_period
from services.elasticity.policy import Sample, ScalingPolicy, decide
from tests.elasticity import policies
from tests.elasticity.policies import DEFAULT
from tests.infra.stacks import queue_scaled_group

MODIFIED = replace(policies.MODIFIED, period_seconds=30, backstop_period_seconds=120)


@dataclass
class Rendered:
    template: Template
    queue_id: str
    asg_id: str


def build(app: cdk.App, name: str, policy: ScalingPolicy) -> tuple[cdk.Stack, str, str]:
    """A bare stack: a public-subnet VPC, a small ASG and a queue, scaled by `policy`."""
    stack = cdk.Stack(app, name)
    asg, queue = queue_scaled_group(stack, policy)
    queue_id = stack.get_logical_id(queue.node.default_child)  # type: ignore[arg-type]
    asg_id = stack.get_logical_id(asg.node.default_child)  # type: ignore[arg-type]
    return stack, queue_id, asg_id


@pytest.fixture(scope="module")
def rendered() -> dict[str, Rendered]:
    # Both stacks in one app, built before the (single) synthesis.
    app = cdk.App()
    built = {"default": build(app, "Default", DEFAULT), "modified": build(app, "Modified", MODIFIED)}
    return {
        name: Rendered(template=Template.from_stack(stack), queue_id=queue_id, asg_id=asg_id)
        for name, (stack, queue_id, asg_id) in built.items()
    }


def one(template: Template, kind: str, logical_prefix: str) -> tuple[str, Any]:
    matches = {k: v for k, v in template.find_resources(kind).items() if k.startswith(logical_prefix)}
    assert len(matches) == 1, f"{kind} {logical_prefix}: {sorted(template.find_resources(kind))}"
    return next(iter(matches.items()))


def alarm_props(r: Rendered, name: str) -> dict[str, Any]:
    _, alarm = one(r.template, "AWS::CloudWatch::Alarm", name)
    props: dict[str, Any] = alarm["Properties"]
    return props


def policy_props(r: Rendered, name: str) -> tuple[str, dict[str, Any]]:
    logical_id, resource = one(r.template, "AWS::AutoScaling::ScalingPolicy", name)
    return logical_id, resource["Properties"]


# (namespace, visible metric, in-flight metric) of each set's queue depth
SOURCES = {
    "": ("ElasticVision", "QueueVisibleMessages", "QueueInFlightMessages"),
    "Backstop": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"),
}


def stats(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every metric an alarm reads, by name: its one metric, or the inputs of its metric math."""
    if "MetricName" in alarm:
        return {
            alarm["MetricName"]: {
                "Metric": {k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions")},
                "Period": alarm["Period"],
                "Stat": alarm["Statistic"],
            }
        }
    return {
        m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }


def returned(alarm: dict[str, Any]) -> str | None:
    """The expression whose value the alarm compares (None for a one-metric alarm)."""
    [found] = [m for m in alarm.get("Metrics", [{"ReturnData": True}]) if m.get("ReturnData", True)]
    expression: str | None = found.get("Expression")
    return expression


def check_gate(alarm: dict[str, Any], prefix: str) -> None:
    """The backstop reads SQS only while the web tier's metric has no datapoint."""
    expression = returned(alarm)
    if prefix:
        # SQS filled before IF: IF makes a missing value 0, which a scale-in alarm reads as idle.
        assert expression is not None and expression.startswith("IF(FILL(web, -1) < 0, FILL(sqs, "), (
            expression
        )
        assert stats(alarm)["QueueVisibleMessages"]["Metric"]["Namespace"] == "ElasticVision"


def check_rendering(r: Rendered, policy: ScalingPolicy) -> None:
    check_set(r, policy, "", int(policy.period_seconds))
    check_set(r, policy, "Backstop", int(policy.backstop_period_seconds))


def check_set(r: Rendered, policy: ScalingPolicy, prefix: str, period: int) -> None:
    namespace, visible_name, in_flight_name = SOURCES[prefix]
    warmup = int(policy.warmup_periods * period)
    asg_ref = {"Ref": r.asg_id}
    threshold = policy.scale_out_threshold

    # Scale out: visible messages, the set's period and M of N, steps relative to the threshold.
    out_id, out = policy_props(r, f"{prefix}ScaleOutPolicy")
    assert out["PolicyType"] == "StepScaling"
    assert out["AdjustmentType"] == "ChangeInCapacity"
    assert out["AutoScalingGroupName"] == asg_ref
    assert out["EstimatedInstanceWarmup"] == warmup
    expected_steps = [
        {
            "MetricIntervalLowerBound": step.lower - threshold,
            **({} if step.upper is None else {"MetricIntervalUpperBound": step.upper - threshold}),
            "ScalingAdjustment": step.change,
        }
        for step in policy.scale_out_steps
    ]
    assert sorted(out["StepAdjustments"], key=lambda s: s["MetricIntervalLowerBound"]) == expected_steps
    alarm = alarm_props(r, f"{prefix}ScaleOutAlarm")
    check_gate(alarm, prefix)
    visible = stats(alarm)[visible_name]
    assert visible["Metric"]["Namespace"] == namespace
    assert visible["Metric"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [r.queue_id, "QueueName"]}}
    ]
    assert all(m["Stat"] == "Maximum" and m["Period"] == period for m in stats(alarm).values())
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == policy.scale_out_evaluation_periods
    assert alarm["DatapointsToAlarm"] == policy.scale_out_datapoints_to_alarm
    assert alarm["AlarmActions"] == [{"Ref": out_id}]

    # Scale in: visible + in-flight <= 0 for K of K periods -> exact idle capacity.
    in_id, scale_in = policy_props(r, f"{prefix}ScaleInPolicy")
    assert scale_in["AdjustmentType"] == "ExactCapacity"
    assert scale_in["StepAdjustments"] == [
        {"MetricIntervalUpperBound": 0, "ScalingAdjustment": policy.idle_capacity}
    ]
    alarm = alarm_props(r, f"{prefix}ScaleInAlarm")
    check_gate(alarm, prefix)
    # Rendered as metric math: visible + not visible (inside the gate, for the backstop).
    assert any("+" in m.get("Expression", "") for m in alarm["Metrics"])
    assert {visible_name, in_flight_name} <= set(stats(alarm))
    assert all(m["Period"] == period and m["Stat"] == "Maximum" for m in stats(alarm).values())
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == policy.scale_in_idle_periods
    assert alarm["DatapointsToAlarm"] == policy.scale_in_idle_periods
    assert alarm["AlarmActions"] == [{"Ref": in_id}]

    if not prefix:  # the fast set has no scale-from-zero alarm: the web tier activates the group
        assert not [
            k for k in r.template.find_resources("AWS::CloudWatch::Alarm") if k.startswith("ScaleFromZero")
        ]
        return
    # Scale from zero: visible messages while the group's desired capacity is 0, one datapoint.
    zero_id, zero = policy_props(r, f"{prefix}ScaleFromZeroPolicy")
    assert zero["AdjustmentType"] == "ChangeInCapacity"
    assert zero["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": policy.scale_from_zero_to}
    ]
    alarm = alarm_props(r, f"{prefix}ScaleFromZeroAlarm")
    check_gate(alarm, prefix)
    assert any(m.get("Expression", "").startswith("IF(desired < 1") for m in alarm["Metrics"])
    inputs = stats(alarm)
    assert set(inputs) == {
        "ApproximateNumberOfMessagesVisible",
        "GroupDesiredCapacity",
        "QueueVisibleMessages",
    }
    assert inputs["GroupDesiredCapacity"]["Metric"]["Dimensions"] == [
        {"Name": "AutoScalingGroupName", "Value": asg_ref}
    ]
    assert all(s["Period"] == period for s in inputs.values())
    assert alarm["Threshold"] == 1
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["AlarmActions"] == [{"Ref": zero_id}]


def test_default_policy_renders_10_s_alarms_a_one_minute_backstop_and_its_step_table(rendered):
    # The numbers a reviewer expects from the docs, not only "whatever the policy says".
    r = rendered["default"]
    assert alarm_props(r, "ScaleOutAlarm")["Period"] == 10
    assert {m["Period"] for m in stats(alarm_props(r, "BackstopScaleOutAlarm")).values()} == {60}
    assert alarm_props(r, "ScaleOutAlarm")["Threshold"] == 1000
    _, out = policy_props(r, "ScaleOutPolicy")
    assert [s["ScalingAdjustment"] for s in out["StepAdjustments"]] == [1, 3, 6]
    check_rendering(r, DEFAULT)


def test_five_alarms_and_five_policies_and_nothing_else(rendered):
    # fast: scale out, scale in; backstop: scale from zero, scale out, scale in
    for r in rendered.values():
        r.template.resource_count_is("AWS::CloudWatch::Alarm", 5)
        r.template.resource_count_is("AWS::AutoScaling::ScalingPolicy", 5)


def test_changing_only_the_policy_moves_the_template_and_decide(rendered):
    r = rendered["modified"]
    check_rendering(r, MODIFIED)
    assert alarm_props(r, "ScaleOutAlarm")["Threshold"] == 200
    assert alarm_props(r, "ScaleOutAlarm")["Period"] == 30
    assert {m["Period"] for m in stats(alarm_props(r, "BackstopScaleOutAlarm")).values()} == {120}
    assert alarm_props(r, "ScaleInAlarm")["EvaluationPeriods"] == 7
    # decide() (the local supervisor's rule) follows the same object: 200 visible in 1 of 2
    # periods now adds 2; under the default policy it does nothing.
    assert decide(MODIFIED, [Sample(200, 0)], current=1).desired == 3
    assert decide(DEFAULT, [Sample(200, 0)], current=1).desired == 1
    idle = [Sample(0, 0)] * 7
    assert decide(MODIFIED, idle[:6], current=5).desired == 5
    assert decide(MODIFIED, idle, current=5).desired == MODIFIED.idle_capacity == 1


def test_periods_cloudwatch_cannot_express_are_rejected():
    assert cloudwatch_period(DEFAULT.period_seconds).to_seconds() == 10
    assert cloudwatch_period(DEFAULT.backstop_period_seconds).to_seconds() == 60
    with pytest.raises(ValueError, match="multiple of 60"):
        cloudwatch_period(DEFAULT.local().period_seconds)
    with pytest.raises(ValueError, match="multiple of 60"):
        cloudwatch_period(90)


def test_the_rendering_check_tells_the_two_policies_apart(rendered):
    # Guards the checks above: a template built from one policy does not pass for the other.
    with pytest.raises(AssertionError):
        check_rendering(rendered["default"], MODIFIED)
    with pytest.raises(AssertionError):
        check_rendering(rendered["modified"], DEFAULT)
