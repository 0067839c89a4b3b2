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
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.nag import acknowledge
from infra.permissions import group_arn, group_arn_evidence

SDK_CALL_FUNCTION = "AWS679f53fac002430cb0da5b7982bd2287"  # CDK's id for AwsCustomResource's function
PREFERENCES = {
    "MinHealthyPercentage": 100,  # launch a replacement before a worker goes
    "MaxHealthyPercentage": 200,
    "SkipMatching": True,  # only instances on an older launch template version
    "ScaleInProtectedInstances": "Wait",  # a worker holding messages finishes its batch first
    "StandbyInstances": "Terminate",
}


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
        self.preferences = {**PREFERENCES, "InstanceWarmup": int(warmup.to_seconds())}
        call = cr.AwsSdkCall(
            service="AutoScaling",
            action="startInstanceRefresh",
            parameters={
                "AutoScalingGroupName": group_name,
                "Strategy": "Rolling",
                "Preferences": self.preferences,
            },
            # A new launch template version changes this resource, so the update runs it again.
            physical_resource_id=cr.PhysicalResourceId.of(launch_template.latest_version_number),
        )
        self.resource = cr.AwsCustomResource(
            self,
            "Refresh",
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["autoscaling:StartInstanceRefresh"], resources=[group_arn(self, group_name)]
                    )
                ]
            ),
            install_latest_aws_sdk=False,  # the Lambda runtime's SDK has the call; no download at deploy
        )
        # The stack-wide function behind every AwsCustomResource (CDK makes it once per stack).
        function = Stack.of(self).node.try_find_child(SDK_CALL_FUNCTION)
        if function is not None:
            acknowledge(
                function,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "CDK's function for SDK calls from CloudFormation writes its own logs with the basic "
                "execution role; what it may call is the separate, least-privilege policy above.",
            )
        acknowledge(
            self.resource,
            group_arn_evidence(group_name),
            "Starts an instance refresh of the worker group only; the group ARN's id is generated at "
            "creation, so only that part is a wildcard.",
        )
