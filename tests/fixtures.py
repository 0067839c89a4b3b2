"""The tests' shared helpers, in one place: the golden images, images encoded in any format,
settings for one test, processes (free ports, readiness, children, stops), `evision up` as a user
runs it, the end-to-end service, toy worker pools, a fake upload service, a webhook receiver, model
folders (registered copies, broken ones), the AWS emulator for this process and an emulated Auto
Scaling group. Test modules import these, never each other nor a conftest (fixtures stay in the
conftests)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from PIL import Image

from model import MODEL_DIR, load_metadata
from model.golden import golden_by_name
from services.adapters.aws.emulator import Emulator
from services.ports.backend import Backend
from services.settings import BackendSettings, EvisionSettings
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings

PROJECT_ROOT = str(Path(__file__).parents[1])
WEB_REPLY_QUEUE = "replies-test"  # the web unit tests' reply queue
E2E_VISIBILITY_TIMEOUT = 5  # short, so a killed worker's messages come back quickly
# Registered copies of the committed model under other names (tests/e2e/test_models.py and others)
REGISTERED_NAMES = ("lite0-alpha", "lite0-beta", "lite0-gamma")
REGISTERED_VERSION = load_metadata(MODEL_DIR / "metadata.json").short_name.split("@")[1]
COPIES = 12  # of each golden image in `make_folder`, half of them in a nested folder
TOY_WORKER = str(Path(__file__).parent / "elasticity" / "toy_worker.py")


# -- golden images (they come with the model: model/testdata) --------------------------------
_GOLDEN_IMAGES = golden_by_name()
GOLDEN: dict[str, set[str]] = {name: {image.expected_label} for name, image in _GOLDEN_IMAGES.items()}


@cache
def golden_bytes(name: str) -> bytes:
    return _GOLDEN_IMAGES[name].read_bytes()


# -- images in any format (the model's tests) ---------------------------------------------------
def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """`image` as the bytes of a `fmt` file (a PIL format name; `options` are its save options)."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


