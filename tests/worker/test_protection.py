"""Scale-in protection: on while a worker holds messages, off when idle, one call per change.

Against moto's Auto Scaling mock (a real group with a real instance id); the error path with
botocore's Stubber, since moto cannot make set_instance_protection fail the way AWS does.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from services.adapters.aws.protection import AsgScaleInProtection, make_protection
from services.adapters.registry import open_backend
from services.ports.capacity import NoProtection, Placement
from services.worker.settings import WorkerSettings
from tests.fixtures import settings_for

REGION = "us-east-1"
GROUP = "workers"


@pytest.fixture
def autoscaling(monkeypatch) -> Iterator[tuple[object, str]]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("autoscaling", region_name=REGION)
        client.create_launch_configuration(
            LaunchConfigurationName="worker", ImageId="ami-12c6146b", InstanceType="t3.micro"
        )
        client.create_auto_scaling_group(
            AutoScalingGroupName=GROUP,
            LaunchConfigurationName="worker",
            MinSize=1,
            MaxSize=1,
            DesiredCapacity=1,
            AvailabilityZones=[f"{REGION}a"],
        )
        group = client.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
        yield client, group["Instances"][0]["InstanceId"]


def _protected(client, instance_id: str) -> bool:
    instances = client.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
    return bool(instances[0]["ProtectedFromScaleIn"])


def test_protected_while_busy_and_released_when_idle(autoscaling):
    client, instance_id = autoscaling
    calls: list[bool] = []
    client.meta.events.register(
        "provide-client-params.autoscaling.SetInstanceProtection",
        lambda params, **_: calls.append(params["ProtectedFromScaleIn"]),
    )
    protection = AsgScaleInProtection(client, asg_name=GROUP, instance_id=instance_id)

    protection.set_busy(False)  # an empty receive on a fresh instance: nothing to change
    assert calls == [] and not _protected(client, instance_id)
    protection.set_busy(True)  # messages received
    assert _protected(client, instance_id)
    protection.set_busy(True)  # the next batch while still protected: no call
    protection.set_busy(False)  # a receive came back empty
    assert not _protected(client, instance_id)
    assert calls == [True, False]


def test_a_failed_call_is_logged_and_retried_on_the_next_change(caplog):
    client = boto3.client(
        "autoscaling", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    expected = {"InstanceIds": ["i-0abc"], "AutoScalingGroupName": GROUP, "ProtectedFromScaleIn": True}
    with Stubber(client) as stub:
        stub.add_client_error(
            "set_instance_protection",
            service_error_code="ValidationError",
            service_message="The instance i-0abc is not in InService or EnteringStandby or Standby.",
            expected_params=expected,
        )
        stub.add_response("set_instance_protection", {}, expected)
        protection = AsgScaleInProtection(client, asg_name=GROUP, instance_id="i-0abc")
        protection.set_busy(True)
        assert not protection.protected
        assert "could not turn scale-in protection on" in caplog.text
        protection.set_busy(True)  # still wanted: tried again
        assert protection.protected
        stub.assert_no_pending_responses()


def test_local_and_unconfigured_workers_get_the_no_op(monkeypatch):
    assert isinstance(make_protection(Placement(), client=_no_client), NoProtection)
    NoProtection().set_busy(True)  # does nothing, needs nothing


def _no_client():
    raise AssertionError("no Auto Scaling client is needed without a group")


def test_aws_workers_of_a_group_get_the_asg_protection(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # The instance id given, so the metadata service is never asked.
    worker = WorkerSettings.from_values(asg_name=GROUP, instance_id="i-0abc")
    protection = open_backend(settings_for("aws", tmp_path)).capacity.scale_in_protection(worker.placement())
    assert isinstance(protection, AsgScaleInProtection)
    local = open_backend(settings_for("local", tmp_path))
    assert isinstance(local.capacity.scale_in_protection(worker.placement()), NoProtection)
    assert not protection.protected


def test_an_unparsable_error_response_does_not_escape(caplog):
    """moto answers 500 with a body botocore cannot parse (a ResponseParserError, not a
    BotoCoreError); protection is best-effort and must never stop the worker loop."""
    from botocore.parsers import ResponseParserError

    class Broken:
        def set_instance_protection(self, **_: object) -> None:
            raise ResponseParserError("unable to parse the error response")

    protection = AsgScaleInProtection(Broken(), asg_name=GROUP, instance_id="i-0abc")  # type: ignore[arg-type]
    protection.set_busy(True)
    assert not protection.protected
    assert "could not turn scale-in protection on" in caplog.text
