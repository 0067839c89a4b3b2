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
        """The Maximum of each of the last `count` whole periods seen by `now`, oldest first."""
        seen_until = now - self.lag  # samples taken after this have not arrived yet
        last_end = (int((seen_until + EPSILON) // period)) * period  # end of the last whole period
        values = self.values[metric]
        result: list[float | None] = []
        for index in range(count, 0, -1):
            end = last_end - (index - 1) * period
            start = end - period
            lo = bisect.bisect_left(self.times, start - EPSILON)
            hi = bisect.bisect_left(self.times, end - EPSILON)
            result.append(max(values[lo:hi]) if hi > lo else None)
        return result
