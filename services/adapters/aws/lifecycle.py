"""A worker on an instance of a warm-pool group takes work only once its instance is InService.

The documented pattern (EC2 Auto Scaling user guide, "Warm pools" / "Use lifecycle hooks with a
warm pool"): instances launched into the warm pool boot and install like any other, then are
stopped; the service starts at every boot (systemd), so a worker must read the instance's target
lifecycle state from IMDSv2 (`meta-data/autoscaling/target-lifecycle-state`) and receive nothing
while it is `Warmed:*`. In both cases it completes the group's launch lifecycle action, so that
the group stops a warmed instance (or puts it in service) as soon as it is ready instead of
waiting for the hook's timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from services.adapters.aws.protection import imds_get, instance_id_from_imds
from services.ports.capacity import Placement

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

log = logging.getLogger("evision.lifecycle")
IN_SERVICE = "InService"
POLL_SECONDS = 5.0


def await_in_service(
    placement: Placement,
    stop: threading.Event,
    *,
    client: Callable[[], AutoScalingClient],
    poll_seconds: float = POLL_SECONDS,
) -> bool:
    """Block until this instance's target lifecycle state is InService (True) or `stop` is set.

    Not on an instance of a group: True at once.
    """
    if not placement.group:
        return True
    instance_id = placement.instance_id or instance_id_from_imds(base=placement.metadata_url)
    completed: set[str] = set()
    while not stop.is_set():
        try:
            state = imds_get("meta-data/autoscaling/target-lifecycle-state", base=placement.metadata_url)
        except OSError as exc:
            log.warning("no target lifecycle state from the metadata service (%s); retrying", exc)
            stop.wait(poll_seconds)
            continue
        if state not in completed:
            completed.add(state)
            _complete_launch(placement, instance_id, client)
        if state == IN_SERVICE:
            log.info("instance %s is InService: taking work", instance_id)
            return True
        log.info("instance %s is %s (warm pool): taking no work", instance_id, state)
        stop.wait(poll_seconds)
    return False


def _complete_launch(placement: Placement, instance_id: str, client: Callable[[], AutoScalingClient]) -> None:
    if not placement.launch_hook or not placement.group:
        return
    try:
        client().complete_lifecycle_action(
            LifecycleHookName=placement.launch_hook,
            AutoScalingGroupName=placement.group,
            LifecycleActionResult="CONTINUE",
            InstanceId=instance_id,
        )
    except Exception as exc:  # no action pending (a later boot): nothing to complete
        log.info("no launch lifecycle action to complete (%s)", exc)
