"""Network: public subnets only, no NAT gateway, a free S3 gateway endpoint, and flow logs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from infra.network import Network


def test_vpc_costs_nothing_when_idle_and_logs_its_flows(stack):
    Network(
        stack,
        "Network",
        flow_log_retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::EIP", 0)
    subnets = template.find_resources("AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert all(subnet["Properties"]["MapPublicIpOnLaunch"] is True for subnet in subnets.values())
    endpoints = template.find_resources("AWS::EC2::VPCEndpoint")
    assert [e["Properties"].get("VpcEndpointType", "Gateway") for e in endpoints.values()] == ["Gateway"]
    template.has_resource_properties(
        "AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"}
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
