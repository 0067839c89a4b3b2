"""Instance scale-in protection: an EC2 worker is protected while it holds messages.

The Auto Scaling group scales in when the queue has been idle, but it picks the instance to
terminate itself; protection keeps it from picking one that is still finishing a batch. The worker
loop calls `set_busy(True)` when a receive returns messages and `set_busy(False)` when a receive
comes back empty with no batch still in flight (and when it stops). Only a change of state makes an API call.

Without a group in the worker's `Placement` (`EVISION_ASG_NAME`: a worker not on an instance of
the group) protection is a no-op; the local backend never asks for it: there the supervisor
drains workers with SIGTERM.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING

from services.ports.capacity import NoProtection, Placement, ScaleInProtection

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

log = logging.getLogger(__name__)

IMDS = "http://169.254.169.254"
IMDS_TIMEOUT = 2.0


class AsgScaleInProtection:
    """Turns this instance's scale-in protection on while busy and off when idle."""

    def __init__(self, client: AutoScalingClient, *, asg_name: str, instance_id: str) -> None:
        self._client = client
        self._asg_name = asg_name
        self._instance_id = instance_id
        self.protected = False  # instances start unprotected (the group does not protect new ones)
        self.calls = 0

    def set_busy(self, busy: bool) -> None:
        if busy == self.protected:
            return
        try:
            self.calls += 1
            self._client.set_instance_protection(
                InstanceIds=[self._instance_id],
                AutoScalingGroupName=self._asg_name,
                ProtectedFromScaleIn=busy,
            )
        except Exception as exc:
            # Never fatal, whatever botocore raises (an unparsable error response is not a
            # BotoCoreError): the batch still runs; the state stays as it was, so the next change retries.
            log.warning("could not turn scale-in protection %s: %s", "on" if busy else "off", exc)
            return
        self.protected = busy
        log.info("scale-in protection %s for %s", "on" if busy else "off", self._instance_id)


def imds_get(path: str, *, base: str = IMDS, timeout: float = IMDS_TIMEOUT) -> str:
    """One instance metadata item through IMDSv2 (a session token first, then the item)."""
    token_request = urllib.request.Request(
        f"{base}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    )
    with urllib.request.urlopen(token_request, timeout=timeout) as response:
        token = response.read().decode()
    item_request = urllib.request.Request(
        f"{base}/latest/{path}", headers={"X-aws-ec2-metadata-token": token}
    )
    with urllib.request.urlopen(item_request, timeout=timeout) as response:
        return str(response.read().decode()).strip()


def instance_id_from_imds(timeout: float = IMDS_TIMEOUT, base: str = IMDS) -> str:
    """This EC2 instance's id from IMDSv2."""
    return imds_get("meta-data/instance-id", base=base, timeout=timeout)


def make_protection(placement: Placement, client: Callable[[], AutoScalingClient]) -> ScaleInProtection:
    """Protection for this worker: on an instance of a named group, otherwise a no-op."""
    if not placement.group:
        return NoProtection()
    instance_id = placement.instance_id
    if instance_id is None:
        try:
            instance_id = instance_id_from_imds(base=placement.metadata_url)
        except OSError as exc:
            log.warning("no instance id from the metadata service (%s): scale-in protection is off", exc)
            return NoProtection()
    return AsgScaleInProtection(client(), asg_name=placement.group, instance_id=instance_id)
