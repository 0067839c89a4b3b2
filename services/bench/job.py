"""`evision bench-job`: a batch job of N images on `evision up` against the bare model, one run.

The images are the golden ones re-encoded at several sizes and JPEG qualities (hard links cycle
those variants up to N), so every variant's label is known from the bare model. The run:

1. the bare model's best end-to-end images/s on this machine (decode + preprocess + infer);
2. `evision up --jobs-root` (elastic workers), a lone upload's latency while idle;
3. the job: uploads during it (their latency against idle), and optionally a worker SIGKILL
   (`--kill-worker`) and a whole-service crash and restart (`--crash`), the job resumed by its
   Idempotency-Key;
4. the output checked: every image once, each with its variant's label.

Prints each job's images/s and its ratio to the bare model's, timed as a client sees it: from the
POST to the results in hand (`--images 600 20000`: both sizes in one run).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from rich.progress import Progress

from model import Classifier, load_golden
from services.bench.model_bench import measure_bare
from services.bench.processes import BenchError, Processes, child_environment, listening, wait_healthy
from services.web.settings import WebSettings

SIZES = (1.0, 0.75, 0.5)
QUALITIES = (95, 80)
KEY = "bench-job"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images",
        type=int,
        nargs="+",
        default=[20_000],
        help="images in the job (default 20 000); several: one job each, in one run, on one service",
    )
    parser.add_argument("--kill-worker", action="store_true", help="SIGKILL a worker at 30 %%")
    parser.add_argument("--crash", action="store_true", help="kill the whole service at 60 %% and restart it")
    parser.add_argument("--uploads", type=int, default=20, help="uploads timed idle and during the job")


def _variants(folder: Path) -> dict[str, str]:
    """The golden images re-encoded: file name -> the bare model's label for it."""
    classifier = Classifier()
    labels: dict[str, str] = {}
    for golden in load_golden():
        with Image.open(golden.path) as original:
            rgb = original.convert("RGB")
            for size in SIZES:
                for quality in QUALITIES:
                    scaled = rgb.resize((max(1, int(rgb.width * size)), max(1, int(rgb.height * size))))
                    buffer = io.BytesIO()
                    scaled.save(buffer, "JPEG", quality=quality)
                    name = f"{golden.path.stem}-{int(size * 100)}-q{quality}.jpg"
                    (folder / name).write_bytes(buffer.getvalue())
                    [prediction] = classifier.classify([buffer.getvalue()])
                    if isinstance(prediction, Exception):
                        raise BenchError(f"{name}: {prediction}")
                    labels[name] = prediction.label
    return labels


def _images(root: Path, count: int, labels: dict[str, str]) -> dict[str, str]:
    """`count` files under root/images/n<count> (hard links to the variants in root/variants):
    key (relative to that folder) -> expected label."""
    variants = root / "variants"
    names = sorted(labels)
    images = root / "images" / f"n{count}"
    expected: dict[str, str] = {}
    for index in range(count):
        name = names[index % len(names)]
        key = f"{index // 1000:03d}/{index:06d}-{name}"
        (images / key).parent.mkdir(parents=True, exist_ok=True)
        os.link(variants / name, images / key)
        expected[key] = labels[name]
    return expected


def _latencies(url: str, count: int) -> list[float]:
    data = load_golden()[0].path.read_bytes()
    seconds = []
    with httpx.Client(timeout=60) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = client.post(f"{url}/upload", files={"myfile": ("cat.jpg", data)})
            if response.status_code != 200:
                raise BenchError(f"upload answered {response.status_code}: {response.text}")
            seconds.append(time.perf_counter() - started)
    return seconds


