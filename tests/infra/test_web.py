"""Web tier: an Auto Scaling group behind an Application Load Balancer (infra/web.py,
infra/load_balancer.py, infra/waf.py), built in a bare stack."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.config import ServiceConfig
from infra.load_balancer import LoadBalancer
from infra.waf import RateLimitAcl
from infra.web import HEALTH_SECONDS, HTTP_PORT, SIGNAL_TIMEOUT, WebTier
from services.web.settings import WebSettings
from tests.infra.stacks import host_props

WAIT = 60
CERTIFICATE = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"


def build(
    stack: cdk.Stack,
    bundle_dir,
    *,
    ssh_cidr: str | None = None,
    certificate_arn: str | None = None,
    waf_limit: int | None = None,
) -> tuple[WebTier, LoadBalancer, dict[str, Any]]:
    host = host_props(stack, bundle_dir, instance_type="t3.small", volume_gib=10, max_azs=2)
    web = WebTier(
        stack,
        "Web",
        host=host,
        service_env=WebSettings.from_values(backend="aws", reply_queue_prefix="replies").environment(
            explicit_only=True
        ),
        min_capacity=1,
        max_capacity=4,
        drain_seconds=WAIT + 15,
        group_name="test-web",
        ssh_cidr=ssh_cidr,
    )
    lb = LoadBalancer(
        stack,
        "FrontDoor",
        vpc=host.vpc,
        targets=web.auto_scaling_group,
        target_port=HTTP_PORT,
        wait_seconds=WAIT,
        certificate_arn=certificate_arn,
    )
    web.behind(lb.target_group)
    web.scale_on_requests(1234)
    if waf_limit is not None:
        RateLimitAcl(stack, "Waf", resource_arn=lb.load_balancer.load_balancer_arn, limit=waf_limit)
    return web, lb, Template.from_stack(stack).to_json()["Resources"]


def of_type(resources: dict[str, Any], cfn_type: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == cfn_type]


def attributes(props: dict[str, Any], key: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in props[key]}


def test_the_web_group_sits_behind_the_load_balancer_and_takes_traffic_only_from_it(stack, bundle_dir):
    web, lb, resources = build(stack, bundle_dir)
    [group] = of_type(resources, "AWS::AutoScaling::AutoScalingGroup")
    assert (group["MinSize"], group["MaxSize"]) == ("1", "4")
    assert group["HealthCheckType"] == "ELB"  # unhealthy behind the load balancer: replaced
    [template] = of_type(resources, "AWS::EC2::LaunchTemplate")
    data = template["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"] == [
        {"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "VolumeSize": 10, "VolumeType": "gp3"}}
    ]
    text = "".join(
        p if isinstance(p, str) else "<token>" for p in stack.resolve(web.user_data.render())["Fn::Join"][1]
    )
    assert "export EV_ROLE=web\n" in text and "export EVISION_REPLY_QUEUE_PREFIX=replies\n" in text
    assert f"export EV_DRAIN_SECONDS={WAIT + 15}\n" in text  # systemd lets uploads in hand finish
    # The instances' only inbound rule: port 80 from the load balancer's security group.
    [ingress] = of_type(resources, "AWS::EC2::SecurityGroupIngress")
    lb_group = stack.resolve(lb.load_balancer.connections.security_groups[0].security_group_id)
    assert (ingress["FromPort"], ingress["ToPort"], ingress["SourceSecurityGroupId"]) == (80, 80, lb_group)
    web_group = [
        g for g in of_type(resources, "AWS::EC2::SecurityGroup") if "from the load" in g["GroupDescription"]
    ]
    assert [g.get("SecurityGroupIngress") for g in web_group] == [None]


def test_health_check_draining_idle_timeout_and_access_logs_fit_the_web_wait(stack, bundle_dir):
    _, lb, resources = build(stack, bundle_dir)
    [balancer] = of_type(resources, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert balancer["Scheme"] == "internet-facing"
    lb_attributes = attributes(balancer, "LoadBalancerAttributes")
    assert lb_attributes["idle_timeout.timeout_seconds"] == str(WAIT + 15)  # a waiting upload is not cut
    assert lb_attributes["access_logs.s3.enabled"] == "true"
    assert lb_attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    [target_group] = of_type(resources, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert (target_group["HealthCheckPath"], target_group["Port"], target_group["TargetType"]) == (
        "/healthz",
        80,
        "instance",
    )
    assert attributes(target_group, "TargetGroupAttributes")["deregistration_delay.timeout_seconds"] == str(
        WAIT + 5
    )
    [listener] = of_type(resources, "AWS::ElasticLoadBalancingV2::Listener")
    assert (listener["Port"], listener["Protocol"], listener["DefaultActions"][0]["Type"]) == (
        80,
        "HTTP",
        "forward",
    )
    [policy] = of_type(resources, "AWS::S3::BucketPolicy")
    principals = [s["Principal"] for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    # The region's Elastic Load Balancing account (older regions) and the service (newer ones):
    [delivery] = [p for p in principals if "Service" in p]
    assert delivery["Service"] == "logdelivery.elasticloadbalancing.amazonaws.com"
    assert "Fn::If" in str(delivery["AWS"])
    assert lb.url.startswith("http://")


def test_the_web_group_tracks_requests_per_target(stack, bundle_dir):
    _, _, resources = build(stack, bundle_dir)
    [policy] = of_type(resources, "AWS::AutoScaling::ScalingPolicy")
    tracking = policy["TargetTrackingConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    assert tracking["TargetValue"] == 1234


def test_a_certificate_gives_https_and_port_80_redirects(stack, bundle_dir):
    _, lb, resources = build(stack, bundle_dir, certificate_arn=CERTIFICATE)
    listeners = {x["Port"]: x for x in of_type(resources, "AWS::ElasticLoadBalancingV2::Listener")}
    https, http = listeners[443], listeners[80]
    assert https["Protocol"] == "HTTPS" and https["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert https["DefaultActions"][0]["Type"] == "forward"
    [redirect] = http["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"] == {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}
    assert lb.url.startswith("https://")


def test_a_waf_rate_rule_blocks_a_client_ip_over_its_limit(stack, bundle_dir):
    _, lb, resources = build(stack, bundle_dir, waf_limit=500)
    [acl] = of_type(resources, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    [rule] = acl["Rules"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {"Limit": 500, "AggregateKeyType": "IP"}
    [association] = of_type(resources, "AWS::WAFv2::WebACLAssociation")
    assert association["ResourceArn"] == stack.resolve(lb.load_balancer.load_balancer_arn)
    with pytest.raises(ValueError, match="at least 10"):
        ServiceConfig(waf_rate_limit=5)


def test_ssh_opens_only_to_the_given_network(bundle_dir):
    stack = cdk.Stack(cdk.App(), "Ssh")
    _, _, resources = build(stack, bundle_dir, ssh_cidr="203.0.113.0/24")
    [web_group] = [
        g for g in of_type(resources, "AWS::EC2::SecurityGroup") if "from the load" in g["GroupDescription"]
    ]
    assert [(r["CidrIp"], r["ToPort"]) for r in web_group["SecurityGroupIngress"]] == [("203.0.113.0/24", 22)]


def test_web_capacity_context_is_validated():
    config = ServiceConfig.for_stage(
        "dev", {"webMinCapacity": "2", "webMaxCapacity": "6", "webProcesses": "3"}
    )
    assert (config.web_min_capacity, config.web_max_capacity, config.web_processes) == (2, 6, 3)
    with pytest.raises(ValueError, match="below webMaxCapacity"):
        ServiceConfig(web_min_capacity=3, web_max_capacity=3)
    with pytest.raises(ValueError, match="certificateArn"):
        ServiceConfig.for_stage("dev", {"certificateArn": "not-an-arn"})


def test_a_rollout_replaces_an_instance_only_once_the_new_one_has_signalled_that_it_serves(stack, bundle_dir):
    _, _, resources = build(stack, bundle_dir)
    [(group_id, group)] = [
        (k, r) for k, r in resources.items() if r["Type"] == "AWS::AutoScaling::AutoScalingGroup"
    ]
    update = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert update["WaitOnResourceSignals"] is True
    assert update["MaxBatchSize"] == 1 and update["MinInstancesInService"] == 1
    assert update["PauseTime"] == f"PT{SIGNAL_TIMEOUT.to_seconds() // 60}M"  # bounded
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == 1
    # The instance signals that resource, after its own /healthz and the load balancer's check,
    # within the same bound; a failed install signals failure and marks the instance Unhealthy.
    user_data = json.dumps(of_type(resources, "AWS::EC2::LaunchTemplate")[0])
    assert f"export EV_SIGNAL_RESOURCE={group_id}" in user_data.replace("'", "")
    assert (
        "export EV_TARGET_GROUP=" in user_data and f"export EV_HEALTH_SECONDS={HEALTH_SECONDS}" in user_data
    )
    assert SIGNAL_TIMEOUT.to_seconds() > HEALTH_SECONDS
    # ELB health checks begin after the grace: it covers the bootstrap's whole bound, so an
    # instance still installing (at CREATE, at a scale-out) is never replaced for it.
    assert group["Properties"]["HealthCheckGracePeriod"] >= HEALTH_SECONDS
    assert group["Properties"]["HealthCheckGracePeriod"] == SIGNAL_TIMEOUT.to_seconds()
    statements = [s for p in of_type(resources, "AWS::IAM::Policy") for s in p["PolicyDocument"]["Statement"]]
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {
        "cloudformation:DescribeStacks",  # it signals only while a stack operation waits
        "cloudformation:SignalResource",
        "autoscaling:SetInstanceHealth",
        "elasticloadbalancing:DescribeTargetHealth",
    } <= actions
