"""The standby worker bridges a warming group: real `evision web` + `evision worker --standby` on
the aws backend (moto), the worker group an emulated Auto Scaling group that reports no instance
in service until the test puts one in service (as a warm-pool start would after ~30 s).

- A burst of uploads while the group has no worker in service: all answered by the standby.
- Once the group reports a worker in service, the standby stops receiving: a second burst waits
  in the queue, untouched, until a worker of the group (a plain `evision worker`) answers it.
- Nothing lost or duplicated: every id has one result, each worker took exactly its burst.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import httpx
import pytest

from services.adapters.registry import open_backend
from services.contract import Result
from services.log_config import LoggingSettings
from services.web.settings import WebSettings
from tests.fixtures import (
    emulated_group,
    free_port,
    golden_bytes,
    settings_for,
    stop,
    wait_for,
    wait_until_healthy,
)

ROOT = Path(__file__).parents[2]
GATE_SECONDS = 1.0
POLL_SECONDS = 1.0


def _upload(url: str, count: int) -> list[httpx.Response]:
    def one(i: int) -> httpx.Response:
        files = {"myfile": (f"cat-{i}.jpg", golden_bytes("cat.jpg"))}
        return httpx.post(f"{url}/v1/classify", files=files, timeout=60)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def _messages_taken(log: Path) -> int:
    """The worker's own count, logged when it stops."""
    [count] = re.findall(r"stopped after \d+ batches, (\d+) messages", log.read_text())
    return int(count)


@pytest.mark.slow
def test_the_standby_answers_while_the_group_warms_then_leaves_the_work_to_it(moto_endpoint, tmp_path):
    backend_settings = settings_for("aws", tmp_path)
    group = f"{backend_settings.request_queue}-workers"
    emulated_group(group, size=0, most=2)  # warming: no instance in service yet
    settings = WebSettings.from_values(
        **backend_settings.model_dump(),
        reply_queue_prefix=f"{backend_settings.request_queue}-replies",
        wait_seconds=1.0,
        reply_poll_seconds=1.0,
    )
    backend = open_backend(settings)
    backend.storage.provision(settings)
    logging_env = LoggingSettings.from_values(log_level="INFO").environment()
    env = {**os.environ, **settings.environment(), **logging_env}
    standby_env = {
        **env,
        "EVISION_STANDBY_GROUP": group,
        "EVISION_STANDBY_GATE_SECONDS": str(GATE_SECONDS),
        "EVISION_STANDBY_POLL_SECONDS": str(POLL_SECONDS),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "standby", "worker")}

    def start(command: list[str], environment: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        with logs[name].open("wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "services.cli", *command],
                env=environment,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    web = start(["web", "--port", str(port)], env, "web")
    standby = start(["worker", "--standby"], standby_env, "standby")
    worker: subprocess.Popen[bytes] | None = None
    try:
        wait_until_healthy(url, web)
        standby_log = logs["standby"].read_text
        wait_for(lambda: "ready (standby" in standby_log(), 60, 0.1, what="the standby is ready")

        first = _upload(url, 16)  # the group is warming: only the standby can answer
        assert [r.status_code for r in first] == [200] * 16, [r.text for r in first]
        assert {r.json()["label"] for r in first} == {"Egyptian cat"}

        autoscaling = boto3.client("autoscaling")
        autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)  # in service
        wait_for(lambda: "in service: taking no work" in standby_log(), 60, 0.1, what="the standby stops")
        time.sleep(POLL_SECONDS + 0.5)  # a receive begun just before the check has returned

        second = _upload(url, 6)  # no worker of the group runs yet: pending, untouched
        assert [r.status_code for r in second] == [202] * 6
        requests = backend.storage.queue(settings.request_queue)
        time.sleep(GATE_SECONDS + POLL_SECONDS)
        assert requests.depth().visible == 6  # the standby took none of them

        worker = start(["worker"], env, "worker")  # the group's worker, in service
        ids = [r.json()["id"] for r in second]
        outputs = backend.storage.blobs(settings.output_bucket)
        wait_for(lambda: all(outputs.exists(i) for i in ids), 90, 0.1, what="the group's worker answers")

        results = {
            i: Result.model_validate_json(outputs.get(i).data)
            for i in [*(r.json()["id"] for r in first), *ids]
        }
        assert len(results) == 22
        assert all(results[r.json()["id"]].worker.startswith("standby-") for r in first)
        assert not any(results[i].worker.startswith("standby-") for i in ids)
    finally:
        for process in (standby, worker, web):
            if process is not None:
                stop(process)
        backend.close()
    # Each took exactly its burst: nothing received twice, nothing dropped.
    assert _messages_taken(logs["standby"]) == 16
    assert _messages_taken(logs["worker"]) == 6
