"""What every EC2 host of the service shares: where it runs, what it boots, its base role, and
the Auto Scaling group it lives in (`HostGroup`: the web tier and the workers are host groups)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.assets import ServiceBundle, asset_prefix
from infra.nag import acknowledge
from infra.permissions import allow_put_metric_data, group_arn, group_arn_evidence, instance_role
from infra.user_data import Bootstrap

ROOT_DEVICE = "/dev/xvda"  # Amazon Linux 2023


@dataclass(frozen=True, kw_only=True)
class HostProps:
    """The placement and image of a tier's instances (the stack builds one per tier)."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    bundle: ServiceBundle
    machine_image: ec2.IMachineImage
    instance_type: str
    volume_gib: int

    @property
    def root_volume(self) -> ec2.BlockDevice:
        """Encrypted gp3 root volume of `volume_gib`."""
        return ec2.BlockDevice(
            device_name=ROOT_DEVICE,
            volume=ec2.BlockDeviceVolume.ebs(
                self.volume_gib, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
            ),
        )


def host_role(scope: Construct, props: HostProps, *, description: str) -> iam.Role:
    """The instance role every host starts from: Session Manager, read the bundle, put metrics."""
    role = instance_role(scope, "Role", description=description)
    props.bundle.grant_read(role)
    prefix = asset_prefix(props.bundle.asset.s3_object_key)
    if prefix:
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
            f"<AWS::Region>/{prefix}*]",
            "Reads this stack's assets only (its own key prefix in the CDK assets bucket): the bundle "
            "and bootstrap of this deploy, and the previous ones while an update is under way.",
        )
    allow_put_metric_data(role)
    return role


class HostGroup(Construct):
    """One role's instances: their role, security group, user data, launch template and Auto
    Scaling group, under the construct ids both tiers have always had (Role, SecurityGroup,
    LaunchTemplate, Group), so the logical ids do not move. Subclasses add what their role needs.

    The group name is fixed (`group_name`): the user data tells it to the instance, and the role
    limits what an instance may do to its own group (`allow_own_group`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        security_group_description: str,
        host: HostProps,
        group_name: str,
        bootstrap: Bootstrap,
        min_capacity: int,
        max_capacity: int,
        warmup: Duration,
        scaling_events_reason: str,
        health_checks: autoscaling.HealthChecks | None = None,
        signals: autoscaling.Signals | None = None,
        update_policy: autoscaling.UpdatePolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.group_name = group_name
        self.role = host_role(self, host, description=description)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=host.vpc, description=security_group_description
        )
        self.user_data = ec2.UserData.custom(
            bootstrap.render(
                bundle_url=host.bundle.url, bootstrap_url=host.bundle.bootstrap_url, group=group_name
            )
        )
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=host.machine_image,
            instance_type=ec2.InstanceType(host.instance_type),
            role=self.role,
            security_group=self.security_group,
            user_data=self.user_data,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            block_devices=[host.root_volume],
        )
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            auto_scaling_group_name=group_name,
            vpc=host.vpc,
            vpc_subnets=host.subnets,
            launch_template=self.launch_template,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            # desired capacity is left to the scaling policies: a deployment does not reset it.
            group_metrics=[autoscaling.GroupMetrics.all()],
            default_instance_warmup=warmup,
            health_checks=health_checks,
            signals=signals,
            update_policy=update_policy,
        )
        acknowledge(self.auto_scaling_group, "AwsSolutions-AS3", scaling_events_reason)

    def allow_own_group(self, actions: Sequence[str], reason: str) -> None:
        """`actions` on this group only (an instance acts on its own instance), with the reason
        its one wildcard (the group ARN's generated id) is acknowledged."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(actions), resources=[group_arn(self, self.group_name)])
        )
        acknowledge(self.role, group_arn_evidence(self.group_name), reason)
