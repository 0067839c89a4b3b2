"""`evision bench-job`: a batch job of N images on `evision up` against the bare model, one run.

The images are the golden ones re-encoded at several sizes and JPEG qualities (hard links cycle
those variants up to N), so every variant's label is known from the bare model. The run:

1. the bare model's best end-to-end images/s on this machine (decode + preprocess + infer);
2. `evision up --jobs-root` (elastic workers), a lone upload's latency while idle;
3. the job: uploads during it (their latency against idle), and optionally a worker SIGKILL
   (`--kill-worker`) and a whole-service crash and restart (`--crash`), the job resumed by its
   Idempotency-Key;
4. the output checked: every image once, each with its variant's label.

Prints the job's images/s and its ratio to the bare model's.
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
from services.bench.processes import (
    BenchError,
    Processes,
    child_environment,
    evision,
    free_port,
    wait_healthy,
)
from services.web.settings import WebSettings

SIZES = (1.0, 0.75, 0.5)
QUALITIES = (95, 80)
KEY = "bench-job"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=20_000, help="images in the job (default 20 000)")
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


def _images(root: Path, count: int) -> dict[str, str]:
    """`count` files under root/images (hard links to the variants): key -> expected label."""
    variants = root / "variants"
    variants.mkdir()
    labels = _variants(variants)
    names = sorted(labels)
    images = root / "images"
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


def run(args: argparse.Namespace) -> int:
    bare = measure_bare(seconds=3.0, batch_sizes=(4,))["images_per_s"]
    print(f"bare model, end to end on this machine: {bare:.1f} images/s")
    with tempfile.TemporaryDirectory(prefix="evision-bench-job-") as tmp:
        root = Path(tmp)
        expected = _images(root, args.images)
        print(f"{len(expected)} images from {len(set(expected.values()))} labels of re-encoded golden images")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = WebSettings.from_values(
            data_dir=root / "data", jobs_root=root / "images", job_monitor_seconds=0.5
        )
        command = [evision("up", "--port", str(port), "--jobs-root", str(root / "images"))]
        spec = {"source": str(root / "images")}
        up = Processes(command, env=child_environment(settings), log_dir=root, name="up")
        killed = crashed = False
        with up:
            wait_healthy(url, up)
            idle = _latencies(url, args.uploads)
            job = httpx.post(
                f"{url}/v1/jobs", json=spec, headers={"Idempotency-Key": KEY}, timeout=60
            ).json()["id"]
            during: list[float] = []
            with Progress() as progress:
                task = progress.add_task("job", total=args.images)
                while (state := _state(url, job))["state"] != "done":
                    done = state["done"]
                    progress.update(task, completed=done)
                    if not during and done > 0.15 * args.images:
                        during = _latencies(url, args.uploads)
                    if args.kill_worker and not killed and done > 0.3 * args.images:
                        victims = _workers(up.processes[0].pid)
                        if victims:
                            os.kill(victims[0], signal.SIGKILL)
                            killed = True
                    if args.crash and not crashed and done > 0.6 * args.images:
                        for pid in _workers(up.processes[0].pid):
                            os.kill(pid, signal.SIGKILL)
                        up.processes[0].kill()
                        up.processes[0].wait()
                        crashed = True
                        break
                    time.sleep(0.5)
            if not crashed:
                lines = httpx.get(f"{url}/v1/jobs/{job}/results", timeout=300).text.splitlines()
        if crashed:
            up = Processes(command, env=child_environment(settings), log_dir=root, name="up-again")
            with up:
                wait_healthy(url, up)
                again = httpx.post(f"{url}/v1/jobs", json=spec, headers={"Idempotency-Key": KEY}, timeout=60)
                if again.json()["id"] != job:
                    raise BenchError("the job was not resumed by its key")
                while (state := _state(url, job))["state"] != "done":
                    time.sleep(0.5)
                lines = httpx.get(f"{url}/v1/jobs/{job}/results", timeout=300).text.splitlines()
        seconds = state["finished_at"] - state["created_at"]
    results = [json.loads(line) for line in lines]
    keys = [r["key"] for r in results]
    wrong = [r for r in results if r.get("label") != expected.get(r["key"])]
    missing = len(set(expected) - set(keys))
    doubled = len(keys) - len(set(keys))
    speed = args.images / seconds
    print(
        f"job: {args.images} images in {seconds:.1f} s = {speed:.1f} images/s "
        f"= {speed / bare:.2f} x the bare model"
    )
    print(
        f"faults: worker SIGKILL {'yes' if killed else 'no'}, "
        f"service crash and restart {'yes' if crashed else 'no'}"
    )
    print(f"output: {len(keys)} lines, {missing} missing, {doubled} doubled, {len(wrong)} wrong labels")
    if during:
        ratio = statistics.median(during) / statistics.median(idle)
        print(
            f"an upload: p50 {statistics.median(idle) * 1000:.0f} ms idle, "
            f"{statistics.median(during) * 1000:.0f} ms during the job ({ratio:.2f} x)"
        )
    return 0 if not (missing or doubled or wrong) else 1
