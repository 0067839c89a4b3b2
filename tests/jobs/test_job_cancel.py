"""A cancel wins against a real `evision up`: cancelled at once after acceptance of a job over
20 000 files, or in the middle of its planning, the job stays `cancelled` (before the record had
one owner, the planner's last write brought such a job back to `running`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.web.settings import WebSettings
from tests.fixtures import RunningUp, golden_bytes, running_up

# A generous timeout: on a loaded machine an answer may take seconds (the checks wait on states).
HTTP = httpx.Client(timeout=60)

FILES = 20_000


@pytest.fixture(scope="module")
def jobs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("jobs-root")
    (root / "many").mkdir()
    original = root / "cat.jpg"
    original.write_bytes(golden_bytes("cat.jpg"))
    for n in range(FILES):  # hard links: 20 000 keys in a second, one image's bytes
        os.link(original, root / "many" / f"{n:05d}.jpg")
    (root / "few").mkdir()
    os.link(original, root / "few" / "cat.jpg")
    return root


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, jobs_root: Path) -> Iterator[RunningUp]:
    # One image per chunk: 20 000 chunk messages, so planning lasts long enough to be interrupted.
    settings = WebSettings.from_values(jobs_root=jobs_root, job_chunk_size=1, job_monitor_seconds=0.5)
    with running_up(tmp_path_factory.mktemp("data"), "--workers", "1", settings=settings) as up:
        yield up


def _settled(url: str, cancelled: str) -> dict[str, Any]:
    """The cancelled job's state once the service has moved on: a small job created after the
    cancel is done (so the monitor has stepped over both jobs since, and the cancelled job's
    planner has met the cancel at its next save)."""
    control = HTTP.post(f"{url}/v1/jobs", json={"source": "few"}).json()["id"]
    guard = time.monotonic() + 240  # a guard only: the control job ends on its own
    while HTTP.get(f"{url}/v1/jobs/{control}").json()["state"] != "done":
        assert time.monotonic() < guard
        time.sleep(0.2)
    state: dict[str, Any] = HTTP.get(f"{url}/v1/jobs/{cancelled}").json()
    return state


def test_a_cancel_right_after_acceptance_stays_cancelled(service: RunningUp) -> None:
    created = HTTP.post(f"{service.url}/v1/jobs", json={"source": "many"})
    assert created.status_code == 202, created.text
    job = created.json()["id"]
    cancelled = HTTP.delete(f"{service.url}/v1/jobs/{job}")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    state = _settled(service.url, job)
    assert state["state"] == "cancelled" and state["total"] is None, state  # never listed to the end


def test_a_cancel_in_the_middle_of_planning_stays_cancelled(service: RunningUp) -> None:
    job = HTTP.post(f"{service.url}/v1/jobs", json={"source": "many"}).json()["id"]
    guard = time.monotonic() + 120
    while (state := HTTP.get(f"{service.url}/v1/jobs/{job}").json())["chunks_sent"] == 0:
        assert state["state"] == "planning" and time.monotonic() < guard, state
        time.sleep(0.005)
    assert state["state"] == "planning", state  # in the middle: some chunks sent, not all
    cancelled = HTTP.delete(f"{service.url}/v1/jobs/{job}")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    sent_at_cancel = cancelled.json()["chunks_sent"]
    assert 0 < sent_at_cancel < FILES
    final = _settled(service.url, job)
    assert final["state"] == "cancelled" and final["total"] is None, final
    assert final["chunks_sent"] < FILES  # the planner stopped at its next save
