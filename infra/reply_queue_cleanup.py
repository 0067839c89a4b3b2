"""`cdk destroy` leaves no reply queue behind: they are made at run time, so the stack never owned them.

Every web process deletes its own reply queue when it stops, but a process that dies leaves its
queue for the others to sweep, and with the stack gone no process is left. A custom resource
deletes every queue of the stack's reply prefix when it is itself deleted. The web group depends
on it, so CloudFormation deletes the group (its processes stopping, their queues deleted) first
and this last.
"""

from __future__ import annotations

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge, acknowledge_basic_execution
from infra.permissions import reply_queues_arn

# Inline code: `cfnresponse` is there for inline Python functions (AWS CloudFormation user guide,
# "cfn-response module"; 2026-12). Nothing is done on create or update.
HANDLER = """
import boto3, cfnresponse

def handler(event, context):
    deleted = 0
    try:
        if event["RequestType"] == "Delete":
            sqs = boto3.client("sqs")
            prefix = event["ResourceProperties"]["Prefix"] + "-"
            for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix):
                for url in page.get("QueueUrls", []):
                    sqs.delete_queue(QueueUrl=url)
                    deleted += 1
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {"Deleted": deleted}, "reply-queues")
    except Exception as error:
        print(f"could not delete the reply queues: {error!r}")
        cfnresponse.send(event, context, cfnresponse.FAILED, {"Deleted": deleted}, "reply-queues")
"""


class ReplyQueueCleanup(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str) -> None:
        super().__init__(scope, construct_id)
        # Its own log group, with a retention (Lambda's default group keeps logs for ever).
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.function = lambda_.Function(
            self,
            "Function",
            log_group=self.log_group,
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_inline(HANDLER),
            timeout=Duration.minutes(5),
            description="Deletes the stack's run-time reply queues when the stack is deleted",
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:DeleteQueue"], resources=[reply_queues_arn(self, prefix)])
        )
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["sqs:ListQueues"], resources=["*"]))
        self.resource = CustomResource(
            self, "Resource", service_token=self.function.function_arn, properties={"Prefix": prefix}
        )
        role = acknowledge_basic_execution(
            self.function, "what it may delete is the separate policy limited to the stack's reply queues."
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "sqs:ListQueues supports no resource-level permissions (Service Authorization Reference, "
            "Amazon SQS); DeleteQueue is limited to the stack's reply prefix.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:{prefix}-*]",
            "Reply queues are made at run time with random suffixes: only the prefix is known.",
        )
