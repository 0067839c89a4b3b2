"""Worker tier: ASG bounds and metrics from the policy, hardened launch template, least-privilege role."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from infra.images import machine_image
from infra.workers import Workers
from services.elasticity.policy import ScalingPolicy
from services.settings import BackendSettings
from tests.infra.stacks import host_props

POLICY = replace(ScalingPolicy(), min_capacity=1, max_capacity=7)


@pytest.fixture
def built(stack, bundle_dir) -> tuple[Workers, dict[str, Any]]:
    workers = Workers(
        stack,
        "Workers",
        host=host_props(stack, bundle_dir, instance_type="c7i.large", volume_gib=12, max_azs=2),
        policy=POLICY,
        request_queue=sqs.Queue(stack, "Requests"),
        service_env=BackendSettings.from_values(backend="aws").environment(explicit_only=True),
        drain_seconds=95,
        group_name="test-workers",
    )
    return workers, Template.from_stack(stack).to_json()["Resources"]


def worker_policy(resources: dict[str, Any]) -> dict[str, Any]:
    """The worker role's policy (the refresh's custom resource has one of its own)."""
    [policy] = [
        r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and name.startswith("WorkersRole")
    ]
    found: dict[str, Any] = policy
    return found


def only(resources: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    [resource] = [r for r in resources.values() if r["Type"] == cfn_type]
    properties: dict[str, Any] = resource["Properties"]
    return properties


def test_group_follows_the_policy_bounds_and_publishes_group_metrics(built):
    _, resources = built
    group = only(resources, "AWS::AutoScaling::AutoScalingGroup")
    assert (group["MinSize"], group["MaxSize"]) == ("1", "7")
    assert "DesiredCapacity" not in group  # a deployment must not reset what scaling decided
    assert group["AutoScalingGroupName"] == "test-workers"
    assert group["MetricsCollection"] == [{"Granularity": "1Minute"}]  # all group metrics
    # The queue-driven step policies of infra/scaling.py (fast: out, in; backstop: from zero, out,
    # in) are wired to this group.
    kinds = sorted(
        r["Properties"]["AdjustmentType"]
        for r in resources.values()
        if r["Type"] == "AWS::AutoScaling::ScalingPolicy"
    )
    assert kinds == ["ChangeInCapacity"] * 3 + ["ExactCapacity"] * 2


def test_launch_template_requires_imdsv2_and_encrypts_the_volume(built):
    _, resources = built
    data = only(resources, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["ImageId"] == "ami-0123456789abcdef0"
    assert data["BlockDeviceMappings"] == [
        {"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "VolumeSize": 12, "VolumeType": "gp3"}}
    ]


def test_user_data_bootstraps_a_worker_with_the_group_name(built, stack):
    workers, _ = built
    rendered = stack.resolve(workers.user_data.render())
    text = "".join(p if isinstance(p, str) else "<token>" for p in rendered["Fn::Join"][1])
    assert "export EV_ROLE=worker\n" in text
    assert "export EV_DRAIN_SECONDS=95\n" in text
    assert "export EVISION_ASG_NAME=test-workers\n" in text
    assert "export EV_BUNDLE_URL=" in text
    assert "export EV_LOCK=requirements.lock\n" in text  # the default engine: no OpenVINO wheels


def test_role_may_only_protect_instances_of_its_own_group(built):
    _, resources = built
    statements = worker_policy(resources)["PolicyDocument"]["Statement"]
    own = [
        "autoscaling:SetInstanceProtection",
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:SetInstanceHealth",
    ]
    protect = [s for s in statements if sorted(s["Action"]) == sorted(own)]
    assert len(protect) == 1
    arn = "".join(p if isinstance(p, str) else "<x>" for p in protect[0]["Resource"]["Fn::Join"][1])
    assert arn.endswith(":autoScalingGroup:*:autoScalingGroupName/test-workers")
    metrics = [s for s in statements if s["Action"] == "cloudwatch:PutMetricData"]
    assert metrics == [
        {
            "Action": "cloudwatch:PutMetricData",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "ElasticVision"}},
            "Effect": "Allow",
            "Resource": "*",
        }
    ]
    # The bundle and the bootstrap script: exactly two objects of the CDK assets bucket, not the bucket.
    [bundle] = [s for s in statements if s["Action"] == "s3:GetObject"]
    keys = [resource["Fn::Join"][1][-1] for resource in bundle["Resource"]]
    assert [key.startswith("/") for key in keys] == [True, True]
    assert sorted(key.rsplit(".", 1)[1] for key in keys) == ["sh", "zip"]
    # No security group ingress: nothing connects to a worker.
    sg = only(resources, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in sg


def test_latest_amazon_linux_2023_by_default():
    stack = cdk.Stack(cdk.App(), "S")
    image_id = stack.resolve(machine_image(None).get_image(stack).image_id)
    # Resolved at deploy time from the public SSM parameter (no lookup at synth, no account).
    parameter = Template.from_stack(stack).to_json()["Parameters"][image_id["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert parameter["Default"].startswith("/aws/service/ami-amazon-linux-latest/al2023-ami-")


def test_every_deploy_refreshes_the_workers_the_warm_pool_included(built):
    """A new launch template version starts an instance refresh (CloudFormation's own update would
    leave the warm pool's instances on the old bundle), which launches before it terminates and
    waits for a busy worker's protection to end."""
    _, resources = built
    [refresh] = [r for r in resources.values() if r["Type"] == "Custom::WorkerRefresh"]
    properties = refresh["Properties"]
    assert properties["GroupName"] == "test-workers"
    preferences = json.loads(properties["Preferences"])
    assert preferences["ScaleInProtectedInstances"] == "Wait" and preferences["MinHealthyPercentage"] == 100
    # A new version of the template changes the resource, so every deploy runs the handler.
    assert properties["Version"]["Fn::GetAtt"][1] == "LatestVersionNumber"
    group_id = next(k for k, r in resources.items() if r["Type"] == "AWS::AutoScaling::AutoScalingGroup")
    assert group_id in refresh["DependsOn"]
    statements = [
        s
        for name, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and not name.startswith("WorkersRole")
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    # No ec2:RunInstances / iam:PassRole: the call changes no launch template (infra/worker_refresh.py).
    assert [s["Action"] for s in statements] == [
        ["autoscaling:CancelInstanceRefresh", "autoscaling:StartInstanceRefresh"]
    ]
    [log_group] = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert log_group["Properties"]["RetentionInDays"] > 0
