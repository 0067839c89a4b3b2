"""What every EC2 host of the service shares: where it runs, what it boots, and its base role."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.assets import ServiceBundle, asset_prefix
from infra.nag import acknowledge
from infra.permissions import allow_put_metric_data, instance_role

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
