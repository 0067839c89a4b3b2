"""An image that hangs the decoder inside a job chunk, against a real `evision up`: the chunk is
given up at the batch deadline (not held for ever by its visibility heartbeat), received again and
classified image by image in the isolation helper; the hung image gets a `failed` line alone and
its chunk-mates their labels.

The worker's classifier is the real model wrapped by tests.worker.poison, whose decoder never
returns for an image ending in HANG (in the worker and in the isolation helper alike).
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
from tests.worker.poison import HANG

CHUNK = 8
HUNG = "010-hang.jpg"  # mid-chunk: the second chunk of three
DEADLINE = 6.0  # the batch deadline, short so the test is too; a chunk of 8 takes well under 1 s


def test_an_image_that_hangs_the_decoder_in_a_chunk_fails_alone_and_its_chunk_mates_get_labels(
    tmp_path: Path,
) -> None:
    source = tmp_path / "jobs" / "photos"
    source.mkdir(parents=True)
    expected: dict[str, set[str]] = {}
    for n, (name, labels) in enumerate([item for item in GOLDEN.items() for _ in range(4)]):
        key = f"{n:03d}-{name}"
        (source / key).write_bytes(golden_bytes(name))
        expected[key] = labels
    (source / HUNG).write_bytes(golden_bytes("cat.jpg") + HANG)
    settings = [
        WorkerSettings.from_values(
            classifier="tests.worker.poison:hanging_classifier", batch_deadline=DEADLINE
        ),
        WebSettings.from_values(jobs_root=tmp_path / "jobs", job_chunk_size=CHUNK, job_monitor_seconds=0.5),
    ]
    repo = str(Path(__file__).resolve().parents[2])
    with running_up(tmp_path / "data", "--workers", "1", settings=settings, PYTHONPATH=repo) as up:
        created = httpx.post(f"{up.url}/v1/jobs", json={"source": "photos"})
        assert created.status_code == 202, created.text
        job = created.json()["id"]
        started = time.monotonic()
        # A guard only: before the deadline existed, the heartbeat held the chunk for ever.
        guard = started + 240
        while (state := httpx.get(f"{up.url}/v1/jobs/{job}").json())["state"] != "done":
            assert state["state"] in ("planning", "running") and time.monotonic() < guard, state
            time.sleep(0.2)
        took = time.monotonic() - started
        lines = [json.loads(line) for line in httpx.get(f"{up.url}/v1/jobs/{job}/results").text.splitlines()]
    print(f"job with a hung image done in {took:.1f} s (batch deadline {DEADLINE:g} s)")
    assert state["total"] == len(expected) + 1 and state["failed"] == 1, state
    assert sorted(line["key"] for line in lines) == sorted([*expected, HUNG])  # none missing or twice
    for line in lines:
        if line["key"] == HUNG:
            assert line["error"]["kind"] == "failed", line
            assert "alone" in line["error"]["reason"] and "still running" in line["error"]["reason"], line
        else:
            assert line["label"] in expected[line["key"]], line
    assert "the batch deadline" in up.output and "received again" in up.output, up.output[-3000:]