# -- settings for one test ------------------------------------------------------------------
def settings_for(kind: str, data_dir: Path, **overrides: object) -> BackendSettings:
    """Settings with resource names unique to one test (the moto server is shared)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    values: dict[str, object] = {
        "backend": kind,
        "data_dir": data_dir,
        "input_bucket": f"{prefix}-input",
        "output_bucket": f"{prefix}-output",
        "request_queue": f"{prefix}-requests",
        "dead_letter_queue": f"{prefix}-requests-dlq",
        "job_queue": f"{prefix}-jobs",
        "job_dead_letter_queue": f"{prefix}-jobs-dlq",
        "visibility_timeout": 30,
        "max_receives": 3,
    }
    values.update(overrides)
    return BackendSettings.model_validate(values)


def settings_environment(settings: BackendSettings) -> dict[str, str]:
    """The EVISION_* variables that reproduce `settings` in a child process."""
    return settings.environment()


# -- processes ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _state_and_parent(pid_dir: Path) -> tuple[str, int] | None:
    try:
        fields = (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def children(pid: int) -> list[int]:
    """The live (not zombie) child processes of `pid` (Linux /proc)."""
    found = []
    for pid_dir in Path("/proc").glob("[0-9]*"):
        seen = _state_and_parent(pid_dir)
        if seen is not None and seen[1] == pid and seen[0] != "Z":
            found.append(int(pid_dir.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: its parent has not reaped it yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    seen = _state_and_parent(Path(f"/proc/{pid}"))
    return seen is not None and seen[0] != "Z"


# -- `evision up` --------------------------------------------------------------------------------
def up_command(port: int, data_dir: Path, *options: str) -> list[str]:
    """`evision up` as a user types it, on `port` with its data in `data_dir`."""
    return [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *options,
    ]


def clean_environment(*settings: EvisionSettings, **other: str) -> dict[str, str]:
    """This process's environment without EVISION_* and AWS_* variables, plus the explicit fields
    of each of `settings` (rendered by the settings classes, never typed by hand) and `other`
    variables that are not ours (e.g. PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVISION_", "AWS_"))}
    for each in settings:
        env.update(each.environment(explicit_only=True))
    return {**env, **other}


def interrupt(up: subprocess.Popen[str]) -> str:
    """Ctrl-C, as a user stops it; its whole output, if piped (killed if it does not stop within a
    minute)."""
    try:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
    return output or ""  # None when the output went elsewhere


@dataclass
class RunningUp:
    url: str
    process: subprocess.Popen[str]
    output: str = ""  # its whole output, once stopped


@contextmanager
def running_up(
    data_dir: Path,
    *options: str,
    settings: EvisionSettings | Sequence[EvisionSettings] = (),
    timeout: float = 60,
    log: Path | None = None,
    preexec_fn: Callable[[], object] | None = None,
    **other: str,
) -> Iterator[RunningUp]:
    """`evision up` on a free port with `options`, `settings` (explicit ones only) and `other`
    variables (e.g. PYTHONPATH), healthy; interrupted (Ctrl-C) at exit, its output then in
    `.output`. With `log`, the output goes to that file as it comes (to read while it runs);
    `preexec_fn` runs in the child before `evision up` does (e.g. to lower a limit)."""
    port = free_port()
    with log.open("w") if log else nullcontext(subprocess.PIPE) as out:
        process = subprocess.Popen(
            up_command(port, data_dir, *options),
            env=clean_environment(
                *([settings] if isinstance(settings, EvisionSettings) else settings), **other
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec_fn,
        )
    running = RunningUp(url=f"http://127.0.0.1:{port}", process=process)
    try:
        wait_until_healthy(running.url, process, timeout=timeout)
        yield running
    finally:
        output = interrupt(process)
        running.output = log.read_text() if log else output


# -- the AWS emulator, for this process ----------------------------------------------------------
@contextmanager
def emulating(emulator: Emulator, **variables: str) -> Iterator[Emulator]:
    """`emulator` started, and this process's environment pointing at it (with `variables` on top)
    until exit: then the emulator is stopped and the environment is as it was."""
    emulator.start()
    saved = dict(os.environ)
    os.environ.update({**emulator.environment(), **variables})
    try:
        yield emulator
    finally:
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved)


# -- an emulated Auto Scaling group --------------------------------------------------------------
def emulated_group(group: str, *, size: int, most: int) -> list[str]:
    """Create an Auto Scaling group of `size` instances (at most `most`) in the emulator; their ids."""
    import boto3

    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=group, ImageId="ami-12c6146b", InstanceType="c7i.large"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchConfigurationName=group,
        MinSize=0,
        MaxSize=most,
        DesiredCapacity=size,
        AvailabilityZones=["us-east-1a"],
    )
    [found] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return [str(instance["InstanceId"]) for instance in found["Instances"]]


def emulated_group_instance(group: str) -> str:
    """An Auto Scaling group of one instance in the emulator; that instance's id."""
    [instance] = emulated_group(group, size=1, most=1)
    return instance


