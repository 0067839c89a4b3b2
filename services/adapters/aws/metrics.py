"""Worker metrics as CloudWatch statistic sets: a few datapoints a minute, whatever the load."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services import metric_names as names
from services.ports.telemetry import StatisticSet

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

log = logging.getLogger(__name__)


class CloudWatchMetricsSink:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def publish(self, images: int, batch_ms: StatisticSet, image_ms: StatisticSet | None) -> None:
        now = datetime.now(UTC)
        dimensions = [{"Name": names.SERVICE, "Value": names.WORKER}]
        data: list[dict[str, Any]] = [
            {
                "MetricName": names.IMAGES_PROCESSED,
                "Dimensions": dimensions,
                "Timestamp": now,
                "Value": images,
                "Unit": "Count",
            },
        ]
        for metric, stat in ((names.BATCH_LATENCY, batch_ms), (names.IMAGE_LATENCY, image_ms)):
            if stat is not None:
                data.append(
                    {
                        "MetricName": metric,
                        "Dimensions": dimensions,
                        "Timestamp": now,
                        "Unit": "Milliseconds",
                        "StatisticValues": {
                            "SampleCount": stat.count,
                            "Sum": stat.total,
                            "Minimum": stat.low,
                            "Maximum": stat.high,
                        },
                    }
                )
        try:
            self._client.put_metric_data(Namespace=names.NAMESPACE, MetricData=data)  # type: ignore[arg-type]
        except Exception:
            log.warning("could not publish metrics", exc_info=True)
