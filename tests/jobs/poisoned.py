"""A job over golden images and one bad image, run to its end on a real `evision up` whose worker
uses one of tests.worker.poison's classifiers: shared by the poison and the hang tests."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings
from tests.fixtures import GOLDEN, golden_bytes, running_up

# A generous timeout: on a loaded machine an answer may take seconds (the checks wait on states).
HTTP = httpx.Client(timeout=60)

CHUNK = 8
BAD = "010-bad.jpg"  # mid-chunk: the second chunk of three


@dataclass
class JobRun:
    expected: dict[str, set[str]]  # the golden images' keys -> their labels
    state: dict[str, Any]  # the job's final status
    lines: list[dict[str, Any]]  # its results
    output: str  # the service's log
    seconds: float  # from the POST to `done`


def run_poisoned_job(tmp_path: Path, bad: bytes, worker: WorkerSettings) -> JobRun:
    """12 golden images (4 each) and `bad` as BAD, in chunks of CHUNK, on one worker."""
    source = tmp_path / "jobs" / "photos"
    source.mkdir(parents=True)
    expected: dict[str, set[str]] = {}
    for n, (name, labels) in enumerate([item for item in GOLDEN.items() for _ in range(4)]):
        key = f"{n:03d}-{name}"
        (source / key).write_bytes(golden_bytes(name))
        expected[key] = labels
    (source / BAD).write_bytes(bad)
    settings = [
        worker,
        WebSettings.from_values(jobs_root=tmp_path / "jobs", job_chunk_size=CHUNK, job_monitor_seconds=0.5),
    ]
    repo = str(Path(__file__).resolve().parents[2])
    with running_up(tmp_path / "data", "--workers", "1", settings=settings, PYTHONPATH=repo) as up:
        created = HTTP.post(f"{up.url}/v1/jobs", json={"source": "photos"})
        assert created.status_code == 202, created.text
        job = created.json()["id"]
        started = time.monotonic()
        guard = started + 240  # a guard only: the job ends on its own
        while (state := HTTP.get(f"{up.url}/v1/jobs/{job}").json())["state"] != "done":
            assert state["state"] in ("planning", "running") and time.monotonic() < guard, state
            time.sleep(0.2)
        seconds = time.monotonic() - started
        lines = [json.loads(line) for line in HTTP.get(f"{up.url}/v1/jobs/{job}/results").text.splitlines()]
    return JobRun(expected=expected, state=state, lines=lines, output=up.output, seconds=seconds)


def check_fails_alone(run: JobRun, reason: str) -> None:
    """Every image once; BAD `failed` (classified alone, `reason` in the why), the rest labelled."""
    assert run.state["total"] == len(run.expected) + 1 and run.state["failed"] == 1, run.state
    assert sorted(line["key"] for line in run.lines) == sorted([*run.expected, BAD])  # none missing or twice
    for line in run.lines:
        if line["key"] == BAD:
            assert line["error"]["kind"] == "failed" and "alone" in line["error"]["reason"], line
            assert reason in line["error"]["reason"], line
        else:
            assert line["label"] in run.expected[line["key"]], line
