"""Queues: the request queue redrives to the DLQ after max_receives; all SSE, TLS-only, long polling."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from infra.queues import Queues


def test_queues(stack):
    queues = Queues(stack, "Queues", max_receives=4, visibility_timeout=cdk.Duration.seconds(75))
    template = Template.from_stack(stack)
    resources = template.to_json()["Resources"]

    def props(queue: sqs.Queue) -> dict[str, Any]:
        child = queue.node.default_child
        assert isinstance(child, cdk.CfnElement)
        properties: dict[str, Any] = resources[stack.resolve(stack.get_logical_id(child))]["Properties"]
        return properties

    for live, dead_letters in (
        (queues.request_queue, queues.dead_letter_queue),
        (queues.job_queue, queues.job_dead_letter_queue),
    ):
        request, dead = props(live), props(dead_letters)
        dlq_id = stack.resolve(stack.get_logical_id(dead_letters.node.default_child))
        assert request["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": 4,
        }
        assert request["VisibilityTimeout"] == 75
        assert dead["MessageRetentionPeriod"] == 14 * 24 * 3600
        for queue in (request, dead):
            assert queue["SqsManagedSseEnabled"] is True
            assert queue["ReceiveMessageWaitTimeSeconds"] == 20

    policies = template.find_resources("AWS::SQS::QueuePolicy")
    assert len(policies) == 4  # reply queues are made at run time, one per web process
    template.all_resources_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )
