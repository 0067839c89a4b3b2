"""The front door: an internet-facing Application Load Balancer in front of the web group.

HTTP on port 80 by default; with a certificate (context `certificateArn`) HTTPS on 443 with the
recommended TLS policy, and port 80 redirects to it. Health check `/healthz`. Deregistration
waits longer than the web tier's wait, so an upload in progress on a leaving instance finishes;
the idle timeout exceeds it too, so a waiting upload is not cut (ALB's default is 60 s:
Elastic Load Balancing user guide, "Connection idle timeout"). Access logs go to their own bucket.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, CfnMapping, Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from infra.nag import acknowledge

HEALTH_PATH = "/healthz"
ACCESS_LOG_DAYS = 90


class LoadBalancer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        targets: autoscaling.AutoScalingGroup,
        target_port: int,
        wait_seconds: int,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption ALB log delivery supports
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_DAYS))],
            # Kept in every stage, by design: the load balancer delivers logs for a while after it is
            # deleted, so a bucket emptied on destroy fails it with BucketNotEmpty (aws-cdk #21776,
            # #16332). The lifecycle rule empties it within ACCESS_LOG_DAYS; empty, it costs nothing.
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket holds the load balancer's access logs; logging access to the logs would only "
            "add a bucket of logs about logs.",
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            idle_timeout=Duration.seconds(wait_seconds + 15),
            drop_invalid_header_fields=True,
        )
        _log_access(self.load_balancer, self.access_logs)
        acknowledge(
            self.load_balancer,
            "AwsSolutions-EC23",
            "The load balancer is the service's public entry point: its listener ports are open to the "
            "internet on purpose; the web instances accept traffic from it only.",
        )
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Web",
            vpc=vpc,
            port=target_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[targets],
            deregistration_delay=Duration.seconds(wait_seconds + 5),
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                interval=Duration.seconds(10),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        self.https = certificate_arn is not None
        if certificate_arn is not None:
            self.load_balancer.add_listener(
                "Https",
                port=443,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[self.target_group],
            )
            self.load_balancer.add_listener(
                "Http",
                port=80,
                default_action=elbv2.ListenerAction.redirect(protocol="HTTPS", port="443", permanent=True),
            )
        else:
            self.load_balancer.add_listener("Http", port=80, default_target_groups=[self.target_group])

    @property
    def url(self) -> str:
        scheme = "https" if self.https else "http"
        return f"{scheme}://{self.load_balancer.load_balancer_dns_name}"


def _log_access(load_balancer: elbv2.ApplicationLoadBalancer, bucket: s3.Bucket) -> None:
    """Access logs to `bucket`, in any region of an environment-agnostic stack.

    CDK's `log_access_logs` needs the region at synthesis (to name the region's Elastic Load
    Balancing account). Regions opened before August 2022 deliver as that account, newer ones as
    the service principal logdelivery.elasticloadbalancing.amazonaws.com (Elastic Load Balancing
    user guide, "Enable access logs for your Application Load Balancer"): the policy allows both,
    the account looked up per region from CDK's region facts (this stack's own account where a
    region has none).
    """
    stack = Stack.of(load_balancer)
    # Mapping values are literals: "none" marks a region that delivers as the service principal.
    accounts = {r.name: {"account": r.elbv2_account or "none"} for r in RegionInfo.regions}
    mapping = CfnMapping(load_balancer, "ElbAccounts", mapping=accounts)
    region_account = mapping.find_in_map(Aws.REGION, "account")
    newer = CfnCondition(
        load_balancer, "RegionWithoutElbAccount", expression=Fn.condition_equals(region_account, "none")
    )
    account = Token.as_string(Fn.condition_if(newer.logical_id, Aws.ACCOUNT_ID, region_account))
    objects = bucket.arn_for_objects(f"AWSLogs/{stack.account}/*")
    for principal in (
        iam.ArnPrincipal(f"arn:{Aws.PARTITION}:iam::{account}:root"),
        iam.ServicePrincipal("logdelivery.elasticloadbalancing.amazonaws.com"),
    ):
        bucket.add_to_resource_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], principals=[principal], resources=[objects])
        )
    load_balancer.set_attribute("access_logs.s3.enabled", "true")
    load_balancer.set_attribute("access_logs.s3.bucket", bucket.bucket_name)
    if bucket.policy is not None:  # ALB checks that it may write when the attribute is set
        load_balancer.node.add_dependency(bucket.policy)
