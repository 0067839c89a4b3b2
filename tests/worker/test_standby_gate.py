"""The standby's gate: open while the group has no worker in service, asked at most every
`recheck_seconds`, resumes when the group is back at zero, and rides out a failing count."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.adapters.local.in_service import LocalInService
from services.worker.standby import StandbyGate


class Gauge:
    def __init__(self) -> None:
        self.count: int | Exception = 0
        self.asked = 0

    def in_service(self) -> int:
        self.asked += 1
        if isinstance(self.count, Exception):
            raise self.count
        return self.count


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_open_at_zero_closed_once_a_worker_serves_and_open_again_back_at_zero():
    gauge, clock = Gauge(), Clock()
    gate = StandbyGate(gauge, recheck_seconds=5.0, clock=clock)
    assert gate.is_open()
    gauge.count = 1
    clock.now = 4.9
    assert gate.is_open()  # not asked again within the recheck period
    assert gauge.asked == 1
    clock.now = 5.0
    assert not gate.is_open()
    gauge.count = 0  # scaled back to zero (e.g. into the warm pool)
    clock.now = 10.0
    assert gate.is_open()
    assert gauge.asked == 3


def test_a_failing_count_keeps_the_last_answer_and_bridges_when_never_known(caplog):
    gauge, clock = Gauge(), Clock()
    gauge.count = RuntimeError("throttled")
    gate = StandbyGate(gauge, recheck_seconds=1.0, clock=clock)
    assert gate.is_open()  # unknown: bridging is what the standby is for
    gauge.count = 2
    clock.now = 1.0
    assert not gate.is_open()
    gauge.count = RuntimeError("throttled")
    clock.now = 2.0
    assert not gate.is_open()  # still closed: an API error must not flap it open
    assert "cannot count" in caplog.text


def test_local_workers_count_while_their_process_lives(tmp_path):
    markers = LocalInService(tmp_path / "in-service")
    assert markers.in_service() == 0
    markers.mark(os.getpid())
    command = [sys.executable, "-c", "import os; print(os.getpid())"]
    gone = subprocess.run(command, capture_output=True, text=True, check=True)
    markers.mark(int(gone.stdout))  # a worker that exited without unmarking
    assert markers.in_service() == 1
    assert sorted(p.name for p in (tmp_path / "in-service").iterdir()) == [str(os.getpid())]


@pytest.mark.parametrize("group", [None, ""])
def test_a_standby_on_aws_needs_the_group_it_bridges(moto_endpoint, tmp_path, group):
    from services.adapters.registry import open_backend
    from tests.fixtures import settings_for

    backend = open_backend(settings_for("aws", tmp_path))
    with pytest.raises(ValueError, match="Auto Scaling group"):
        backend.capacity.worker_group_gauge(group)
    backend.close()
