"""The web tier: an Auto Scaling group of web instances, each serving `evision web` on port 80.

Stateless (every upload's state is in the buckets and queues; each web process owns only its own
reply queue), so instances come and go with the request rate: target tracking on the load
balancer's requests per target (see `infra/load_balancer.py` and `scale_on_requests`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aws_cdk as cdk
import jsii
from aws_cdk import Aws, Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.hosts import HostGroup, HostProps
from infra.nag import acknowledge
from infra.user_data import Bootstrap, LogShipping, Signal, Standby

HTTP_PORT = 80
# An instance boots and installs from the wheelhouse in ~50 s (FIELD-NOTES; the bootstrap
# sandbox: ~30-45 s of install); its requests count towards the group's metric only after this.
WARMUP = Duration.seconds(90)
# How long the bootstrap may take, from its start, to install, answer /healthz and be seen healthy
# by the load balancer (2 checks 10 s apart) before it gives up and reports the instance: several
# times the ~1-2 minutes it takes, for a slow day.
HEALTH_SECONDS = 480
# ... plus the boot and the user data's fetch of the bootstrap before it starts: how long
# CloudFormation waits for a signal, and the group's health-check grace. ELB health checks replace
# an instance still installing once the grace ends (outside a rolling update), so the grace covers
# the whole bootstrap; a bootstrap that fails reports its instance at once, grace or not.
SIGNAL_TIMEOUT = Duration.seconds(HEALTH_SECONDS + 120)


@jsii.implements(cdk.IStableStringProducer)
class _Later:
    """A value known only once the rest of the stack exists (the group's logical id, the target
    group made with the load balancer), for user data rendered before them."""

    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self) -> str:
        return self._produce()


class WebTier(HostGroup):
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
        group_name: str,
        ssh_cidr: str | None = None,
        logs: LogShipping | None = None,
        standby: Standby | None = None,
    ) -> None:
        bootstrap = Bootstrap(
            role="web",
            service_env=service_env,
            web_port=HTTP_PORT,
            drain_seconds=drain_seconds,  # the uploads in hand may wait up to the web wait
            signal=Signal(
                stack=Aws.STACK_NAME,
                resource=cdk.Lazy.string(_Later(self._group_logical_id)),
                target_group=cdk.Lazy.string(_Later(self._target_group_arn)),
                health_seconds=HEALTH_SECONDS,
            ),
            logs=logs,
            standby=standby,
        )
        super().__init__(
            scope,
            construct_id,
            description="Elastic Vision web tier instances",
            # Inbound only from the load balancer (it adds that rule when the group becomes its target).
            security_group_description="Elastic Vision web tier: HTTP from the load balancer",
            host=host,
            group_name=group_name,
            bootstrap=bootstrap,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            warmup=WARMUP,
            scaling_events_reason="Web instances come and go with the request rate; the dashboard shows "
            "the group metrics, nobody is to be notified per scaling event.",
            # Unhealthy behind the load balancer (its /healthz check) means replaced.
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB], grace_period=SIGNAL_TIMEOUT
            ),
            # A new bundle rolls through the group one instance at a time, never below min - or
            # max - 1 in service (CloudFormation's limit for MinInstancesInService), and an old
            # instance goes only once the new one has signalled that it serves (the bootstrap:
            # /healthz here, then healthy behind the load balancer). Without the signals the old
            # one would go as soon as the new one is InService, before it has installed anything.
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=SIGNAL_TIMEOUT),
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1,
                min_instances_in_service=min(min_capacity, max_capacity - 1),
                wait_on_resource_signals=True,
                pause_time=SIGNAL_TIMEOUT,
            ),
        )
        self._target_group: elbv2.IApplicationTargetGroup | None = None
        if ssh_cidr is not None:
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(ssh_cidr), ec2.Port.tcp(22), "SSH (context sshCidr)"
            )
        self._allow_rollout_signal()

    def _allow_rollout_signal(self) -> None:
        """Its own instance: the rollout signal, and Unhealthy when it cannot serve."""
        # DescribeStacks first: the bootstrap signals only while a stack operation waits for it.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudformation:DescribeStacks", "cloudformation:SignalResource"],
                resources=[Aws.STACK_ID],
            )
        )
        self.allow_own_group(
            ["autoscaling:SetInstanceHealth"],
            "A web instance reports its own instance Unhealthy when it cannot serve. The group ARN's id "
            "is generated at creation, so only that part is a wildcard.",
        )
        # DescribeTargetHealth has no resource-level permissions (Service Authorization Reference,
        # Elastic Load Balancing V2; 2026-12).
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["elasticloadbalancing:DescribeTargetHealth"], resources=["*"])
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "elasticloadbalancing:DescribeTargetHealth (read-only) supports no resource-level "
            "permissions; the rollout waits until the load balancer sees this instance healthy.",
        )

    def behind(self, target_group: elbv2.IApplicationTargetGroup) -> None:
        """The target group whose health check the rollout signal waits for."""
        self._target_group = target_group

    def _target_group_arn(self) -> str:
        if self._target_group is None:
            raise ValueError("WebTier.behind(target_group) was never called: the rollout signal needs it")
        return self._target_group.target_group_arn

    def _group_logical_id(self) -> str:
        group = self.auto_scaling_group.node.default_child
        assert isinstance(group, autoscaling.CfnAutoScalingGroup)
        return cdk.Stack.of(self).get_logical_id(group)

    def scale_on_requests(self, requests_per_minute: int) -> None:
        """Target tracking on ALBRequestCountPerTarget (the group must be the load balancer's target)."""
        self.auto_scaling_group.scale_on_request_count(
            "Requests", target_requests_per_minute=requests_per_minute
        )
