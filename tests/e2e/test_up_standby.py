"""`evision up --standby 1`: a standby worker answers while no worker is in service, the upload
still starts a worker (activation), and the standby takes no work once that worker serves."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from services.adapters.registry import open_backend
from services.contract import Result
from services.settings import BackendSettings
from tests.fixtures import GOLDEN, alive, children, golden_bytes, running_up, wait_for


def _classify(url: str, name: str = "cat.jpg") -> httpx.Response:
    return httpx.post(f"{url}/v1/classify", files={"myfile": (name, golden_bytes(name))}, timeout=60)


def test_a_standby_answers_from_zero_and_steps_aside_once_a_worker_serves(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "up.log"
    options = ("--min-workers", "0", "--max-workers", "1", "--standby", "1")
    processes: list[int] = []
    with running_up(data, *options, log=log) as up:
        wait_for(lambda: "ready (standby" in log.read_text(), 60, 0.1, what="the standby is ready")
        processes = children(up.process.pid)
        assert len(processes) == 1  # the standby only: no worker at zero

        first = _classify(up.url)  # no worker in service: the standby answers
        assert first.status_code == 200 and first.json()["label"] in GOLDEN["cat.jpg"]
        outputs = open_backend(BackendSettings(data_dir=data)).storage.blobs(BackendSettings().output_bucket)
        assert Result.model_validate_json(outputs.get(first.json()["id"]).data).worker.startswith("standby-")

        # The upload still started a worker; once it serves, the standby takes no work. (A trickle
        # keeps that worker from scaling in before the standby has looked, on a slow machine.)
        def stepped_aside() -> bool:
            return "in service: taking no work" in log.read_text()

        deadline = time.monotonic() + 60
        while not stepped_aside() and time.monotonic() < deadline:
            assert _classify(up.url).status_code == 200
            time.sleep(0.5)
        assert stepped_aside(), "the standby never stepped aside"
        processes = children(up.process.pid)
        with ThreadPoolExecutor(8) as pool:
            burst = list(pool.map(lambda _: _classify(up.url), range(24)))
        assert [r.status_code for r in burst] == [200] * 24
        assert len({r.json()["id"] for r in burst}) == 24
    assert up.process.returncode == 0, up.output
    assert not [pid for pid in processes if alive(pid)], "processes left behind"
