"""Web tier: one hardened instance, port 80 only (SSH only when asked), bootstrapped as `web`."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.web import WebTier
from tests.infra.stacks import host_props


def build(stack: cdk.Stack, bundle_dir, ssh_cidr: str | None = None) -> tuple[WebTier, dict[str, Any]]:
    web = WebTier(
        stack,
        "Web",
        host=host_props(stack, bundle_dir, instance_type="t3.small", volume_gib=10),
        service_env={"EVISION_BACKEND": "aws", "EVISION_REPLY_QUEUE": "replies"},
        ssh_cidr=ssh_cidr,
    )
    return web, Template.from_stack(stack).to_json()["Resources"]


def of_type(resources: dict[str, Any], cfn_type: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == cfn_type]


def test_one_instance_open_on_port_80_only(stack, bundle_dir):
    web, resources = build(stack, bundle_dir)
    [instance] = of_type(resources, "AWS::EC2::Instance")
    [sg] = of_type(resources, "AWS::EC2::SecurityGroup")
    assert sg["SecurityGroupIngress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTP from anywhere",
            "FromPort": 80,
            "IpProtocol": "tcp",
            "ToPort": 80,
        }
    ]
    assert "KeyName" not in instance  # no SSH key: Session Manager instead
    assert instance["BlockDeviceMappings"] == [
        {"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "VolumeSize": 10, "VolumeType": "gp3"}}
    ]
    # IMDSv2 on a single instance is set through a launch template.
    [template] = of_type(resources, "AWS::EC2::LaunchTemplate")
    assert template["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    text = "".join(
        p if isinstance(p, str) else "<token>" for p in stack.resolve(web.user_data.render())["Fn::Join"][1]
    )
    assert "export EV_ROLE=web\n" in text and "export EV_WEB_PORT=80\n" in text
    assert "export EVISION_REPLY_QUEUE=replies\n" in text


def test_ssh_opens_only_to_the_given_network(bundle_dir):
    stack = cdk.Stack(cdk.App(), "Ssh")
    _, resources = build(stack, bundle_dir, ssh_cidr="203.0.113.0/24")
    [sg] = of_type(resources, "AWS::EC2::SecurityGroup")
    ssh = [rule for rule in sg["SecurityGroupIngress"] if rule["FromPort"] == 22]
    assert [(rule["CidrIp"], rule["ToPort"]) for rule in ssh] == [("203.0.113.0/24", 22)]