# -- models -------------------------------------------------------------------------------------
def renamed_model(folder: Path, name: str) -> Path:
    """A copy of the committed model's folder under another name, in `folder`: a second model
    with the same weights (and so the same labels) to register."""
    from model import MODEL_DIR

    target = folder / name
    shutil.copytree(MODEL_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    manifest = json.loads((target / "metadata.json").read_text())
    (target / "metadata.json").write_text(json.dumps({**manifest, "name": name}))
    return target


def linked_model_copy(folder: Path) -> Path:
    """The committed model's folder copied into `folder`, its model files linked (not copied: 18 MB):
    a folder to break."""
    target = folder / "model"
    shutil.copytree(MODEL_DIR, target, ignore=shutil.ignore_patterns("*.onnx", "*.py", "__pycache__"))
    for onnx in MODEL_DIR.glob("*.onnx"):
        (target / onnx.name).symlink_to(onnx)
    return target


def drop_a_label(folder: Path) -> None:
    """A model folder's labels one short of its model's outputs."""
    labels = folder / "labels.txt"
    labels.write_text("\n".join(labels.read_text().splitlines()[:-1]) + "\n")


# -- waiting ----------------------------------------------------------------------------------
def toy_command(*args: str) -> list[str]:
    return [sys.executable, TOY_WORKER, *args]


def wait_for(
    condition: Callable[[], bool],
    timeout: float = 15.0,
    interval: float = 0.02,
    *,
    what: str = "the condition",
) -> None:
    """Until `condition()` holds; after `timeout` seconds, a TimeoutError that names `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:g} s: {what}")
        time.sleep(interval)


def ready_pids(tmp_path: Path) -> set[int]:
    ready = tmp_path / "ready"
    return {int(p.name) for p in ready.iterdir()} if ready.is_dir() else set()


# -- the end-to-end service and its inputs ----------------------------------------------------
@dataclass
class Service:
    url: str
    settings: BackendSettings
    backend: Backend
    env: dict[str, str]
    web: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "services.cli", "worker"]
        worker = subprocess.Popen(command, env=self.env)
        self.workers.append(worker)
        return worker

    def running_workers(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]


def make_folder(root: Path, copies: int = COPIES) -> dict[str, set[str]]:
    """Images (copies of the golden ones) and one file that is not an image: key -> labels."""
    expected: dict[str, set[str]] = {}
    for n in range(copies):
        for name, labels in GOLDEN.items():
            key = f"{'nested/' if n % 2 else ''}{n:03d}-{name}"
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(golden_bytes(name))
            expected[key] = labels
    (root / "notes.txt").write_text("not an image")
    return expected


# -- a fake upload service (the load generator's tests and its command's) ----------------------
LABELS = {"cat": "tabby", "dog": "beagle"}


@dataclass
class ServerStats:
    by_name: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    peak_in_flight: int = 0


@dataclass
class FakeService:
    url: str
    stats: ServerStats


def _answer(name: str, stem: str, *, as_json: bool) -> Response:
    if name.startswith("bad"):
        return JSONResponse({"error": "not_an_image", "reason": "cannot decode"}, status_code=422)
    if name.startswith("boom"):
        return JSONResponse({"error": "internal", "reason": "worker crashed"}, status_code=500)
    if name.startswith("pending"):
        return JSONResponse({"id": "x", "status": "pending", "location": "/v1/results/x"}, status_code=202)
    if name.startswith("garbled"):
        return PlainTextResponse("no label here")
    label = next((label for prefix, label in LABELS.items() if name.startswith(prefix)), "unknown")
    if as_json:
        return JSONResponse(
            {"id": "x", "image": name, "label": label, "score": 0.9, "top5": [], "timings": {}}
        )
    return PlainTextResponse(f"{stem}:{label}")


def fake_upload_app(stats: ServerStats) -> FastAPI:
    """The upload contract, misbehaving on cue: the answer depends on the uploaded file's name, so
    one directory of files exercises every outcome: `cat*` -> `<stem>:tabby`, `dog*` ->
    `<stem>:beagle`, `bad*` -> 422 not_an_image, `boom*` -> 500 internal, `pending*` -> 202 (gave up
    waiting), `garbled*` -> a 200 answer that breaks the contract, `slow*` -> waits a second first.
    `stats` counts requests per name and the peak number in flight."""
    app = FastAPI()

    async def handle(upload: UploadFile, *, as_json: bool) -> Response:
        name = upload.filename or ""
        stats.by_name[name] += 1
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        try:
            await upload.read()
            await asyncio.sleep(1.0 if name.startswith("slow") else 0.01)
            return _answer(name, Path(name).stem, as_json=as_json)
        finally:
            stats.in_flight -= 1

    @app.post("/upload")
    async def upload(myfile: UploadFile) -> Response:
        return await handle(myfile, as_json=False)

    @app.post("/v1/classify")
    async def classify(myfile: UploadFile) -> Response:
        return await handle(myfile, as_json=True)

    return app


@contextmanager
def fake_upload_service() -> Iterator[FakeService]:
    """`fake_upload_app` served by uvicorn on 127.0.0.1, in a thread of this process, until exit."""
    stats = ServerStats()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake_upload_app(stats), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "fake service did not start"
            time.sleep(0.01)
        yield FakeService(url=f"http://127.0.0.1:{port}", stats=stats)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def write_images(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"\xff\xd8 not decoded by the fake " + name.encode())
    return directory


# -- a webhook receiver on 127.0.0.1: records every delivery, fails the first N --------------
@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    attempts: int = 0
    received: threading.Event = field(default_factory=threading.Event)


@contextmanager
def webhook_receiver(fail_first: int = 0) -> Iterator[Receiver]:
    state = Receiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.attempts += 1
            if state.attempts <= state.fail_first:
                self.send_response(503)
                self.end_headers()
                return
            state.deliveries.append((dict(self.headers.items()), body))
            state.received.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# -- a job with one poisoned image (tests/worker/poison.py's classifiers), on one worker ----------
POISONED_CHUNK = 8
POISONED_KEY = "010-bad.jpg"  # mid-chunk: the second chunk of three


@dataclass
class JobRun:
    expected: dict[str, set[str]]  # the golden images' keys -> their labels
    state: dict[str, Any]  # the job's final status
    lines: list[dict[str, Any]]  # its results
    output: str  # the service's log
    seconds: float  # from the POST to `done`


def run_poisoned_job(tmp_path: Path, bad: bytes, worker: WorkerSettings) -> JobRun:
    """12 golden images (4 each) and `bad` as POISONED_KEY, in chunks of POISONED_CHUNK, on one worker."""
    source = tmp_path / "jobs" / "photos"
    source.mkdir(parents=True)
    expected: dict[str, set[str]] = {}
    for n, (name, labels) in enumerate([item for item in GOLDEN.items() for _ in range(4)]):
        key = f"{n:03d}-{name}"
        (source / key).write_bytes(golden_bytes(name))
        expected[key] = labels
    (source / POISONED_KEY).write_bytes(bad)
    web = WebSettings.from_values(
        jobs_root=tmp_path / "jobs", job_chunk_size=POISONED_CHUNK, job_monitor_seconds=0.5
    )
    with (
        running_up(
            tmp_path / "data", "--workers", "1", settings=[worker, web], PYTHONPATH=PROJECT_ROOT
        ) as up,
        # A generous timeout: on a loaded machine an answer may take seconds (the checks wait on states).
        httpx.Client(timeout=60) as http,
    ):
        created = http.post(f"{up.url}/v1/jobs", json={"source": "photos"})
        assert created.status_code == 202, created.text
        job = created.json()["id"]
        started = time.monotonic()
        guard = started + 240  # a guard only: the job ends on its own
        while (state := http.get(f"{up.url}/v1/jobs/{job}").json())["state"] != "done":
            assert state["state"] in ("planning", "running") and time.monotonic() < guard, state
            time.sleep(0.2)
        seconds = time.monotonic() - started
        lines = [json.loads(line) for line in http.get(f"{up.url}/v1/jobs/{job}/results").text.splitlines()]
    return JobRun(expected=expected, state=state, lines=lines, output=up.output, seconds=seconds)


def check_fails_alone(run: JobRun, reason: str) -> None:
    """Every image once; POISONED_KEY `failed` (classified alone, `reason` in the why), the rest labelled."""
    assert run.state["total"] == len(run.expected) + 1 and run.state["failed"] == 1, run.state
    keys = sorted(line["key"] for line in run.lines)
    assert keys == sorted([*run.expected, POISONED_KEY])  # none missing or twice
    for line in run.lines:
        if line["key"] == POISONED_KEY:
            assert line["error"]["kind"] == "failed" and "alone" in line["error"]["reason"], line
            assert reason in line["error"]["reason"], line
        else:
            assert line["label"] in run.expected[line["key"]], line
