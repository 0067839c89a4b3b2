"""Worker metrics reach CloudWatch (moto) through the aws backend's sink, as statistic sets under
the shared names; the local backend's sink takes them silently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from services import metric_names as names
from services.adapters.registry import open_backend
from services.ports.telemetry import StatisticSet
from services.worker.metrics import MetricsPublisher
from tests.fixtures import settings_for


def test_one_flush_publishes_the_aggregated_batch_metrics(moto_endpoint: str, tmp_path: Path) -> None:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    backend = open_backend(settings_for("aws", tmp_path))
    publisher = MetricsPublisher(backend.telemetry.metrics_sink(), interval=3600)
    publisher.record_batch(3, 120.0, [40.0, 50.0, 60.0])
    publisher.record_batch(1, 80.0, [30.0])
    publisher.close()  # flushes what is left

    dimensions: list[Any] = [{"Name": names.SERVICE, "Value": names.WORKER}]
    now = datetime.now(UTC)

    def stats(metric: str) -> dict[str, float]:
        [point] = client.get_metric_statistics(
            Namespace=names.NAMESPACE,
            MetricName=metric,
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
            Period=600,
            Statistics=["SampleCount", "Sum", "Maximum"],
        )["Datapoints"]
        return {k: float(point[k]) for k in ("SampleCount", "Sum", "Maximum")}

    assert stats(names.IMAGES_PROCESSED)["Sum"] == 4
    assert stats(names.BATCH_LATENCY) == {"SampleCount": 2, "Sum": 200.0, "Maximum": 120.0}
    assert stats(names.IMAGE_LATENCY) == {"SampleCount": 4, "Sum": 180.0, "Maximum": 60.0}


def test_the_local_backend_takes_metrics_silently(tmp_path: Path) -> None:
    silent = open_backend(settings_for("local", tmp_path)).telemetry.metrics_sink()
    published: list[tuple[int, StatisticSet, StatisticSet | None]] = []

    class Watched:  # what the publisher hands the local sink, and the sink taking it
        def publish(self, images: int, batch_ms: StatisticSet, image_ms: StatisticSet | None) -> None:
            published.append((images, batch_ms, image_ms))
            silent.publish(images, batch_ms, image_ms)  # no cloud to reach, no error

    publisher = MetricsPublisher(Watched(), interval=3600)
    publisher.record_batch(2, 10.0, [5.0, 5.0])
    publisher.close()  # flushes what is left, through the local sink
    assert published == [(2, StatisticSet(1, 10.0, 10.0, 10.0), StatisticSet(2, 10.0, 5.0, 5.0))]
    publisher.flush()  # nothing new: nothing more published
    assert len(published) == 1
