"""Workers follow every deploy: an instance refresh replaces the workers, in service and in the warm pool.

CloudFormation's rolling update replaces InService instances only, "Instances in the warm pool
are not replaced" (CloudFormation template reference, AWS::AutoScaling::WarmPool; 2026-12), and a
launch-template change affects no existing instance. So, on every update that changes the
workers' launch template (its version names this resource), a custom resource starts an instance
refresh, which replaces the warm pool's instances too (EC2 Auto Scaling API reference,
InstanceRefreshWarmPoolProgress). It launches before it terminates (min healthy 100 %, max 200 %),
skips instances already on the new version, and waits for a busy worker's scale-in protection to
end (the worker drops it once its batch is done): no message is lost. Instances enter service
only through the launch hook, so a replacement that cannot serve is abandoned like any other.

Faults it must survive (EC2 Auto Scaling API reference, StartInstanceRefresh: a refresh already
running raises InstanceRefreshInProgress; CloudFormation user guide, custom resources: a rollback
sends an Update with the old properties; 2026-12):
- a refresh still running (a fix-forward minutes later, a worker holding one at `Wait`): it is
  cancelled (CancelInstanceRefresh is asynchronous: the start is retried while it winds down);
- the rollback's Update: never FAILED (that would leave the stack UPDATE_ROLLBACK_FAILED), nor a
  Create (a stack's creation, or this resource's first deploy into an existing stack);
- a refresh that still cannot start: reported as the resource's `Outcome`, never FAILED either;
  a refresh that fails later is told by an EventBridge rule to the alarm topic (`notify_failures`).

Launch-template permissions (EC2 Auto Scaling user guide, "Control Amazon EC2 launch template usage
in Auto Scaling groups" and "Amazon EC2 Auto Scaling API permissions"; 2026-12): ec2:RunInstances
(and iam:PassRole for the instance profile) are checked for the caller that creates or updates a
group *with a launch template*. CloudFormation's deploy role does that; this call passes no
DesiredConfiguration, so it changes no launch template and needs only the refresh actions.
"""

from __future__ import annotations

import json

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.nag import acknowledge, acknowledge_basic_execution
from infra.permissions import group_arn, group_arn_evidence

MAX_HEALTHY_PERCENTAGE = 200  # up to twice the group's instances during a refresh (preflight's vCPU peak)
PREFERENCES = {
    "MinHealthyPercentage": 100,  # launch a replacement before a worker goes
    "MaxHealthyPercentage": MAX_HEALTHY_PERCENTAGE,
    "SkipMatching": True,  # only instances on an older launch template version
    "ScaleInProtectedInstances": "Wait",  # a worker holding messages finishes its batch first
    "StandbyInstances": "Terminate",
}
START_ATTEMPTS = 30  # ... 10 s apart: how long a cancelled refresh may take to wind down
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# Inline (cfnresponse is provided for inline Python functions: CloudFormation user guide,
# "cfn-response module"; 2026-12). tests/infra/test_worker_refresh.py runs it against stand-ins.
HANDLER = """
import json, time
import boto3, cfnresponse
from botocore.exceptions import ClientError

def code(error):
    return error.response["Error"]["Code"]

def refresh(autoscaling, group, preferences, attempts, sleep=time.sleep):
    try:
        autoscaling.cancel_instance_refresh(AutoScalingGroupName=group)
        cancelled = "cancelled the refresh in progress; "
    except ClientError as error:
        if code(error) != "ActiveInstanceRefreshNotFound":
            raise
        cancelled = ""
    for attempt in range(attempts):
        try:
            started = autoscaling.start_instance_refresh(
                AutoScalingGroupName=group, Strategy="Rolling", Preferences=preferences
            )
            return cancelled + "started " + started["InstanceRefreshId"]
        except ClientError as error:
            if code(error) != "InstanceRefreshInProgress":
                raise
            sleep(10)
    return cancelled + "not started: a refresh is still in progress"

def rolling_back(event):
    # A rollback's Update carries the old properties: an older launch template version.
    new, old = event["ResourceProperties"], event.get("OldResourceProperties", {})
    return int(new["Version"]) < int(old.get("Version", new["Version"]))

def handler(event, context):
    props = event["ResourceProperties"]
    outcome = "nothing to do on " + event["RequestType"]
    status = cfnresponse.SUCCESS
    try:
        # Create too: this resource may be new in an existing stack (its first deploy), whose
        # workers run an older version; in a new stack, SkipMatching makes it a no-op.
        if event["RequestType"] in ("Create", "Update"):
            outcome = refresh(
                boto3.client("autoscaling"), props["GroupName"], json.loads(props["Preferences"]),
                int(props["Attempts"]),
            )
    except Exception as error:
        outcome = "refresh failed: " + repr(error)
        forward = event["RequestType"] == "Update" and not rolling_back(event)
        status = cfnresponse.FAILED if forward else cfnresponse.SUCCESS
    print(outcome)
    outcome = outcome[:200]
    cfnresponse.send(event, context, status, {"Outcome": outcome}, props["Version"], reason=outcome)
"""


class WorkerRefresh(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group_name: str,
        launch_template: ec2.LaunchTemplate,
        warmup: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.group_name = group_name
        self.preferences = {**PREFERENCES, "InstanceWarmup": int(warmup.to_seconds())}
        self.log_group = logs.LogGroup(
            self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_inline(HANDLER),
            timeout=Duration.seconds(10 * START_ATTEMPTS + 60),
            log_group=self.log_group,
            description="Starts an instance refresh of the worker group on every deploy",
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["autoscaling:CancelInstanceRefresh", "autoscaling:StartInstanceRefresh"],
                resources=[group_arn(self, group_name)],
            )
        )
        # A new launch template version changes this resource, so the update runs it again.
        self.resource = CustomResource(
            self,
            "Refresh",
            service_token=self.function.function_arn,
            resource_type="Custom::WorkerRefresh",
            properties={
                "GroupName": group_name,
                "Version": launch_template.latest_version_number,
                "Preferences": json.dumps(self.preferences, sort_keys=True),
                "Attempts": str(START_ATTEMPTS),
            },
        )
        role = acknowledge_basic_execution(
            self.function, "what it may call is the separate policy limited to the worker group's refreshes."
        )
        acknowledge(
            role,
            group_arn_evidence(group_name),
            "Cancels and starts instance refreshes of the worker group only; the group ARN's id is "
            "generated at creation, so only that part is a wildcard.",
        )

    def notify_failures(self, topic: sns.ITopic) -> events.Rule:
        """A refresh that fails after the deploy finished is told to `topic` (EventBridge event
        "EC2 Auto Scaling Instance Refresh Failed", its detail naming the group; EC2 Auto Scaling
        user guide, "Amazon EC2 Auto Scaling event reference"; 2026-12): later scale-outs would
        launch the broken version unseen otherwise."""
        return events.Rule(
            self,
            "Failed",
            description="An instance refresh of the worker group failed",
            event_pattern=events.EventPattern(
                source=["aws.autoscaling"],
                detail_type=["EC2 Auto Scaling Instance Refresh Failed"],
                detail={"AutoScalingGroupName": [self.group_name]},
            ),
            targets=[targets.SnsTopic(topic)],
        )
