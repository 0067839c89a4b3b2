"""A job survives a worker SIGKILL and a whole-service crash: `evision batch` run again with the
same source resumes it, and the output has every image exactly once, with its label."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.web.settings import WebSettings
from tests.fixtures import children, clean_environment, make_folder, running_up, wait_for

COPIES = 40  # of each golden image: a few hundred images, enough chunks to crash in the middle


def _workers(up: int) -> list[int]:
    found = []
    for pid in children(up):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in command:
            found.append(pid)
    return found


def _progress(url: str) -> dict[str, Any]:
    jobs = httpx.get(f"{url}/v1/jobs").json()
    return dict(jobs[0]) if jobs else {}


def _batch(url: str, source: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "batch",
            str(source),
            "--out",
            str(out),
            "--url",
            url,
            "--no-progress",
        ],
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_worker_kill_and_a_service_crash_lose_and_double_nothing(tmp_path: Path) -> None:
    root, data, out = tmp_path / "root", tmp_path / "data", tmp_path / "out"
    (root / "photos").mkdir(parents=True)
    expected = make_folder(root / "photos", copies=COPIES)
    settings = WebSettings.from_values(jobs_root=root, job_chunk_size=5, job_monitor_seconds=0.5)
    with running_up(data, "--workers", "1", settings=settings) as up:
        batch = _batch(up.url, root / "photos", out)
        wait_for(lambda: (_progress(up.url).get("done") or 0) >= 40, 180, 0.1, what="40 images done")
        [worker] = _workers(up.process.pid)
        os.kill(worker, signal.SIGKILL)  # mid-chunk, most likely: its chunk comes back
        wait_for(lambda: (_progress(up.url).get("done") or 0) >= 120, 180, 0.1, what="120 images done")
        for pid in [*_workers(up.process.pid), *children(up.process.pid)]:
            os.kill(pid, signal.SIGKILL)  # the whole service, at once
        up.process.kill()
        up.process.wait(30)
        batch.kill()
        batch.wait(30)
    done_at_crash = _progress_after_restart = None
    with running_up(data, "--workers", "1", settings=settings) as up:
        done_at_crash = _progress(up.url)["done"]
        batch = _batch(up.url, root / "photos", out)  # the same command: the same job, resumed
        output, _ = batch.communicate(timeout=300)
        _progress_after_restart = _progress(up.url)
    print(output, "done at the crash:", done_at_crash)
    assert batch.returncode == 1, output  # notes.txt is not an image
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    keys = [line["key"] for line in lines]
    assert len(keys) == len(set(keys)) == len(expected) + 1  # 0 missing, 0 doubled
    wrong = [
        line
        for line in lines
        if line["key"] != "notes.txt" and line.get("label") not in expected[line["key"]]
    ]
    assert not wrong, wrong[:3]
    manifest = json.loads((out / "_SUCCESS.json").read_text())
    assert manifest["total"] == len(expected) + 1 and manifest["failed"] == 1
    assert _progress_after_restart["state"] == "done"
