"""Where the alarms notify: one SNS topic, with an optional e-mail subscription (context `alarmEmail`)."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.nag import acknowledge


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="Elastic Vision alarms", enforce_ssl=True)
        # The topic policy (the TLS Deny of enforce_ssl) replaces the default policy, so CloudWatch
        # may publish only if allowed here; this account's alarms only (SNS developer guide,
        # "Amazon SNS access control", and CloudWatch user guide, "Using Amazon CloudWatch alarms":
        # the topic policy must allow cloudwatch.amazonaws.com to publish; 2026-12).
        alarms_of_this_account = f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm"
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": f"{alarms_of_this_account}:*"},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        if email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry an alarm's name and state, no data; CloudWatch alarms cannot "
            "publish to a topic encrypted with the AWS managed SNS key, and a customer key costs $1 a month.",
        )

    def notify(self, alarm: cloudwatch.Alarm) -> None:
        """Send `alarm`'s changes into and out of ALARM to the topic."""
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
