"""The telemetry role: the workers' metrics and the request queue's depth, where the cloud's
alarms read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.ports.storage import QueueDepth


@dataclass(frozen=True, slots=True)
class StatisticSet:
    """Values summarised as count, sum, minimum and maximum (a CloudWatch statistic set)."""

    count: int
    total: float
    low: float
    high: float


class MetricsSink(Protocol):
    """Where a worker publishes what it did in one interval (cloud: CloudWatch metrics)."""

    def publish(self, images: int, batch_ms: StatisticSet, image_ms: StatisticSet | None) -> None: ...


class DepthReporter(Protocol):
    """Publishes the request queue's depth where the cloud's fast scaling alarms read it."""

    def report(self, queue: str, depth: QueueDepth) -> None: ...


class Silent:
    """Where the backend has no cloud metrics to publish (e.g. local: the supervisor reads the
    queue itself every period)."""

    def report(self, queue: str, depth: QueueDepth) -> None:
        return None

    def publish(self, images: int, batch_ms: StatisticSet, image_ms: StatisticSet | None) -> None:
        return None


class Telemetry(Protocol):
    """The telemetry role of a backend: where workers and the web tier publish what the cloud's
    alarms and dashboards read (Silent: nowhere)."""

    def metrics_sink(self) -> MetricsSink:
        """Where workers publish their metrics."""
        ...

    def depth_reporter(self) -> DepthReporter:
        """Where the web tier publishes the queue depth for the fast alarms."""
        ...
