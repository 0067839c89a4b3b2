"""The alarm topic's policy, evaluated (tests/infra/policy_eval.py): CloudWatch alarms and the
refresh-failure rule may publish, over TLS only.

An AWS::SNS::TopicPolicy replaces the topic's default policy: with only the TLS Deny, CloudWatch
may not publish and the alarm history reads "not authorized to perform: SNS:Publish" (SNS
developer guide, "Amazon SNS access control"; 2026-12).
"""

from __future__ import annotations

from typing import Any

from tests.infra.policy_eval import Request, decide, resolved
from tests.infra.rendered import ACCOUNT, deployed
from tests.infra.synthesis import STACK, Synthesized


def topic_policy(synthesized: Synthesized) -> tuple[str, list[dict[str, Any]]]:
    resolver = deployed(synthesized.template, STACK)
    [policy] = synthesized.of_type("AWS::SNS::TopicPolicy").values()
    [topic] = resolved(policy["Properties"]["Topics"], resolver)
    assert topic.startswith("arn:aws:sns:us-east-1:")
    return topic, resolved(policy["Properties"]["PolicyDocument"]["Statement"], resolver)


def test_cloudwatch_alarms_of_this_account_may_publish_to_the_alarm_topic_over_tls(synthesized):
    topic, statements = topic_policy(synthesized)
    alarm = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:ElasticVision-dev-DeadLetters"
    context = {"aws:SecureTransport": "true", "aws:SourceArn": alarm, "aws:SourceAccount": ACCOUNT}

    def publish(service: str, **changes: str) -> str:
        request = Request("sns:Publish", topic, service=service, context={**context, **changes})
        return decide(statements, request, resource_policy=True)

    assert publish("cloudwatch.amazonaws.com") == "Allow"
    assert publish("cloudwatch.amazonaws.com", **{"aws:SecureTransport": "false"}) == "Deny"
    # Another account's alarm (the confused deputy) may not.
    other = "arn:aws:cloudwatch:us-east-1:210987654321:alarm:theirs"
    assert publish(
        "cloudwatch.amazonaws.com", **{"aws:SourceArn": other, "aws:SourceAccount": "210987654321"}
    ) == ("ImplicitDeny")
    assert publish("events.amazonaws.com") == "Allow"  # the worker refresh's failure rule
    assert publish("s3.amazonaws.com") == "ImplicitDeny"


def test_a_failed_worker_refresh_notifies_the_alarm_topic(synthesized):
    [rule] = [
        r
        for r in synthesized.of_type("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("detail-type") == ["EC2 Auto Scaling Instance Refresh Failed"]
    ]
    assert rule["Properties"]["EventPattern"]["detail"] == {"AutoScalingGroupName": [f"{STACK}-workers"]}
    [topic] = synthesized.of_type("AWS::SNS::Topic")
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Ref": topic}]
