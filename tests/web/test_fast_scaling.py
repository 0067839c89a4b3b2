"""The web tier's part in fast scaling, through a real `evision web` on the aws backend (moto):
an upload while the worker group is at zero raises it at once, and the queue depth is published
as a high-resolution metric for the fast alarms."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx

from services import metric_names as names
from services.adapters.registry import open_backend
from services.web.settings import WebSettings
from tests.fixtures import emulated_group, free_port, golden_bytes, settings_for, wait_until_healthy

ROOT = Path(__file__).parents[2]


def _desired(name: str) -> int:
    [group] = boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    return int(group["DesiredCapacity"])


def test_an_upload_activates_the_group_from_zero_and_the_depth_is_published(moto_endpoint, tmp_path):
    backend_settings = settings_for("aws", tmp_path)
    group = f"{backend_settings.request_queue}-workers"
    emulated_group(group, size=0, most=3)
    settings = WebSettings.from_values(
        **backend_settings.model_dump(),
        reply_queue_prefix=f"{backend_settings.request_queue}-replies",
        wait_seconds=1.0,
        reply_poll_seconds=1.0,
        worker_group=group,
        scale_from_zero_to=2,
        depth_metric_seconds=1.0,
    )
    backend = open_backend(settings)
    backend.storage.provision(settings)
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "web", "--port", str(port)],
        env={**os.environ, **settings.environment()},
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, web)
        assert _desired(group) == 0
        started = time.monotonic()
        response = httpx.post(
            f"{url}/upload", files={"myfile": ("cat.jpg", golden_bytes("cat.jpg"))}, timeout=30
        )
        assert response.status_code == 202  # no worker runs here: the answer is pending
        while _desired(group) == 0 and time.monotonic() - started < 10:
            time.sleep(0.2)
        assert _desired(group) == 2  # scale_from_zero_to, at once, not after a metric
        # The depth the fast alarms read: 1 visible message, as a high-resolution datapoint.
        cloudwatch = boto3.client("cloudwatch")
        deadline = time.monotonic() + 10
        values: list[float] = []
        while not values and time.monotonic() < deadline:
            now = dt.datetime.now(dt.UTC)
            stats = cloudwatch.get_metric_statistics(
                Namespace=names.NAMESPACE,
                MetricName=names.QUEUE_VISIBLE,
                Dimensions=[{"Name": names.QUEUE, "Value": settings.request_queue}],
                StartTime=now - dt.timedelta(minutes=5),
                EndTime=now + dt.timedelta(minutes=1),
                Period=60,
                Statistics=["Maximum"],
            )
            values = [point["Maximum"] for point in stats["Datapoints"]]
            time.sleep(0.2)
        assert values and max(values) >= 1
    finally:
        web.terminate()
        web.wait(30)
        backend.close()
