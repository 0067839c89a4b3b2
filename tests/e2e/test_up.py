"""`evision up` as a user runs it: start, classify through /upload, Ctrl-C, nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.elasticity.supervisor import SupervisorSettings
from services.web.settings import WebSettings
from tests.fixtures import (
    GOLDEN,
    alive,
    children,
    clean_environment,
    free_port,
    golden_bytes,
    interrupt,
    running_up,
    up_command,
    wait_until_healthy,
)


@pytest.mark.parametrize(
    "options",
    [["--workers", "1"], ["--workers", "1", "--backend", "aws", "--emulate"]],
    ids=["local", "aws-emulated"],
)
def test_up_serves_and_stops_cleanly_on_ctrl_c(tmp_path: Path, options: list[str]) -> None:
    port = free_port()
    env = clean_environment(WebSettings.from_values(port=port))  # the port from the settings, no --port
    up = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--data-dir", str(tmp_path / "data"), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, up)
        workers = children(up.pid)
        assert len(workers) == 1
        response = httpx.post(
            f"{url}/upload", files={"myfile": ("cat.jpg", golden_bytes("cat.jpg"))}, timeout=60
        )
        assert response.status_code == 200
        stem, _, label = response.text.partition(":")
        assert stem == "cat" and label in GOLDEN["cat.jpg"]
    finally:
        output = interrupt(up)
    assert up.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
    assert not [pid for pid in workers if alive(pid)], "worker processes left behind"
    if "--emulate" not in options:
        assert (tmp_path / "data").is_dir()


def test_up_on_a_busy_port_fails_with_one_line_before_starting_anything(tmp_path: Path) -> None:
    import socket

    env = clean_environment()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = subprocess.run(
            up_command(port, tmp_path / "d"),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert up.returncode == 1
    lines = [line for line in (up.stdout + up.stderr).splitlines() if line.strip()]
    assert lines == [
        f"evision up: cannot listen on 127.0.0.1:{port}: the port is in use (another evision up?); "
        "pick one with --port"
    ], lines
    assert not (tmp_path / "d").exists()  # nothing started, nothing written


def test_status_finds_the_checkouts_data_from_any_directory(tmp_path: Path) -> None:
    """Without EVISION_DATA_DIR, every command uses <checkout>/.evision, not <cwd>/.evision."""
    import json

    checkout = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVISION_", "AWS_"))}
    status = subprocess.run(
        [sys.executable, "-m", "services.cli", "status", "--json"],
        env={**env, "PYTHONPATH": str(checkout)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(status.stdout)
    error = report["queue"]["error"] or ""
    assert str(tmp_path) not in status.stdout
    assert error == "" or str(checkout / ".evision") in error


def test_up_logs_changes_and_a_summary_not_every_batch_and_period(tmp_path: Path) -> None:
    """At INFO: scale decisions that change something, worker start/stop, a summary while busy."""
    import asyncio

    async def burst(url: str) -> list[int]:
        async with httpx.AsyncClient(timeout=60) as client:
            answers = await asyncio.gather(
                *(
                    client.post(f"{url}/upload", files={"myfile": ("cat.jpg", golden_bytes("cat.jpg"))})
                    for _ in range(40)
                )
            )
        return [a.status_code for a in answers]

    options = ("--scale-period", "0.5", "--max-workers", "1")
    with running_up(tmp_path / "d", *options, settings=WebSettings.from_values(summary_seconds=1)) as up:
        assert asyncio.run(burst(up.url)) == [200] * 40
        deadline = time.monotonic() + 20
        while children(up.process.pid) and time.monotonic() < deadline:  # scaled back in
            time.sleep(0.1)
    output = up.output
    decisions = [line for line in output.splitlines() if '"event":"scaling"' in line]
    assert decisions and all('"reason":"hold"' not in line for line in decisions), decisions
    assert any("scale from zero" in line for line in decisions) and any(
        "scale in" in line for line in decisions
    )
    assert "batch n=" not in output  # per-batch lines are DEBUG
    assert any("uploads/s" in line and "queue" in line for line in output.splitlines()), output[-3000:]
    assert "worker" in output and "started" in output


def test_up_deletes_expired_inputs_and_results_in_the_background(tmp_path: Path) -> None:
    data = tmp_path / "d"
    expiry = 0.00002  # days: ~1.7 s
    settings = SupervisorSettings.from_values(
        input_expiry_days=expiry, result_expiry_days=expiry, sweep_seconds=0.3
    )

    def objects() -> list[str]:
        return sorted(p.name for p in (data / "blobs").glob("*/*") if not p.name.startswith("."))

    with running_up(data, "--workers", "1", settings=settings) as up:
        answer = httpx.post(
            f"{up.url}/v1/classify", files={"myfile": ("cat.jpg", golden_bytes("cat.jpg"))}, timeout=60
        )
        assert answer.status_code == 200
        request_id = answer.json()["id"]
        assert objects() == [request_id, request_id]  # the input and its result
        assert httpx.get(f"{up.url}/v1/results/{request_id}", timeout=10).status_code == 200
        deadline = time.monotonic() + 15
        while objects() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert objects() == []
        assert httpx.get(f"{up.url}/v1/results/{request_id}", timeout=10).status_code == 404