def _workers(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"worker" in command:
            found.append(int(entry.name))
    return found


def _state(url: str, job: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{url}/v1/jobs/{job}", timeout=30).json()
    return state


POLL_SECONDS = 0.1  # the bench's progress polls: each is one read of the job record


def run(args: argparse.Namespace) -> int:
    sizes: list[int] = args.images
    if args.crash and len(sizes) > 1:
        raise BenchError("--crash restarts the service: give one --images")
    bare = measure_bare(seconds=3.0, batch_sizes=(4,))["images_per_s"]
    print(f"bare model, end to end on this machine: {bare:.1f} images/s")
    failed = False
    with tempfile.TemporaryDirectory(prefix="evision-bench-job-") as tmp:
        root = Path(tmp)
        (root / "variants").mkdir()
        labels = _variants(root / "variants")
        expected = {count: _images(root, count, labels) for count in sizes}
        print(f"jobs of {', '.join(map(str, sizes))} images from {len(set(labels.values()))} labels")
        settings = WebSettings.from_values(data_dir=root / "data", jobs_root=root / "images")
        command, url = listening("up", "--jobs-root", str(root / "images"))
        up = Processes([command], env=child_environment(settings), log_dir=root, name="up")
        with up:
            wait_healthy(url, up)
            idle = _latencies(url, args.uploads)
            for index, count in enumerate(sizes):
                last = index == len(sizes) - 1  # the faults, if any, hit the last job
                outcome = _job(url, up, count, idle, args, faults=last)
                if outcome.crashed:
                    up = Processes([command], env=child_environment(settings), log_dir=root, name="up-again")
                    with up:
                        wait_healthy(url, up)
                        outcome = _resumed(url, outcome)
                failed |= _report(outcome, expected[count], bare)
    return 1 if failed else 0


class _Outcome:
    def __init__(self, count: int, job: str, spec: dict[str, str], started: float) -> None:
        self.count, self.job, self.spec, self.started = count, job, spec, started
        self.state: dict[str, Any] = {}
        self.lines: list[str] = []
        self.whole = 0.0  # from the POST to the results in hand, as a client sees it
        self.killed = self.crashed = False
        self.idle: list[float] = []
        self.during: list[float] = []


def _job(
    url: str, up: Processes, count: int, idle: list[float], args: argparse.Namespace, *, faults: bool
) -> _Outcome:
    spec = {"source": f"n{count}"}
    started = time.perf_counter()
    job = httpx.post(
        f"{url}/v1/jobs", json=spec, headers={"Idempotency-Key": f"{KEY}-{count}"}, timeout=60
    ).json()["id"]
    outcome = _Outcome(count, job, spec, started)
    outcome.idle = idle
    with Progress() as progress:
        task = progress.add_task(f"job of {count}", total=count)
        while (state := _state(url, job))["state"] != "done":
            done = state["done"]
            progress.update(task, completed=done)
            if faults and not outcome.during and done > 0.15 * count:
                outcome.during = _latencies(url, args.uploads)
            if faults and args.kill_worker and not outcome.killed and done > 0.3 * count:
                victims = _workers(up.processes[0].pid)
                if victims:
                    os.kill(victims[0], signal.SIGKILL)
                    outcome.killed = True
            if faults and args.crash and not outcome.crashed and done > 0.6 * count:
                for pid in _workers(up.processes[0].pid):
                    os.kill(pid, signal.SIGKILL)
                up.processes[0].kill()
                up.processes[0].wait()
                outcome.crashed = True
                return outcome
            time.sleep(POLL_SECONDS)
    outcome.lines = httpx.get(f"{url}/v1/jobs/{job}/results", timeout=300).text.splitlines()
    outcome.whole = time.perf_counter() - started
    outcome.state = state
    return outcome


def _resumed(url: str, outcome: _Outcome) -> _Outcome:
    headers = {"Idempotency-Key": f"{KEY}-{outcome.count}"}
    again = httpx.post(f"{url}/v1/jobs", json=outcome.spec, headers=headers, timeout=60)
    if again.json()["id"] != outcome.job:
        raise BenchError("the job was not resumed by its key")
    while (state := _state(url, outcome.job))["state"] != "done":
        time.sleep(POLL_SECONDS)
    outcome.lines = httpx.get(f"{url}/v1/jobs/{outcome.job}/results", timeout=300).text.splitlines()
    outcome.whole = time.perf_counter() - outcome.started
    outcome.state = state
    return outcome


def _report(outcome: _Outcome, expected: dict[str, str], bare: float) -> bool:
    """Print the job's figures; whether its output is wrong."""
    results = [json.loads(line) for line in outcome.lines]
    keys = [r["key"] for r in results]
    wrong = [r for r in results if r.get("label") != expected.get(r["key"])]
    missing = len(set(expected) - set(keys))
    doubled = len(keys) - len(set(keys))
    count, state = outcome.count, outcome.state
    recorded = state["finished_at"] - state["created_at"]
    speed = count / outcome.whole
    print(
        f"job of {count} images: {outcome.whole:.1f} s from the POST to the results in hand = "
        f"{speed:.1f} images/s = {speed / bare:.2f} x the bare model "
        f"(record: {recorded:.1f} s, {count / recorded / bare:.2f} x)"
    )
    print(
        f"faults: worker SIGKILL {'yes' if outcome.killed else 'no'}, "
        f"service crash and restart {'yes' if outcome.crashed else 'no'}"
    )
    print(f"output: {len(keys)} lines, {missing} missing, {doubled} doubled, {len(wrong)} wrong labels")
    if outcome.during:
        idle, during = statistics.median(outcome.idle), statistics.median(outcome.during)
        print(
            f"an upload: p50 {idle * 1000:.0f} ms idle, {during * 1000:.0f} ms during the job "
            f"({during / idle:.2f} x)"
        )
    return bool(missing or doubled or wrong)
