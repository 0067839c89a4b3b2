"""The S3 and SQS requests one upload makes, counted against moto, are the ones the bill charges.

The service runs for real (a web process and a worker, on a moto server whose WSGI application
counts every request), takes golden uploads one at a time, and the requests they made are compared
with `UPLOAD_REQUESTS`, the table `evision simulate` prices. A change that adds a call per upload
fails here until the table (and so the bill) says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
import pytest

from services.adapters.aws.emulator import Emulator
from services.adapters.registry import open_backend
from services.elasticity.simulator.deployment import Deployment
from services.elasticity.simulator.requests import (
    JOB_CHUNK,
    JOB_REQUESTS,
    TIME_BASED,
    UPLOAD_REQUESTS,
    Clocks,
    idle_requests_per_second,
)
from services.settings import BackendSettings
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings
from tests.fixtures import GOLDEN, emulating, free_port, golden_bytes, settings_for, stop, wait_until_healthy

LONE_UPLOADS = 12
IDLE_SECONDS = 12.0
# Short clocks, so that every background loop runs several times in the idle window.
SHORT = Clocks(
    reply_poll_seconds=1.0,
    orphan_sweep_seconds=2.0,
    reply_heartbeat_seconds=2.0,
    depth_metric_seconds=1.0,
    job_monitor_seconds=1.0,
)
BURST_UPLOADS = 48
JOB_IMAGES = 400


@pytest.fixture(scope="module")
def tallied() -> Iterator[Emulator]:
    with emulating(Emulator(tally=True)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def counted_service(
    tallied: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Emulator, BackendSettings]]:
    emulator = tallied
    settings = settings_for("aws", tmp_path_factory.mktemp("counted"))
    backend = open_backend(settings)
    backend.storage.provision(settings)
    shared = settings.model_dump()
    web = WebSettings.from_values(**shared, wait_seconds=30, web_processes=1)
    worker = WorkerSettings.from_values(**shared)
    env = {**os.environ, **web.environment(), **worker.environment(explicit_only=True)}
    port = free_port()
    processes = [
        subprocess.Popen([sys.executable, "-m", "services.cli", "web", "--port", str(port)], env=env),
        subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env),
    ]
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, processes[0])
        _upload(url, next(iter(GOLDEN)))  # warm: the worker has loaded its model and polls
        yield url, emulator, settings
    finally:
        for process in processes:
            stop(process)
        backend.close()


def _upload(url: str, name: str) -> None:
    response = httpx.post(f"{url}/upload", files={"myfile": (name, golden_bytes(name))}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.text.partition(":")[2] in GOLDEN[name]  # the plain "name:label" answer


def _settled(emulator: Emulator, quiet_seconds: float = 1.5) -> Counter[tuple[str, str]]:
    """The tally once no upload-driven request has come for `quiet_seconds` (deletes and replies
    finish after the answer is sent)."""
    assert emulator.tally is not None

    def work(counts: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
        return Counter({kind: n for kind, n in counts.items() if kind not in TIME_BASED})

    latest = emulator.tally.snapshot()
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_seconds:
        time.sleep(0.1)
        now = emulator.tally.snapshot()
        if work(now) != work(latest):
            latest, quiet_since = now, time.monotonic()
    return latest


def _per_upload(
    before: Counter[tuple[str, str]], after: Counter[tuple[str, str]], uploads: int
) -> dict[str, float]:
    made = after - before
    return {
        f"{service}:{action}": count / uploads
        for (service, action), count in sorted(made.items())
        if (service, action) not in TIME_BASED
    }


@pytest.mark.parametrize(
    ("concurrency", "uploads"), [(1, LONE_UPLOADS), (16, BURST_UPLOADS)], ids=["lone", "c16"]
)
def test_an_upload_makes_the_requests_the_bill_charges(
    counted_service: tuple[str, Emulator, BackendSettings], concurrency: int, uploads: int
) -> None:
    """One at a time, exactly the bill's table; concurrent uploads make no more requests each."""
    url, emulator, _ = counted_service
    names = list(GOLDEN)
    before = _settled(emulator)
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda i: _upload(url, names[i % len(names)]), range(uploads)))
    measured = _per_upload(before, _settled(emulator), uploads)
    print(f"per upload at c={concurrency}:", measured)
    charged = {f"{s}:{a}": float(n) for (s, a), n in UPLOAD_REQUESTS.items()}
    if concurrency == 1:
        assert measured == charged
    else:
        assert set(measured) <= set(charged)
        assert all(measured[kind] <= charged[kind] for kind in measured), (measured, charged)


def test_an_idle_web_tier_makes_the_requests_the_bill_charges_by_the_hour(
    tallied: Emulator, tmp_path: Path
) -> None:
    """Two web processes on one instance, no worker (the pool at zero), short clocks: each
    background call's rate is what `idle_requests_per_second` prices; the depth metric is
    published by one process, not both."""
    assert tallied.tally is not None
    settings = settings_for("aws", tmp_path)
    backend = open_backend(settings)
    backend.storage.provision(settings)
    web = WebSettings.from_values(
        **settings.model_dump(),
        web_processes=2,
        reply_queue_prefix=f"{settings.request_queue}-replies",
        reply_poll_seconds=SHORT.reply_poll_seconds,
        orphan_sweep_seconds=SHORT.orphan_sweep_seconds,
        reply_heartbeat_seconds=SHORT.reply_heartbeat_seconds,
        depth_metric_seconds=SHORT.depth_metric_seconds,
        job_monitor_seconds=SHORT.job_monitor_seconds,
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "web", "--port", str(port)],
        env={**os.environ, **web.environment()},
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        time.sleep(2 * SHORT.orphan_sweep_seconds)  # every loop has started
        before = tallied.tally.snapshot()
        started = time.monotonic()
        time.sleep(IDLE_SECONDS)
        made = tallied.tally.snapshot() - before
        elapsed = time.monotonic() - started
    finally:
        stop(process)
        backend.close()
    no_standby = Deployment(web_instances=1, web_processes=2, standby_workers=0)  # none runs here
    expected = idle_requests_per_second(no_standby, SHORT)
    measured = {kind: made[kind] / elapsed for kind in expected}
    print("idle requests per second:", measured, "expected:", expected)
    assert {kind for kind, n in made.items() if n} <= set(expected) | {("s3", "GetObject")}, made
    for kind, rate in expected.items():
        assert abs(measured[kind] - rate) <= 0.3 * rate + 0.25, (kind, measured[kind], rate)


