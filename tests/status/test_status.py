"""The status report: snapshot file, live queue depth, `evision status` and `GET /v1/status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.ports.backend import Backend
from services.ports.storage import QueueDepth
from services.ports.supervisor import DecisionRecord, SupervisorSnapshot
from services.status import (
    collect_status,
    read_snapshot,
    status_path,
    write_snapshot,
)
from services.web.main import create_app
from services.web.settings import WebSettings
from tests.fixtures import settings_environment, settings_for

ROOT = Path(__file__).parents[2]


def _snapshot(updated_at: float | None = None, **fields: object) -> SupervisorSnapshot:
    decision = DecisionRecord(
        time=time.time(),
        visible=7,
        in_flight=3,
        current=0,
        desired=1,
        reason="scale from zero: 7 visible",
        running=1,
    )
    values: dict[str, object] = {
        "pid": os.getpid(),
        "updated_at": time.time() if updated_at is None else updated_at,
        "period_seconds": 1.0,
        "min_workers": 0,
        "max_workers": 2,
        "desired": 1,
        "running": 1,
        "draining": 0,
        "restarts": 0,
        "decisions": [decision],
    }
    values.update(fields)
    return SupervisorSnapshot.model_validate(values)


def test_snapshot_round_trip_leaves_no_temporary_files(tmp_path):
    path = status_path(tmp_path)
    assert read_snapshot(path) is None
    write_snapshot(path, _snapshot(desired=1))
    write_snapshot(path, _snapshot(desired=2))
    snapshot = read_snapshot(path)
    assert snapshot is not None and snapshot.desired == 2
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]
    path.write_text("{half a snap")  # e.g. written by something else: ignored, not a crash
    assert read_snapshot(path) is None


@pytest.mark.parametrize(
    ("capacity_manager", "age", "managed_by"),
    [
        (None, 0.0, "local supervisor"),
        (None, 3600.0, "nothing"),  # a stale snapshot: the supervisor is gone
        ("auto scaling group", 3600.0, "auto scaling group"),
        ("auto scaling group", 0.0, "local supervisor"),  # `evision up --backend aws`
    ],
)
def test_who_manages_the_workers(tmp_path, capacity_manager, age, managed_by):
    write_snapshot(status_path(tmp_path), _snapshot(updated_at=time.time() - age))
    report = collect_status(
        backend="any",
        capacity_manager=capacity_manager,
        queue_name="q",
        depth=lambda: QueueDepth(4, 2),
        supervisor=lambda: read_snapshot(status_path(tmp_path)),
    )
    assert report.workers_managed_by == managed_by
    assert (report.supervisor is not None) == (managed_by == "local supervisor")
    assert (report.queue.visible, report.queue.in_flight, report.queue.error) == (4, 2, None)


def test_an_unreadable_queue_is_reported_not_raised(tmp_path):
    def broken() -> QueueDepth:
        raise PermissionError("sqs:GetQueueAttributes denied")

    report = collect_status(
        backend="aws", capacity_manager=None, queue_name="q", depth=broken, supervisor=lambda: None
    )
    assert report.queue.visible is None
    assert report.queue.error == "PermissionError: sqs:GetQueueAttributes denied"


def test_each_backend_reads_the_local_supervisors_snapshot(backend: Backend) -> None:
    """Through the capacity role: none before `evision up`'s supervisor writes one (in the cloud,
    never), then its last one, on either backend (`evision up --backend aws` runs one too)."""
    assert backend.capacity.supervisor_status() is None
    written = _snapshot(desired=2)
    write_snapshot(status_path(backend.settings.data_dir), written)
    assert backend.capacity.supervisor_status() == written


def _with_messages(tmp_path: Path, count: int):
    from services.adapters.registry import open_backend

    settings = settings_for("local", tmp_path / "data")
    backend = open_backend(settings)
    backend.storage.provision(settings)
    backend.storage.queue(settings.request_queue).send_batch([f"m{i}" for i in range(count)])
    backend.close()
    return settings


def test_evision_status_prints_the_table_and_the_json(tmp_path):
    settings = _with_messages(tmp_path, 5)
    write_snapshot(status_path(settings.data_dir), _snapshot())
    env = {**os.environ, **settings_environment(settings), "COLUMNS": "160"}
    command = [sys.executable, "-m", "services.cli", "status"]
    as_json = subprocess.run(
        [*command, "--json"], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    report = json.loads(as_json.stdout)
    assert report["queue"] == {"name": settings.request_queue, "visible": 5, "in_flight": 0, "error": None}
    assert report["workers_managed_by"] == "local supervisor"
    assert report["supervisor"]["decisions"][0]["reason"] == "scale from zero: 7 visible"
    table = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "5 visible, 0 in flight" in table
    assert "1 running, 1 desired" in table
    assert "scale from zero: 7 visible" in table


def test_get_v1_status_returns_the_same_report(tmp_path):
    settings = _with_messages(tmp_path, 3)
    write_snapshot(status_path(settings.data_dir), _snapshot())
    web = WebSettings.model_validate({**settings.model_dump(), "reply_queue_prefix": "status-replies"})
    with TestClient(create_app(web)) as client:
        response = client.get("/v1/status")
    assert response.status_code == 200
    body = response.json()
    assert (body["backend"], body["queue"]["visible"], body["workers_managed_by"]) == (
        "local",
        3,
        "local supervisor",
    )
    assert body["supervisor"]["desired"] == 1
