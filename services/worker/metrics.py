"""Worker metrics for CloudWatch: aggregated in memory, one PutMetricData call per minute.

Statistic sets (count, sum, min, max) keep the cost at a few datapoints per minute whatever the
load. Off by default (EVISION_METRICS=true turns it on); the cloud instances enable it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services import metric_names as names

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

log = logging.getLogger(__name__)


@dataclass
class _Stat:
    count: float = 0.0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)


class MetricsPublisher:
    def __init__(self, client: CloudWatchClient, *, interval: float = 60.0) -> None:
        self._client = client
        self._interval = interval
        self._lock = threading.Lock()
        self._images = 0
        self._batch = _Stat()
        self._image = _Stat()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)
        self._thread.start()

    def record_batch(self, images: int, batch_ms: float, image_latencies_ms: list[float]) -> None:
        with self._lock:
            self._images += images
            self._batch.add(batch_ms)
            for value in image_latencies_ms:
                self._image.add(value)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()

    def flush(self) -> None:
        with self._lock:
            images, batch, image = self._images, self._batch, self._image
            self._images, self._batch, self._image = 0, _Stat(), _Stat()
        if not batch.count:
            return
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
        for metric, stat in ((names.BATCH_LATENCY, batch), (names.IMAGE_LATENCY, image)):
            if stat.count:
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

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
