"""`evision up --standby 1`: a standby worker answers while no worker is in service, the upload
still starts a worker (activation), and the standby takes no work once that worker serves."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from services.adapters.registry import open_backend
from services.contract import Result
from services.settings import BackendSettings
from tests.fixtures import (
    GOLDEN,
    alive,
    children,
    clean_environment,
    free_port,
    golden_bytes,
    interrupt,
    up_command,
    wait_until_healthy,
)


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


def _classify(url: str, name: str = "cat.jpg") -> httpx.Response:
    return httpx.post(f"{url}/v1/classify", files={"myfile": (name, golden_bytes(name))}, timeout=60)


def test_a_standby_answers_from_zero_and_steps_aside_once_a_worker_serves(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    log = tmp_path / "up.log"
    options = ("--min-workers", "0", "--max-workers", "1", "--standby", "1")
    with log.open("w") as out:
        up = subprocess.Popen(
            up_command(port, data, *options),
            env=clean_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    processes: list[int] = []
    try:
        wait_until_healthy(url, up)
        _wait_for("the standby is ready", lambda: "ready (standby" in log.read_text())
        processes = children(up.pid)
        assert len(processes) == 1  # the standby only: no worker at zero

        first = _classify(url)  # no worker in service: the standby answers
        assert first.status_code == 200 and first.json()["label"] in GOLDEN["cat.jpg"]
        outputs = open_backend(BackendSettings(data_dir=data)).blobs(BackendSettings().output_bucket)
        assert Result.model_validate_json(outputs.get(first.json()["id"]).data).worker.startswith("standby-")

        # The upload still started a worker; once it serves, the standby takes no work. (A trickle
        # keeps that worker from scaling in before the standby has looked, on a slow machine.)
        def stepped_aside() -> bool:
            return "in service: taking no work" in log.read_text()

        deadline = time.monotonic() + 60
        while not stepped_aside() and time.monotonic() < deadline:
            assert _classify(url).status_code == 200
            time.sleep(0.5)
        assert stepped_aside(), "the standby never stepped aside"
        processes = children(up.pid)
        with ThreadPoolExecutor(8) as pool:
            burst = list(pool.map(lambda _: _classify(url), range(24)))
        assert [r.status_code for r in burst] == [200] * 24
        assert len({r.json()["id"] for r in burst}) == 24
    finally:
        output = interrupt(up)
    assert up.returncode == 0, output
    assert not [pid for pid in processes if alive(pid)], "processes left behind"
