"""A worker on a warm-pool instance takes no work until its instance is InService.

A real `evision worker` on the aws backend (moto) with an emulated instance metadata service on
127.0.0.1 that answers `Warmed:Pending`, then `InService`: the queued request stays untouched
(visible, never received) while warmed, and is answered once the instance is in service.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.adapters.registry import open_backend
from services.contract import ReplyMessage, RequestMessage, new_request_id
from services.log_config import LoggingSettings
from services.worker.settings import WorkerSettings
from tests.fixtures import golden_bytes, settings_for
from tests.worker.imds import Imds, running_imds

ROOT = Path(__file__).parents[2]


@pytest.fixture
def imds() -> Iterator[str]:
    with running_imds("Warmed:Pending") as url:
        yield url


def test_a_warmed_instance_receives_nothing_until_in_service(moto_endpoint, imds, tmp_path):
    settings = WorkerSettings.from_values(**settings_for("aws", tmp_path).model_dump(), poll_seconds=1.0)
    replies = f"{settings.request_queue}-replies"
    backend = open_backend(settings)
    backend.storage.provision(settings, reply_queues=[replies])
    request_id = new_request_id()
    backend.storage.blobs(settings.input_bucket).put(request_id, golden_bytes("cat.jpg"))
    requests = backend.storage.queue(settings.request_queue)
    requests.send(RequestMessage(id=request_id, image="cat.jpg", reply_to=replies).model_dump_json())
    placed = settings.model_copy(
        update={"asg_name": "workers", "lifecycle_hook": "launch", "imds_url": imds, "instance_id": "i-0warm"}
    )
    env = {
        **os.environ,
        **placed.environment(),
        **LoggingSettings.from_values(log_level="INFO").environment(),
    }
    worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while (
            not any("target-lifecycle-state" in path for path in Imds.asked) and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        time.sleep(3)  # the model is loaded; a worker that ignored the state would have received by now
        depth = requests.depth()
        assert (depth.visible, depth.in_flight) == (1, 0)  # untouched: never received while warmed
        assert worker.poll() is None
        Imds.state = "InService"
        reply = None
        deadline = time.monotonic() + 60
        while reply is None and time.monotonic() < deadline:
            for message in backend.storage.queue(replies).receive(1, wait_seconds=1):
                reply = ReplyMessage.model_validate_json(message.body)
        assert reply is not None and reply.id == request_id and reply.result.error is None
    finally:
        worker.terminate()
        worker.wait(60)
        backend.close()
    assert worker.returncode == 0