def test_each_standby_adds_one_empty_long_poll_per_poll_period() -> None:
    """An idle standby long-polls the request queue (the group at zero, its gate open), then
    looks at the job queue: two empty receives per poll period, on two web instances here."""
    empty = ("sqs", "ReceiveMessage:empty")
    alone = idle_requests_per_second(Deployment(web_instances=2, standby_workers=0))[empty]
    with_standby = idle_requests_per_second(Deployment(web_instances=2, standby_workers=1))[empty]
    assert with_standby - alone == pytest.approx(2 * 2 / Clocks().standby_poll_seconds)


def test_a_job_makes_an_order_of_magnitude_fewer_requests_per_image(
    counted_service: tuple[str, Emulator, BackendSettings],
) -> None:
    """The same images through a job: per image, its source GET and a share of one receive, one
    shard PUT and one delete per chunk, plus the planning's sends and listings (the bill's
    `JOB_REQUESTS`, at the default chunk of 50)."""
    url, emulator, settings = counted_service
    assert emulator.tally is not None
    s3 = boto3.client("s3")
    names = list(GOLDEN)
    for index in range(JOB_IMAGES):
        name = names[index % len(names)]
        s3.put_object(Bucket=settings.input_bucket, Key=f"batch/{index:05d}-{name}", Body=golden_bytes(name))
    before = _settled(emulator)
    started = time.monotonic()
    spec = {
        "source": f"s3://{settings.input_bucket}/batch/",
        "output": f"s3://{settings.output_bucket}/exports/",
    }
    job = httpx.post(f"{url}/v1/jobs", json=spec, timeout=60).json()
    while (state := httpx.get(f"{url}/v1/jobs/{job['id']}", timeout=60).json())["state"] != "done":
        assert time.monotonic() - started < 300, state
        time.sleep(0.5)
    made = _settled(emulator) - before
    assert state["total"] == JOB_IMAGES and state["failed"] == 0
    exported = s3.list_objects_v2(Bucket=settings.output_bucket, Prefix="exports/")["Contents"]
    parts = [o["Key"] for o in exported if o["Key"].endswith(".jsonl")]
    assert len(parts) == JOB_IMAGES // JOB_CHUNK and "exports/_SUCCESS.json" in [o["Key"] for o in exported]
    per_image = {f"{s}:{a}": round(n / JOB_IMAGES, 4) for (s, a), n in sorted(made.items())}
    total = sum(made.values()) / JOB_IMAGES
    seconds = time.monotonic() - started
    print(f"job of {JOB_IMAGES} images in {seconds:.1f} s: {total:.3f} requests per image", per_image)
    upload_total = sum(UPLOAD_REQUESTS.values())
    assert total <= upload_total / 5  # 9 per upload alone; the rest is this test's progress polls
    per_job = 20 / JOB_IMAGES  # the record's reads and writes, once per job or per progress read
    for kind, rate in JOB_REQUESTS.items():
        if kind not in TIME_BASED:
            assert per_image.get(f"{kind[0]}:{kind[1]}", 0.0) <= rate * 1.5 + per_job, (kind, per_image)


PROGRESS_POLLS = 40


def test_a_progress_poll_reads_the_job_record_once_and_lists_nothing(
    counted_service: tuple[str, Emulator, BackendSettings],
) -> None:
    """GET /v1/jobs/{id} answers from the counts kept in the job's record: one S3 read per poll
    (before: two listings per poll, the shards' and the failure markers')."""
    url, emulator, settings = counted_service
    s3 = boto3.client("s3")
    s3.put_object(Bucket=settings.input_bucket, Key="polled/cat.jpg", Body=golden_bytes("cat.jpg"))
    spec = {"source": f"s3://{settings.input_bucket}/polled/"}
    job = httpx.post(f"{url}/v1/jobs", json=spec, timeout=60).json()["id"]
    guard = time.monotonic() + 300  # a guard only
    while httpx.get(f"{url}/v1/jobs/{job}", timeout=60).json()["state"] != "done":
        assert time.monotonic() < guard
        time.sleep(0.2)
    before = _settled(emulator)
    for _ in range(PROGRESS_POLLS):
        assert httpx.get(f"{url}/v1/jobs/{job}", timeout=60).json()["done"] == 1
    made = _settled(emulator) - before
    s3_calls = {action: n for (service, action), n in made.items() if service == "s3"}
    print(f"S3 requests for {PROGRESS_POLLS} progress polls:", s3_calls)
    assert s3_calls.get("GetObject", 0) == PROGRESS_POLLS  # the record, once per poll
    assert s3_calls.get("ListObjectsV2", 0) <= 4  # the web tier's own sweeps, if one fell in here
    assert set(s3_calls) <= {"GetObject", "ListObjectsV2"}, s3_calls
