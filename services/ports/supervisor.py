"""The local supervisor's snapshot: what `capacity.supervisor_status` answers (the supervisor
writes it once per period; services/status.py keeps it in a file and reads it back)."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

# A snapshot older than this many periods (and at least STALE_MIN_SECONDS) means no supervisor runs.
STALE_PERIODS = 5
STALE_MIN_SECONDS = 10.0


class DecisionRecord(BaseModel):
    """One scaling decision: the sample it was made on and what it decided (also the log line)."""

    time: float = Field(description="Unix time of the sample")
    visible: int
    in_flight: int
    current: int = Field(description="desired capacity before the decision")
    desired: int
    reason: str
    running: int = Field(description="worker processes running (not draining) after reconciling")
    draining: int = Field(default=0, description="worker processes finishing their batch before exiting")


class SupervisorSnapshot(BaseModel):
    """The local supervisor's state, written once per period."""

    pid: int
    updated_at: float
    period_seconds: float
    min_workers: int
    max_workers: int
    desired: int
    running: int
    draining: int
    restarts: int = Field(description="workers restarted after an unexpected exit")
    decisions: list[DecisionRecord] = Field(description="recent decisions, oldest first")

    def stale(self, now: float | None = None) -> bool:
        age = (time.time() if now is None else now) - self.updated_at
        return age > max(STALE_MIN_SECONDS, STALE_PERIODS * self.period_seconds)
