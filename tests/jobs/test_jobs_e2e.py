"""Batch jobs end to end on `evision up` (local backend): a folder in, every image once in the
JSON Lines out with its label, per-item errors, progress, idempotent resubmission, cancel, the
signed webhook at the end; and the one error vocabulary for what is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.jobs.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from services.web.settings import WebSettings
from tests.fixtures import Receiver, RunningUp, make_folder, running_up, webhook_receiver

SECRET = "whsec-e2e-0123456789abcdef"


@pytest.fixture(scope="module")
def jobs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs-root")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, jobs_root: Path) -> Iterator[RunningUp]:
    settings = WebSettings.from_values(
        jobs_root=jobs_root,
        job_chunk_size=7,
        job_monitor_seconds=0.5,
        webhook_secret=SECRET,
        webhook_allow_private=True,  # the receiver listens on 127.0.0.1
    )
    with running_up(tmp_path_factory.mktemp("data"), "--workers", "1", settings=settings) as up:
        yield up


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver(fail_first=1) as receiver:
        yield receiver


def wait_done(url: str, job: str, timeout: float = 240) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, object] = httpx.get(f"{url}/v1/jobs/{job}").json()
        if state["state"] in ("done", "cancelled"):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.2)


def test_a_folder_job_gives_every_image_once_with_its_label_and_a_signed_webhook(
    service: RunningUp, jobs_root: Path, receiver: Receiver
) -> None:
    (jobs_root / "photos").mkdir()
    expected = make_folder(jobs_root / "photos")
    spec = {"source": "photos", "top_k": 3, "webhook": receiver.url, "output": "results/photos"}
    created = httpx.post(f"{service.url}/v1/jobs", json=spec, headers={"Idempotency-Key": "job-one"})
    assert created.status_code == 202, created.text
    job = created.json()["id"]
    again = httpx.post(f"{service.url}/v1/jobs", json=spec, headers={"Idempotency-Key": "job-one"})
    assert again.status_code == 202 and again.json()["id"] == job  # resumed, not restarted
    final = wait_done(service.url, job)
    assert final["state"] == "done"
    assert final["total"] == final["done"] == len(expected) + 1 and final["failed"] == 1
    lines = [json.loads(line) for line in httpx.get(f"{service.url}/v1/jobs/{job}/results").text.splitlines()]
    keys = [line["key"] for line in lines]
    assert len(keys) == len(set(keys)) == len(expected) + 1  # none missing, none twice
    for line in lines:
        if line["key"] == "notes.txt":
            assert line["error"]["kind"] == "not_an_image"
        else:
            assert line["label"] in expected[line["key"]] and len(line["top"]) == 3, line
    assert receiver.received.wait(30)
    headers, body = receiver.deliveries[0]
    assert receiver.attempts >= 2  # the first attempt was refused, the retry delivered
    assert headers[DELIVERY_HEADER] == job and verify(SECRET, headers[SIGNATURE_HEADER], body)
    manifest = json.loads(body)["manifest"]
    assert manifest["total"] == len(expected) + 1 and manifest["failed"] == 1
    # The copy in the output location: the parts (the same lines, none twice), then _SUCCESS.
    out = jobs_root / "results" / "photos"
    copied = [
        json.loads(line)
        for part in sorted(out.glob("part-*.jsonl"))
        for line in part.read_text().splitlines()
    ]
    assert copied == lines
    assert json.loads((out / "_SUCCESS.json").read_text())["total"] == len(expected) + 1
    assert json.loads((out / "_JOB.json").read_text())["job"] == job  # written when it was accepted
    listed = httpx.get(f"{service.url}/v1/jobs").json()
    assert job in [j["id"] for j in listed]


def test_what_a_job_cannot_do_is_a_4xx_in_the_error_vocabulary(service: RunningUp, jobs_root: Path) -> None:
    outside = httpx.post(f"{service.url}/v1/jobs", json={"source": "/etc"})
    assert outside.status_code == 422 and outside.json()["error"] == "invalid_request"
    assert "jobs root" in outside.json()["reason"]
    missing = httpx.post(f"{service.url}/v1/jobs", json={"source": "no-such-folder"})
    assert missing.status_code == 422
    unknown = httpx.get(f"{service.url}/v1/jobs/{'0' * 32}")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    escape = httpx.post(f"{service.url}/v1/jobs", json={"source": "photos", "output": "/tmp/elsewhere"})
    assert (
        escape.status_code == 422 and "output must be a folder under the jobs root" in escape.json()["reason"]
    )
    (jobs_root / "a-file").write_text("not a folder")
    unwritable = httpx.post(f"{service.url}/v1/jobs", json={"source": "photos", "output": "a-file/labels"})
    assert unwritable.status_code == 422 and "cannot write" in unwritable.json()["reason"], unwritable.text
    bad = httpx.post(f"{service.url}/v1/jobs", json={"source": "x", "top_k": 9})
    assert bad.status_code == 422 and "error" in bad.json()
    (jobs_root / "reused").mkdir()
    make_folder(jobs_root / "reused", copies=1)
    first = httpx.post(f"{service.url}/v1/jobs", json={"source": "reused"}, headers={"Idempotency-Key": "k2"})
    other = httpx.post(f"{service.url}/v1/jobs", json={"source": "photos"}, headers={"Idempotency-Key": "k2"})
    assert first.status_code == 202 and other.status_code == 422


def test_a_cancelled_job_stops_and_keeps_what_is_done(service: RunningUp, jobs_root: Path) -> None:
    (jobs_root / "big").mkdir()
    make_folder(jobs_root / "big", copies=40)
    job = httpx.post(f"{service.url}/v1/jobs", json={"source": "big"}).json()["id"]
    cancelled = httpx.delete(f"{service.url}/v1/jobs/{job}")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    time.sleep(2)
    state = httpx.get(f"{service.url}/v1/jobs/{job}").json()
    assert state["state"] == "cancelled" and (state["total"] is None or state["done"] < state["total"])
