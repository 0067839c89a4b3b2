"""Dashboard: queue (1 min, and the 10 s depth the fast alarms read), dead letters, group capacity
(desired, in service, warm), worker throughput/latency, and the front door (requests, the web's
4xx/5xx, latency); every metric a widget reads has a publisher."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from infra.dashboard import Dashboard, FrontDoorMetrics
from services import metric_names as names
from tests.infra.stacks import public_vpc

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def template(stack: cdk.Stack) -> dict[str, Any]:
    """The dashboard (with a front door) and its alarm, synthesized once per test."""
    vpc = public_vpc(stack, max_azs=2)
    load_balancer = elbv2.ApplicationLoadBalancer(stack, "Lb", vpc=vpc)
    targets = elbv2.ApplicationTargetGroup(stack, "Targets", vpc=vpc, port=80)
    load_balancer.add_listener("Http", port=80, default_target_groups=[targets])
    Dashboard(
        stack,
        "Dashboard",
        request_queue=sqs.Queue(stack, "Requests"),
        dead_letter_queue=sqs.Queue(stack, "Dead"),
        worker_group_name="test-workers",
        front_door=FrontDoorMetrics(load_balancer=load_balancer, target_group=targets, web_group_name="web"),
    )
    resources: dict[str, Any] = Template.from_stack(stack).to_json()["Resources"]
    return resources


def test_dashboard_shows_every_signal(template):
    [dashboard] = [r for r in template.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    # Tokens (resolved by CloudFormation) sit inside JSON strings or stand as values of their own.
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    body = json.loads(re.sub(r"(?<=[,\[:])TOKEN(?=[,\]}])", '"TOKEN"', text))
    metrics = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    names_seen = {m[1] for m in metrics}
    assert {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
        "GroupDesiredCapacity",
        "GroupInServiceInstances",
        "WarmPoolWarmedCapacity",
        names.QUEUE_VISIBLE,
        names.QUEUE_IN_FLIGHT,
        names.IMAGES_PROCESSED,
        names.BATCH_LATENCY,
        names.IMAGE_LATENCY,
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
        "TargetResponseTime",
        "HealthyHostCount",
    } <= names_seen
    # Every metric at 1 minute (not the 5-minute default), but the high-resolution depth at 10 s.
    fast = {names.QUEUE_VISIBLE, names.QUEUE_IN_FLIGHT}
    assert all(m[-1]["period"] == (10 if m[1] in fast else 60) for m in metrics)
    custom = [m for m in metrics if m[0] == names.NAMESPACE and m[1] not in fast]
    assert custom and all(
        m[2:4] == [names.SERVICE, names.WORKER] or m[2:4] == [names.SERVICE, names.WEB] for m in custom
    )
    assert all(m[2] == names.QUEUE for m in metrics if m[1] in fast)
    # Every metric has a publisher: AWS's own namespaces, or ours, published by the aws adapter.
    assert {m[0] for m in metrics} <= {"AWS/SQS", "AWS/AutoScaling", "AWS/ApplicationELB", names.NAMESPACE}
    for metric in {m[1] for m in metrics if m[0] == names.NAMESPACE}:
        assert metric in PUBLISHED, f"{metric}: a dashboard widget reads it, nothing publishes it"


def _published() -> set[str]:
    """Our metric names that an aws adapter module calling PutMetricData names (`names.X`)."""
    constants = {k: v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    found = set()
    for source in (ROOT / "services" / "adapters" / "aws").glob("*.py"):
        text = source.read_text()
        if "put_metric_data" in text:
            found |= {constants[c] for c in re.findall(r"names\.([A-Z_]+)", text) if c in constants}
    return found


PUBLISHED = _published()


def test_the_publishers_are_found() -> None:
    """The cross-check above reads real publishers: the worker's metrics and the web's depth."""
    expected = {
        names.IMAGES_PROCESSED,
        names.BATCH_LATENCY,
        names.IMAGE_LATENCY,
        names.QUEUE_VISIBLE,
        names.QUEUE_IN_FLIGHT,
    }
    assert expected <= PUBLISHED


def test_dead_letters_that_stay_raise_an_alarm(template):
    [alarm] = [r["Properties"] for r in template.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 1 and alarm["EvaluationPeriods"] == 5 and alarm["Period"] == 60
