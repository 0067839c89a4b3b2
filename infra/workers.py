"""The worker tier: a launch template and an Auto Scaling group (0..20) driven by the request queue."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.hosts import HostGroup, HostProps
from infra.scaling import QueueScaling, add_queue_scaling
from infra.user_data import Bootstrap, LogShipping
from infra.worker_refresh import WorkerRefresh
from services.elasticity.policy import ScalingPolicy
from services.worker.settings import WorkerSettings

LAUNCH_HOOK = "evision-worker-launch"  # the worker completes it (services/adapters/aws/lifecycle.py)
# Boot, install and model load take ~1 minute (tests/infra/test_bootstrap.py's sandbox, plus the
# calibration's boot); past this the launch is ABANDONed and the instance replaced.
LAUNCH_TIMEOUT = Duration.minutes(10)


class Workers(HostGroup):
    """Instances that run `evision worker` under systemd, as many as the queue needs (policy).

    The group name is fixed (`group_name`) so that the instance role can be limited to
    protecting instances of this group only, and the worker can be told the name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        host: HostProps,
        policy: ScalingPolicy,
        request_queue: sqs.IQueue,
        service_env: Mapping[str, str],
        drain_seconds: int,
        group_name: str,
        warm_pool_size: int = 0,
        lock: str = "requirements.lock",
        logs: LogShipping | None = None,
    ) -> None:
        environment = {
            **service_env,
            **WorkerSettings.from_values(asg_name=group_name, lifecycle_hook=LAUNCH_HOOK).environment(
                explicit_only=True
            ),
        }
        bootstrap = Bootstrap(
            role="worker",
            service_env=environment,
            drain_seconds=drain_seconds,
            lock=lock,  # the OpenVINO engine's lock where the deployment uses it
            launch_hook=LAUNCH_HOOK,
            logs=logs,
        )
        warmup = Duration.seconds(int(policy.warmup_periods * policy.period_seconds))
        super().__init__(
            scope,
            construct_id,
            description="Elastic Vision worker instances",
            # Outbound only: the worker pulls from SQS and S3, nothing connects to it.
            security_group_description="Elastic Vision workers (no inbound)",
            host=host,
            group_name=group_name,
            bootstrap=bootstrap,
            min_capacity=policy.min_capacity,
            max_capacity=policy.max_capacity,
            warmup=warmup,
            scaling_events_reason="Scaling 0..N with the queue is routine, happens many times a day and "
            "is shown on the dashboard from the group metrics; nobody is to be notified per scaling event.",
        )
        # Its own instance: scale-in protection while busy, and the launch lifecycle action it
        # completes once it knows whether it is entering the warm pool or service.
        self.allow_own_group(
            [
                "autoscaling:SetInstanceProtection",
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:SetInstanceHealth",
            ],
            "A worker protects its own instance from scale-in while busy, completes its own launch "
            "lifecycle action and reports its own instance Unhealthy when it cannot serve. The group "
            "ARN's id is generated at creation, so only that part is a wildcard.",
        )
        self._add_launch_hook(warm_pool_size)
        # Every deploy reaches every worker, the warm pool's included (after the group and its pool).
        self.refresh = WorkerRefresh(
            self, "Refresh", group_name=group_name, launch_template=self.launch_template, warmup=warmup
        )
        self.refresh.node.add_dependency(self.auto_scaling_group)
        if self.warm_pool is not None:
            self.refresh.node.add_dependency(self.warm_pool)
        self.scaling: QueueScaling = add_queue_scaling(
            self, asg=self.auto_scaling_group, queue=request_queue, policy=policy
        )

    def _add_launch_hook(self, warm_pool_size: int) -> None:
        """The launch waits until the worker says where it is going (InService or the warm pool), so
        a warm instance is stopped only once installed. A failed install ABANDONs it at once (the
        bootstrap's report); one that never answers is ABANDONed at the timeout: either way the
        group terminates the instance and launches another, never keeps a zombie."""
        self.launch_hook = self.auto_scaling_group.add_lifecycle_hook(
            "Launch",
            lifecycle_hook_name=LAUNCH_HOOK,
            lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_LAUNCHING,
            default_result=autoscaling.DefaultResult.ABANDON,
            heartbeat_timeout=LAUNCH_TIMEOUT,
        )
        self.warm_pool: autoscaling.WarmPool | None = None
        if warm_pool_size > 0:
            # Pre-installed instances wait Stopped (EBS cost only); scale-in returns instances to
            # the pool instead of terminating them (EC2 Auto Scaling user guide, "Warm pools").
            self.warm_pool = self.auto_scaling_group.add_warm_pool(
                min_size=warm_pool_size,
                max_group_prepared_capacity=warm_pool_size,
                pool_state=autoscaling.PoolState.STOPPED,
                reuse_on_scale_in=True,
            )
            # The hook first: a warm pool made before it could stop instances before they are
            # ready (EC2 Auto Scaling user guide, "Warm pools", lifecycle hooks; 2026-12).
            self.warm_pool.node.add_dependency(self.launch_hook)
