"""Dashboard: queue (1 min, and the 10 s depth the fast alarms read), dead letters, group capacity
(desired, in service, warm), worker throughput/latency and web errors."""

from __future__ import annotations

import json

from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from infra.dashboard import Dashboard
from services import metric_names as names


def test_dashboard_shows_every_signal(stack):
    Dashboard(
        stack,
        "Dashboard",
        request_queue=sqs.Queue(stack, "Requests"),
        dead_letter_queue=sqs.Queue(stack, "Dead"),
        worker_group_name="test-workers",
    )
    [dashboard] = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = json.loads(
        "".join(p if isinstance(p, str) else '"TOKEN"' for p in parts).replace('""TOKEN""', '"TOKEN"')
    )
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
        names.HTTP_4XX,
        names.HTTP_5XX,
    } <= names_seen
    # Every metric at 1 minute (not the 5-minute default), but the high-resolution depth at 10 s.
    fast = {names.QUEUE_VISIBLE, names.QUEUE_IN_FLIGHT}
    assert all(m[-1]["period"] == (10 if m[1] in fast else 60) for m in metrics)
    custom = [m for m in metrics if m[0] == names.NAMESPACE and m[1] not in fast]
    assert custom and all(
        m[2:4] == [names.SERVICE, names.WORKER] or m[2:4] == [names.SERVICE, names.WEB] for m in custom
    )
    assert all(m[2] == names.QUEUE for m in metrics if m[1] in fast)


def test_dead_letters_that_stay_raise_an_alarm(stack):
    Dashboard(
        stack,
        "Dashboard",
        request_queue=sqs.Queue(stack, "Requests"),
        dead_letter_queue=sqs.Queue(stack, "Dead"),
        worker_group_name="test-workers",
    )
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    [alarm] = [a["Properties"] for a in alarms.values()]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 1 and alarm["EvaluationPeriods"] == 5 and alarm["Period"] == 60
