"""Worker metrics: aggregated in memory, published once an interval through the backend's sink.

Statistic sets (count, sum, min, max) keep the cost at a few datapoints per interval whatever
the load. Off by default (`EVISION_METRICS=true` turns it on); the cloud instances enable it,
and there the sink is CloudWatch (`Backend.telemetry.metrics_sink`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from services.ports.telemetry import MetricsSink, StatisticSet


@dataclass
class _Stat:
    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def frozen(self) -> StatisticSet | None:
        return StatisticSet(self.count, self.total, self.low, self.high) if self.count else None


class MetricsPublisher:
    def __init__(self, sink: MetricsSink, *, interval: float = 60.0) -> None:
        self._sink = sink
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
            images, batch, image = self._images, self._batch.frozen(), self._image.frozen()
            self._images, self._batch, self._image = 0, _Stat(), _Stat()
        if batch is not None:  # nothing happened: nothing to publish
            self._sink.publish(images, batch, image)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
