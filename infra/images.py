"""Machine images: the pinned Amazon Linux 2023 per region, the latest one, or a given AMI id."""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.architecture import Architecture


@jsii.implements(ec2.IMachineImage)
class FixedImage:
    """One AMI id, whatever the region (`MachineImage.generic_linux` needs the region up front)."""

    def __init__(self, image_id: str) -> None:
        self.image_id = image_id

    def get_image(self, scope: Construct) -> ec2.MachineImageConfig:
        return ec2.MachineImageConfig(
            image_id=self.image_id, os_type=ec2.OperatingSystemType.LINUX, user_data=ec2.UserData.for_linux()
        )


CPU_TYPES: dict[Architecture, ec2.AmazonLinuxCpuType] = {
    "x86_64": ec2.AmazonLinuxCpuType.X86_64,
    "arm64": ec2.AmazonLinuxCpuType.ARM_64,
}


def machine_image(
    ami_id: str | None,
    architecture: Architecture = "x86_64",
    pins: Mapping[str, Mapping[str, str]] | None = None,
) -> ec2.IMachineImage:
    """`ami_id` (built for the tier's architecture: its owner's choice); else the AL2023 image
    pinned for each region (`pins`, region -> architecture -> id: a CloudFormation mapping keyed
    by the deploy's region, so the stack stays environment-agnostic; a region without a pin fails
    `evision preflight`); else, nothing pinned at all, the latest AL2023 for `architecture`,
    resolved at deploy time from its public SSM parameter."""
    if ami_id is not None:
        return FixedImage(ami_id)
    pinned = {
        region: images[architecture] for region, images in (pins or {}).items() if architecture in images
    }
    if pinned:
        return ec2.MachineImage.generic_linux(dict(sorted(pinned.items())))
    return ec2.MachineImage.latest_amazon_linux2023(cpu_type=CPU_TYPES[architecture])
