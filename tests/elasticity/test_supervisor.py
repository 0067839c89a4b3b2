"""The supervisor loop on a real local queue with real (toy) worker processes."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from services.elasticity.policy import ScalingPolicy, Step
from services.elasticity.supervisor import Supervisor, SupervisorSettings, decision_line, local_policy
from services.ports.storage import QueueDepth
from services.ports.supervisor import DecisionRecord
from services.status import read_snapshot, status_path
from tests.fixtures import settings_environment, wait_for

PERIOD = 0.2


def test_follows_the_queue_out_and_back_to_zero(local_backend, make_pool, tmp_path, caplog):
    caplog.set_level(logging.INFO, "evision.scaling")
    settings = local_backend.settings
    queue = local_backend.storage.queue(settings.request_queue)
    # Small steps so that a small backlog scales beyond one worker; idle after 3 periods.
    policy = replace(
        ScalingPolicy().local(period_seconds=PERIOD, max_capacity=2),
        scale_out_steps=(Step(20, None, 1),),
        scale_in_idle_periods=3,
        warmup_periods=1,
    )
    pool = make_pool("consume", env=settings_environment(settings))
    records: list[DecisionRecord] = []
    supervisor = Supervisor(
        policy=policy, queue=queue, pool=pool, status_file=status_path(tmp_path), on_decision=records.append
    )
    supervisor.start()
    try:
        wait_for(lambda: len(records) >= 2)
        assert supervisor.desired == 0 and not pool.running  # min 0: nothing runs while idle
        queue.send_batch([f"m{i}" for i in range(300)])  # ~3 s of work for one toy worker
        sent = time.time()
        wait_for(lambda: supervisor.desired == 2, timeout=10)
        wait_for(lambda: queue.depth().outstanding == 0, timeout=30)
        drained = time.time()
        wait_for(lambda: supervisor.desired == 0 and not pool.running and not pool.draining, timeout=10)
        snapshot = read_snapshot(status_path(tmp_path))
    finally:
        supervisor.stop(drain_seconds=10)

    # Counted in the supervisor's own samples (every period is recorded here), not in seconds: a
    # loaded machine runs periods late, but none is skipped.
    first = next(r for r in records if r.visible > 0)
    assert first.desired == 1 and first.reason.startswith("scale from zero")
    samples_before = [r for r in records if sent <= r.time < first.time]
    assert len(samples_before) <= 1  # the first message gets a worker within two samples
    assert max(r.desired for r in records) == 2
    scale_in = next(r for r in records if r.time > drained and r.desired == 0 and r.current > 0)
    assert scale_in.reason.startswith("scale in")
    idle_samples = [r for r in records if drained <= r.time < scale_in.time]
    assert len(idle_samples) <= policy.scale_in_idle_periods + 1
    assert all(not e.requested or e.code == 0 for e in pool.exits)  # drained, never killed
    # Every change was logged as one JSON line and kept in the snapshot.
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "evision.scaling"]
    assert [(x["current"], x["desired"]) for x in lines if x["current"] != x["desired"]] == [
        (r.current, r.desired) for r in records if r.current != r.desired
    ]
    assert snapshot is not None and snapshot.decisions and snapshot.max_workers == 2
    assert not status_path(tmp_path).exists()  # removed at shutdown


def test_what_a_cleanly_exited_worker_still_held_comes_back_at_once(
    local_backend, make_pool, tmp_path, caplog
):
    # A drained worker's last long poll may be cut short by its SIGTERM after it took messages:
    # they come back when it exits (exit code 0 too), not when their 30 s lease runs out.
    settings = local_backend.settings
    queue = local_backend.storage.queue(settings.request_queue)
    queue.send_batch(["a", "b", "c"])
    policy = replace(ScalingPolicy().local(period_seconds=PERIOD, max_capacity=1), min_capacity=1)
    pool = make_pool("take-once", env=settings_environment(settings))
    supervisor = Supervisor(policy=policy, queue=queue, pool=pool)
    supervisor.start()
    try:
        wait_for(lambda: any(e.code == 0 for e in pool.exits))
        assert (tmp_path / "ready" / "taken").read_text() == "3"
        wait_for(lambda: queue.depth().visible == 3, timeout=settings.visibility_timeout / 3)
    finally:
        supervisor.stop(drain_seconds=5)
    assert "exited holding 3 messages: released them for redelivery" in caplog.text


class _Unreadable:
    name = "unreadable"

    def depth(self) -> QueueDepth:
        raise OSError("disk gone")


def test_an_unreadable_queue_keeps_the_workers(make_pool, tmp_path, caplog):
    policy = replace(ScalingPolicy().local(period_seconds=PERIOD), min_capacity=1)
    supervisor = Supervisor(policy=policy, queue=_Unreadable(), pool=make_pool("drain", "0"))  # type: ignore[arg-type]
    supervisor.desired = 1
    assert supervisor.tick() is None
    assert len(supervisor.pool.running) == 1  # still reconciled
    assert "could not read the queue depth" in caplog.text


def test_decision_line_is_one_json_object():
    record = DecisionRecord(
        time=0.0, visible=5, in_flight=2, current=0, desired=1, reason="scale from zero: 5 visible", running=1
    )
    line = decision_line(record)
    assert "\n" not in line
    assert json.loads(line) == {
        "event": "scaling",
        "at": "1970-01-01T00:00:00.000+00:00",
        **record.model_dump(),
    }


def test_local_policy_defaults_to_one_worker_per_core_within_the_policy_max():
    settings = SupervisorSettings()
    policy = local_policy(settings)
    assert policy.period_seconds == 1.0 and policy.min_capacity == 0
    assert policy.max_capacity == min(20, os.cpu_count() or 1)
    assert local_policy(SupervisorSettings(max_workers=64)).max_capacity == 20
    assert local_policy(SupervisorSettings(max_workers=3, min_workers=2, scale_period=0.5)).min_capacity == 2
    fixed = local_policy(settings, fixed=3)
    assert (fixed.min_capacity, fixed.max_capacity) == (3, 3)
    # The step table and period counts are the cloud's.
    assert fixed.scale_out_steps == ScalingPolicy().scale_out_steps


@pytest.mark.parametrize(
    ("settings", "fixed"),
    [
        (SupervisorSettings(min_workers=5, max_workers=2), None),
        (SupervisorSettings(), 21),
        (SupervisorSettings(), 0),
    ],
)
def test_local_policy_rejects_impossible_bounds(settings, fixed):
    with pytest.raises(ValueError, match="worker"):
        local_policy(settings, fixed=fixed)


def test_settings_come_from_the_environment(monkeypatch):
    given = SupervisorSettings.from_values(scale_period=0.5, max_workers=2, min_workers=1)
    for variable, value in given.environment(explicit_only=True).items():
        monkeypatch.setenv(variable, value)
    policy = local_policy(SupervisorSettings())
    assert (policy.period_seconds, policy.min_capacity, policy.max_capacity) == (0.5, 1, 2)


def test_snapshot_path_is_in_the_data_dir(tmp_path: Path):
    assert status_path(tmp_path) == tmp_path / "status.json"
