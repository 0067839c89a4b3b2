"""Nothing lost, whatever instant the web process dies: a crash after each write of a keyed upload
(input stored, request sent, key remembered), then a retry with the same `Idempotency-Key` on a
fresh web process. On both backends, real processes, the real model.

For every point the retry ends with the right label, and every later retry names the same id.
A crash after the input alone leaves an input whose request was never sent: the orphan sweep
sends it, and it gets its result too.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from services.adapters.registry import open_backend
from services.contract import new_request_id
from services.idempotency import IdempotencyKeys, Remembered
from services.idempotency import blob_key as idempotency_blob_key
from services.ports.backend import Backend
from services.settings import BackendSettings
from services.web.settings import WebSettings
from services.web.uploads.crash_points import CrashPoint
from services.worker.settings import WorkerSettings
from tests.fixtures import GOLDEN, free_port, golden_bytes, settings_for, stop, wait_for, wait_until_healthy

IMAGE = "cat.jpg"
SWEEP_SECONDS = 0.5
LEASE_SECONDS = 2  # the sweep's margin is two leases


@dataclass
class Deployment:
    settings: BackendSettings
    backend: Backend
    worker_env: dict[str, str]

    def web(self, crash_after: CrashPoint | None) -> tuple[str, subprocess.Popen[bytes]]:
        values = self.settings.model_dump()
        settings = WebSettings.from_values(
            **values,
            reply_queue_prefix=f"crash-{uuid.uuid4().hex[:6]}",
            wait_seconds=60,
            reply_poll_seconds=1,
            orphan_sweep_seconds=SWEEP_SECONDS,
            crash_after=crash_after,
        )
        port = free_port()
        env = {**self.worker_env, **settings.environment()}
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "web", "--port", str(port)], env=env
        )
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, timeout=120)
        return url, process


@pytest.fixture(scope="module", params=["local", "aws"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    if request.param == "aws":
        request.getfixturevalue("moto_endpoint")
    settings = settings_for(
        request.param, tmp_path_factory.mktemp(f"crash-{request.param}"), visibility_timeout=LEASE_SECONDS
    )
    backend = open_backend(settings)
    backend.storage.provision(settings)
    worker_settings = WorkerSettings.from_values(**settings.model_dump(), poll_seconds=1)
    env = {**os.environ, **worker_settings.environment()}
    worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env)
    try:
        yield Deployment(settings=settings, backend=backend, worker_env=env)
    finally:
        stop(worker)
        backend.close()


def _upload(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/classify",
        files={"file": (IMAGE, golden_bytes(IMAGE))},
        headers={"Idempotency-Key": key},
        timeout=httpx.Timeout(90.0),
    )


@pytest.mark.parametrize("point", list(CrashPoint))
def test_a_retry_after_a_crash_at_each_write_ends_rightly_with_one_id(
    deployment: Deployment, point: CrashPoint
) -> None:
    inputs = deployment.backend.storage.blobs(deployment.settings.input_bucket)
    outputs = deployment.backend.storage.blobs(deployment.settings.output_bucket)
    before = set(inputs.keys_between("", "g"))
    key = uuid.uuid4().hex

    url, crashing = deployment.web(crash_after=point)
    with pytest.raises(httpx.TransportError):  # the process died in the middle of the upload
        _upload(url, key)
    assert crashing.wait(30) < 0  # killed by its signal, not a clean exit
    (first,) = set(inputs.keys_between("", "g")) - before  # the crashed upload's input

    url, web = deployment.web(crash_after=None)
    try:
        answer = _upload(url, key)
        assert answer.status_code == 200, answer.text
        assert answer.json()["label"] in GOLDEN[IMAGE]
        request_id = answer.json()["id"]
        again = _upload(url, key)  # and every later retry: the same id, the same answer
        assert again.status_code == 200 and again.json()["id"] == request_id
        remembered = IdempotencyKeys(inputs).lookup(key, _digest())
        assert remembered is not None and remembered.id == request_id and remembered.sent
        # The remembered request is the crashed one itself; before that, the key was unknown
        # and the retry was a new upload.
        assert (request_id == first) == (point is CrashPoint.REMEMBER)
        # Every input ends in a result, the never-sent one too (by the orphan sweep).
        wait_for(
            lambda: outputs.exists(first), 120, 0.2, what=f"a result for the crashed upload's input {first}"
        )
        assert httpx.get(f"{url}/v1/results/{first}", timeout=10).json()["label"] in GOLDEN[IMAGE]
    finally:
        assert stop(web) == 0


def _digest() -> str:
    return hashlib.sha256(golden_bytes(IMAGE)).hexdigest()


def test_a_key_remembered_before_its_send_by_an_older_version_is_repaired_on_retry(
    deployment: Deployment,
) -> None:
    """Older versions remembered the key first: a crash then left a remembered id, an input and no
    request. The retry sends it again; a record without even an input is treated as a new key."""
    inputs = deployment.backend.storage.blobs(deployment.settings.input_bucket)
    legacy_id, key, lost_key = new_request_id(), uuid.uuid4().hex, uuid.uuid4().hex
    inputs.put(legacy_id, golden_bytes(IMAGE), metadata={"filename": IMAGE})
    for record_key, request_id in ((key, legacy_id), (lost_key, new_request_id())):
        record = Remembered(id=request_id, image_sha256=_digest())  # sent: False, as written then
        inputs.put(idempotency_blob_key(record_key), record.model_dump_json(exclude={"sent"}).encode())
    url, web = deployment.web(crash_after=None)
    try:
        answer = _upload(url, key)
        assert answer.status_code == 200 and answer.json()["id"] == legacy_id
        assert answer.json()["label"] in GOLDEN[IMAGE]
        fresh = _upload(url, lost_key)
        assert fresh.status_code == 200 and fresh.json()["label"] in GOLDEN[IMAGE]
        remembered = IdempotencyKeys(inputs).lookup(lost_key, _digest())
        assert remembered is not None and remembered.sent and remembered.id == fresh.json()["id"]
    finally:
        assert stop(web) == 0
