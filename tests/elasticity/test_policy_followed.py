"""Change nothing but the policy object, and both the cloud and the local tier follow it.

For each policy, the same code renders the CDK stack (alarms + step policies) and drives the
real supervisor (real worker pool of toy processes) through the same queue-depth series. The
expected numbers are written out per policy, so a consumer that ignored the policy would fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from services.elasticity.supervisor import Supervisor
from services.ports.storage import QueueDepth
from tests.elasticity.policies import DEFAULT, MODIFIED
from tests.infra.stacks import queue_scaled_group

# Queue depth (visible) per period: a backlog of 300, then 900, then idle.
SERIES = [0, 300, 300, 900, 900] + [0] * 7


@dataclass(frozen=True)
class Expected:
    asg_capacity: tuple[str, str]  # MinSize, MaxSize of the group
    cloud_steps: list[tuple[int, int | None, int]]  # (lower, upper, change) relative to the threshold
    threshold: int
    idle_periods: int
    local_desired: list[int]  # the supervisor's desired capacity after each period of SERIES


CASES = {
    "default": (
        DEFAULT,
        Expected(
            asg_capacity=("0", "20"),
            cloud_steps=[(0, 4000, 1), (4000, 19000, 3), (19000, None, 6)],
            threshold=1000,
            idle_periods=4,
            local_desired=[0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        ),
    ),
    "modified": (
        MODIFIED,
        Expected(
            asg_capacity=("1", "8"),
            cloud_steps=[(0, 600, 2), (600, None, 4)],
            threshold=200,
            idle_periods=7,
            local_desired=[1, 3, 3, 7, 7, 7, 7, 7, 7, 7, 7, 1],
        ),
    ),
}


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    app = cdk.App()
    stacks = {}
    for name, (policy, _) in CASES.items():
        stack = cdk.Stack(app, name.capitalize())
        queue_scaled_group(stack, policy)
        stacks[name] = stack
    return {name: Template.from_stack(stack) for name, stack in stacks.items()}


def _only(template: Template, kind: str, prefix: str) -> dict[str, Any]:
    found = [r["Properties"] for k, r in template.find_resources(kind).items() if k.startswith(prefix)]
    assert len(found) == 1
    props: dict[str, Any] = found[0]
    return props


class _Series:
    """A queue whose depth follows a script, one sample per period."""

    name = "scripted"

    def __init__(self, visible: list[int]) -> None:
        self._samples = iter(visible)

    def depth(self) -> QueueDepth:
        return QueueDepth(visible=next(self._samples), in_flight=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cloud_alarms_and_local_supervisor_follow_the_same_policy(case, templates, make_pool):
    policy, expected = CASES[case]

    # The cloud: the ASG bounds, the step table and the scale-in window come from the policy.
    template = templates[case]
    group = _only(template, "AWS::AutoScaling::AutoScalingGroup", "Workers")
    assert (group["MinSize"], group["MaxSize"]) == expected.asg_capacity
    steps = _only(template, "AWS::AutoScaling::ScalingPolicy", "ScaleOutPolicy")["StepAdjustments"]
    rendered = sorted(
        (s["MetricIntervalLowerBound"], s.get("MetricIntervalUpperBound"), s["ScalingAdjustment"])
        for s in steps
    )
    assert rendered == expected.cloud_steps
    assert _only(template, "AWS::CloudWatch::Alarm", "ScaleOutAlarm")["Threshold"] == expected.threshold
    assert (
        _only(template, "AWS::CloudWatch::Alarm", "ScaleInAlarm")["EvaluationPeriods"]
        == expected.idle_periods
    )

    # The local tier: the supervisor with the same policy (made local: short period, same maximum).
    local = policy.local(period_seconds=0.05, max_capacity=policy.max_capacity)
    pool = make_pool("drain", "0")
    supervisor = Supervisor(policy=local, queue=_Series(SERIES), pool=pool)  # type: ignore[arg-type]
    desired, running = [], []
    for _ in SERIES:
        record = supervisor.tick()
        assert record is not None
        desired.append(record.desired)
        running.append(record.running)
    assert desired == expected.local_desired
    assert running == desired  # the pool follows every decision at once
