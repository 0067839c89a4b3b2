"""A poison image in a batch job (one that crashes its decoder) against a real `evision up`: it
gets a `failed` line alone, and every other image of its chunk gets its label.

The worker's classifier is the real model wrapped by tests.worker.poison, which segfaults the
process that decodes an image ending in POISON: the worker dies with the chunk in hand, the
chunk comes back, and its images are then classified one by one in the isolation helper.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings
from tests.e2e.images import GOLDEN, golden_bytes
from tests.fixtures import running_up
from tests.worker.poison import POISON

CHUNK = 8
POISONED = "010-poison.jpg"  # mid-chunk: the second chunk of three


def test_a_poison_image_in_a_job_fails_alone_and_its_chunk_mates_get_their_labels(tmp_path: Path) -> None:
    source = tmp_path / "jobs" / "photos"
    source.mkdir(parents=True)
    expected: dict[str, set[str]] = {}
    for n, (name, labels) in enumerate([item for item in GOLDEN.items() for _ in range(4)]):
        key = f"{n:03d}-{name}"
        (source / key).write_bytes(golden_bytes(name))
        expected[key] = labels
    (source / POISONED).write_bytes(golden_bytes("cat.jpg") + POISON)
    settings = [
        WorkerSettings.from_values(classifier="tests.worker.poison:crashing_classifier"),
        WebSettings.from_values(jobs_root=tmp_path / "jobs", job_chunk_size=CHUNK, job_monitor_seconds=0.5),
    ]
    repo = str(Path(__file__).resolve().parents[2])
    with running_up(tmp_path / "data", "--workers", "1", settings=settings, PYTHONPATH=repo) as up:
        created = httpx.post(f"{up.url}/v1/jobs", json={"source": "photos"})
        assert created.status_code == 202, created.text
        job = created.json()["id"]
        deadline = time.monotonic() + 240  # a guard only: the job ends on its own
        while (state := httpx.get(f"{up.url}/v1/jobs/{job}").json())["state"] != "done":
            assert state["state"] == "running" and time.monotonic() < deadline, state
            time.sleep(0.2)
        lines = [json.loads(line) for line in httpx.get(f"{up.url}/v1/jobs/{job}/results").text.splitlines()]
    assert state["total"] == len(expected) + 1 and state["failed"] == 1, state
    assert sorted(line["key"] for line in lines) == sorted([*expected, POISONED])  # none missing or twice
    for line in lines:
        if line["key"] == POISONED:
            assert line["error"]["kind"] == "failed" and "alone" in line["error"]["reason"], line
        else:
            assert line["label"] in expected[line["key"]], line
    assert "received again" in up.output and "isolated classifier started" in up.output
