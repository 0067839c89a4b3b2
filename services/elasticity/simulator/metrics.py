"""The metrics an alarm or a controller sees: samples at a resolution, visible after a lag.

One `MetricSeries` per source (SQS's own 1-minute metrics; a high-resolution custom metric), each
sampling the queue (visible, visible + in flight) and the group's desired capacity. An alarm reads
per-period Maximum values of the periods that have ended and whose data has arrived; a period with
no sample yet is missing data (treated as not breaching, as `infra/scaling.py` configures).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from services.elasticity.alarms import AlarmMetric

EPSILON = 1e-9


@dataclass
class MetricSeries:
    resolution: float
    lag: float
    times: list[float] = field(default_factory=list)
    values: dict[AlarmMetric, list[float]] = field(
        default_factory=lambda: {"visible": [], "outstanding": [], "visible_at_zero": []}
    )

    def record(self, t: float, *, visible: int, in_flight: int, desired: int) -> None:
        self.times.append(t)
        self.values["visible"].append(visible)
        self.values["outstanding"].append(visible + in_flight)
        self.values["visible_at_zero"].append(visible if desired < 1 else 0)

    def period_maxima(self, metric: AlarmMetric, period: float, now: float, count: int) -> list[float | None]:
        """The Maximum of each of the last `count` periods ended by `now`, oldest first, over the
        samples that have arrived by then (taken at least `lag` s ago)."""
        seen_until = now - self.lag + EPSILON
        last_end = (int((now + EPSILON) // period)) * period  # end of the last whole period
        seen = bisect.bisect_right(self.times, seen_until)
        if seen:  # delayed data: the alarm evaluates the latest periods whose data is all in
            newest = self.times[seen - 1]
            last_end = min(last_end, int((newest + self.resolution + EPSILON) // period) * period)
        values = self.values[metric]
        result: list[float | None] = []
        for index in range(count, 0, -1):
            end = last_end - (index - 1) * period
            start = end - period
            lo = bisect.bisect_left(self.times, start - EPSILON)
            hi = min(bisect.bisect_left(self.times, end - EPSILON), seen)
            result.append(max(values[lo:hi]) if hi > lo else None)
        return result

    @property
    def last_idle(self) -> bool:
        """Whether the latest sample showed nothing visible and nothing in flight (or none yet)."""
        return not self.times or self.values["outstanding"][-1] == 0
