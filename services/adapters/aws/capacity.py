"""The web tier's two helpers of fast scaling on AWS: the queue depth as a high-resolution metric,
and activation of the worker group from zero.

- `CloudWatchDepthReporter`: PutMetricData with StorageResolution=1, so that alarms with a 10 s
  period can read it (SQS's own metrics are 1-minute only; CloudWatch User Guide, "High-resolution
  metrics"). Names in `services.metric_names`; infra/scaling.py's fast alarms read them.
- `AsgInServiceGauge`: how many of the group's instances are InService, for the standby worker
  on the web tier (a warm-pool instance being started is `Pending`/`Warmed:*` until then).
- `AsgActivator`: if the group's desired capacity is 0, SetDesiredCapacity to `scale_to` (never
  above the group's maximum). The pattern of Knative's activator and Ray Serve's scale from zero:
  the request itself wakes the service. The web role may only do this to the one worker group.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from services import metric_names as names
from services.ports.storage import QueueDepth

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient

log = logging.getLogger("evision.activation")


class CloudWatchDepthReporter:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def report(self, queue: str, depth: QueueDepth) -> None:
        dimensions = [{"Name": names.QUEUE, "Value": queue}]
        self._client.put_metric_data(
            Namespace=names.NAMESPACE,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": dimensions,  # type: ignore[typeddict-item]
                    "Value": float(value),
                    "Unit": "Count",
                    "StorageResolution": 1,
                }
                for metric, value in (
                    (names.QUEUE_VISIBLE, depth.visible),
                    (names.QUEUE_IN_FLIGHT, depth.in_flight),
                )
            ],
        )


class AsgActivator:
    def __init__(self, client: AutoScalingClient, *, group: str, scale_to: int) -> None:
        self._client = client
        self._group = group
        self._scale_to = scale_to

    def activate(self) -> bool:
        groups = self._client.describe_auto_scaling_groups(AutoScalingGroupNames=[self._group])
        [found] = groups["AutoScalingGroups"]
        if found["DesiredCapacity"] > 0:
            return False
        target = min(self._scale_to, found["MaxSize"])
        self._client.set_desired_capacity(
            AutoScalingGroupName=self._group, DesiredCapacity=target, HonorCooldown=False
        )
        log.info("activated %s from zero: desired capacity %d", self._group, target)
        return True


class AsgInServiceGauge:
    def __init__(self, client: AutoScalingClient, *, group: str) -> None:
        self._client = client
        self._group = group

    def in_service(self) -> int:
        groups = self._client.describe_auto_scaling_groups(AutoScalingGroupNames=[self._group])
        [found] = groups["AutoScalingGroups"]
        return sum(1 for instance in found.get("Instances", []) if instance["LifecycleState"] == "InService")
