"""The worker loop toggles scale-in protection: on when a receive brings messages, off when idle.

Real model, real local queue, moto's Auto Scaling group for the protection state.
"""

from __future__ import annotations

import boto3
from moto import mock_aws

from model.golden import load_golden
from services.adapters.aws.protection import AsgScaleInProtection
from services.adapters.registry import open_backend
from services.contract import RequestMessage, new_request_id
from services.worker.classifier import load_classifier
from services.worker.runner import Worker
from services.worker.settings import WorkerSettings
from tests.fixtures import settings_for

REPLIES = "protection-replies"


def test_protected_exactly_while_the_worker_holds_messages(tmp_path, monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = WorkerSettings.model_validate(
        {**settings_for("local", tmp_path / "data").model_dump(), "burst_poll_seconds": 0.1, "batch_size": 2}
    )
    backend = open_backend(settings)
    backend.storage.provision(settings, reply_queues=[REPLIES])
    golden = load_golden()[:3]
    for image in golden:  # two batches of at most 2 messages
        request_id, name = new_request_id(), image.name
        backend.storage.blobs(settings.input_bucket).put(request_id, image.read_bytes())
        backend.storage.queue(settings.request_queue).send(
            RequestMessage(id=request_id, image=name, reply_to=REPLIES).model_dump_json()
        )
    with mock_aws():
        client = boto3.client("autoscaling", region_name="us-east-1")
        client.create_launch_configuration(
            LaunchConfigurationName="worker", ImageId="ami-12c6146b", InstanceType="t3.micro"
        )
        client.create_auto_scaling_group(
            AutoScalingGroupName="workers",
            LaunchConfigurationName="worker",
            MinSize=1,
            MaxSize=1,
            AvailabilityZones=["us-east-1a"],
        )
        instance_id = client.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"][0][
            "InstanceId"
        ]
        calls: list[bool] = []
        client.meta.events.register(
            "provide-client-params.autoscaling.SetInstanceProtection",
            lambda params, **_: calls.append(params["ProtectedFromScaleIn"]),
        )
        protection = AsgScaleInProtection(client, asg_name="workers", instance_id=instance_id)
        worker = Worker.on_backend(backend, settings, load_classifier(), protection=protection)
        try:
            assert worker.work(burst=True) == 0
        finally:
            worker.close()
            backend.close()
        state = client.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"][0]
    assert worker.batches == 2 and worker.messages == 3
    assert calls == [True, False]  # on for the first batch, kept for the second, off at the empty receive
    assert state["ProtectedFromScaleIn"] is False
