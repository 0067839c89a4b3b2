"""Small pieces of bare test stacks, built the same way by every construct test."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs

from infra.assets import ServiceBundle
from infra.hosts import HostProps
from infra.images import machine_image
from infra.scaling import add_queue_scaling
from services.elasticity.policy import ScalingPolicy

PUBLIC = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)


def public_vpc(stack: cdk.Stack, *, max_azs: int = 1) -> ec2.Vpc:
    """A VPC of public subnets only (no NAT gateway), as the service's own network."""
    return ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        max_azs=max_azs,
        restrict_default_security_group=False,
        subnet_configuration=[ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)],
    )


def queue_scaled_group(
    stack: cdk.Stack, policy: ScalingPolicy
) -> tuple[autoscaling.AutoScalingGroup, sqs.Queue]:
    """A small Auto Scaling group and a queue, scaled by `policy` (infra/scaling.py)."""
    asg = autoscaling.AutoScalingGroup(
        stack,
        "Workers",
        vpc=public_vpc(stack),
        vpc_subnets=PUBLIC,
        instance_type=ec2.InstanceType("t3.micro"),
        machine_image=ec2.MachineImage.latest_amazon_linux2023(),
        min_capacity=policy.min_capacity,
        max_capacity=policy.max_capacity,
        group_metrics=[autoscaling.GroupMetrics.all()],
    )
    queue = sqs.Queue(stack, "Requests")
    add_queue_scaling(stack, asg=asg, queue=queue, policy=policy)
    return asg, queue


def host_props(
    stack: cdk.Stack, bundle_dir: Path, *, instance_type: str, volume_gib: int, max_azs: int = 1
) -> HostProps:
    """Placement for one tier's instances in a bare stack, with a stand-in bundle and a fixed image."""
    return HostProps(
        vpc=public_vpc(stack, max_azs=max_azs),
        subnets=PUBLIC,
        bundle=ServiceBundle(stack, "Bundle", source_dir=bundle_dir, lock="requirements.lock"),
        machine_image=machine_image("ami-0123456789abcdef0"),
        instance_type=instance_type,
        volume_gib=volume_gib,
    )
