"""A VPC with public subnets only: no NAT gateway, so an idle deployment costs nothing here."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct


class Network(Construct):
    """Two AZs of public subnets, a (free) S3 gateway endpoint, and VPC flow logs.

    Instances get public IPs and reach SQS, CloudWatch and PyPI through the internet gateway;
    nothing is allowed in except what a security group opens.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        flow_log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        max_azs: int = 2,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            # True would add a custom-resource Lambda; nothing here uses the default group.
            restrict_default_security_group=False,
        )
        self.flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=flow_log_retention, removal_policy=removal_policy
        )
        self.flow_log = self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

    @property
    def public_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
