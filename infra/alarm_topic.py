"""Where the alarms notify: one SNS topic, with an optional e-mail subscription (context `alarmEmail`)."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.nag import acknowledge


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="Elastic Vision alarms", enforce_ssl=True)
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
