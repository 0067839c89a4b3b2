"""The web tier: an Auto Scaling group of web instances, each serving `evision web` on port 80.

Stateless (every upload's state is in the buckets and queues; each web process owns only its own
reply queue), so instances come and go with the request rate: target tracking on the load
balancer's requests per target (see `infra/load_balancer.py` and `scale_on_requests`).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.hosts import HostProps, host_role
from infra.nag import acknowledge
from infra.user_data import render_bootstrap

HTTP_PORT = 80
# An instance boots and installs from the wheelhouse in ~50 s (FIELD-NOTES); its requests
# count towards the group's metric only after this.
WARMUP = Duration.seconds(90)


class WebTier(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        host: HostProps,
        service_env: Mapping[str, str],
        min_capacity: int,
        max_capacity: int,
        drain_seconds: int,
        ssh_cidr: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = host_role(self, host, description="Elastic Vision web tier instances")
        # Inbound only from the load balancer (it adds that rule when the group becomes its target).
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=host.vpc,
            description="Elastic Vision web tier: HTTP from the load balancer",
        )
        if ssh_cidr is not None:
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(ssh_cidr), ec2.Port.tcp(22), "SSH (context sshCidr)"
            )
        self.user_data = ec2.UserData.custom(
            render_bootstrap(
                role="web",
                bundle_url=host.bundle.url,
                service_env=service_env,
                web_port=HTTP_PORT,
                drain_seconds=drain_seconds,  # the uploads in hand may wait up to the web wait
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
            vpc=host.vpc,
            vpc_subnets=host.subnets,
            launch_template=self.launch_template,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            group_metrics=[autoscaling.GroupMetrics.all()],
            default_instance_warmup=WARMUP,
            # Unhealthy behind the load balancer (its /healthz check) means replaced.
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB], grace_period=WARMUP
            ),
            # A new bundle rolls through the group one instance at a time, never below min - or
            # max - 1 in service (CloudFormation's limit for MinInstancesInService).
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1, min_instances_in_service=min(min_capacity, max_capacity - 1)
            ),
        )
        acknowledge(
            self.auto_scaling_group,
            "AwsSolutions-AS3",
            "Web instances come and go with the request rate; the dashboard shows the group metrics, "
            "nobody is to be notified per scaling event.",
        )

    def scale_on_requests(self, requests_per_minute: int) -> None:
        """Target tracking on ALBRequestCountPerTarget (the group must be the load balancer's target)."""
        self.auto_scaling_group.scale_on_request_count(
            "Requests", target_requests_per_minute=requests_per_minute
        )
