"""The fault soak: uploads against a real `evision up` while its workers and then the whole service
are killed; every accepted upload must end with its right label, once.

The client is what a careful user writes: every upload carries an `Idempotency-Key`; a connection
error or a 5xx is retried with the same key (so a retry never classifies twice), a 202 is
followed by polling `GET /v1/results/{id}`. Faults, spread over the run: `worker_kills` SIGKILLs
of a worker (the supervisor replaces it and releases what it held) and `service_crashes`
SIGKILLs of the whole service (web, supervisor and workers at once), each followed by a restart
on the same data directory. Then `crash_loop` rounds aimed at the upload's own writes: a burst
of `crash_burst` keyed uploads, the whole service SIGKILLed a few milliseconds into it (when
the web process is storing, sending and remembering), a restart, and the burst settled.

Each fault waits for what it needs (a worker to kill, a healthy service), never for a fixed time:
a loaded machine makes the run slower, not different.

Counted per upload: accepted (an id was returned), correct / wrong (the final label), lost
(accepted, but no result by the end), duplicated (one key answered with two ids), 5xx answers.
`kill_wait` is how long the uploads in hand at a worker kill took to be answered after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from model import GoldenImage, golden_by_name
from services.bench.processes import evision, free_port, log_tail

RETRY_SECONDS = 0.5
GIVE_UP_SECONDS = 180.0  # one upload, through every fault; past it, the upload counts as lost
READY_SECONDS = 180.0  # a (re)started service must be healthy, with its workers, within this
CRASH_AFTER_MS = (2.0, 40.0)  # a crash-loop round's SIGKILL comes this far into its burst


@dataclass
class SoakReport:
    uploads: int
    accepted: int = 0
    correct: int = 0
    wrong: int = 0
    lost: int = 0
    duplicated: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    worker_kills: int = 0
    service_crashes: int = 0
    kill_waits: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.lost == self.wrong == self.duplicated == self.server_errors == 0 and (
            self.accepted == self.correct == self.uploads
        )

    def lines(self) -> list[str]:
        worst = max(self.kill_waits, default=0.0)
        return [
            f"uploads {self.uploads} in {self.seconds:.0f} s, {self.worker_kills} worker SIGKILLs, "
            f"{self.service_crashes} service crash-restarts",
            f"accepted {self.accepted}  correct {self.correct}  wrong {self.wrong}  lost {self.lost}  "
            f"duplicated {self.duplicated}  5xx {self.server_errors}  "
            f"(connection errors retried: {self.connection_errors})",
            f"uploads in hand at a worker kill: {len(self.kill_waits)}, "
            f"answered at most {worst:.1f} s after it",
        ]


@dataclass
class _Upload:
    name: str
    data: bytes
    expected: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    ids: set[str] = field(default_factory=set)
    label: str | None = None
    done_at: float | None = None


class _Service:
    """`evision up` on a fixed port and data directory, restartable after a crash."""

    def __init__(self, data_dir: Path, port: int, workers: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._command = evision(
            "up", "--port", str(port), "--data-dir", str(data_dir), "--workers", str(workers)
        )
        self._env = {k: v for k, v in os.environ.items() if not k.startswith(("EVISION_", "AWS_"))}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start it and return once it answers /healthz with its workers running."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self._command, env=self._env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + READY_SECONDS
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"evision up exited {self.process.returncode}:\n{log_tail(self.log)}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/healthz")).status_code == 200 and self.workers():
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"evision up did not become healthy:\n{log_tail(self.log)}")

    async def some_workers(self) -> list[int]:
        """The worker processes, once there is one (a replaced worker takes a moment to start)."""
        deadline = time.monotonic() + READY_SECONDS
        while not (pids := self.workers()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return pids

    def workers(self) -> list[int]:
        """The worker processes: the service's children (Linux /proc)."""
        assert self.process is not None
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    children.append(int(stat.parent.name))
        return children

    def crash(self) -> None:
        """SIGKILL the whole service: the web tier, the supervisor and every worker at once."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.crash()


async def _settle(client: httpx.AsyncClient, upload: _Upload, report: SoakReport, deadline: float) -> None:
    """Upload until answered, as a careful client does: same key on every retry, poll on 202."""
    files = {"file": (upload.name, upload.data)}
    headers = {"Idempotency-Key": upload.key}
    while time.monotonic() < deadline:
        try:
            if upload.ids and len(upload.ids) == 1 and upload.label is None:
                (request_id,) = upload.ids
                answer = await client.get(f"/v1/results/{request_id}")
            else:
                answer = await client.post("/v1/classify", files=files, headers=headers)
        except httpx.TransportError:
            report.connection_errors += 1
            await asyncio.sleep(RETRY_SECONDS)
            continue
        if answer.status_code >= 500:
            report.server_errors += 1
        body = answer.json()
        if "id" in body:
            upload.ids.add(body["id"])
        if answer.status_code == 200 or body.get("error") == "failed":  # a final answer
            upload.label = body.get("label") or f"<{body['error']}>"
            upload.done_at = time.monotonic()
            return
        if answer.status_code == 202 or answer.status_code >= 500:
            await asyncio.sleep(RETRY_SECONDS)
            continue
        raise RuntimeError(f"{upload.name}: unexpected {answer.status_code} {body}")


def _uploads(images: list[GoldenImage], count: int, offset: int = 0) -> list[_Upload]:
    chosen = (images[(offset + i) % len(images)] for i in range(count))
    return [_Upload(image.path.name, image.read_bytes(), image.expected_label) for image in chosen]


async def _soak(
    *,
    uploads: int,
    concurrency: int,
    worker_kills: int,
    service_crashes: int,
    crash_loop: int,
    crash_burst: int,
    data_dir: Path,
    workers: int,
) -> SoakReport:
    images = list(golden_by_name().values())
    work = _uploads(images, uploads)
    report = SoakReport(uploads=uploads)
    service = _Service(data_dir, free_port(), workers, data_dir / "soak-service.log")
    await service.start()
    started = time.monotonic()
    queue: asyncio.Queue[_Upload] = asyncio.Queue()
    for upload in work:
        queue.put_nowait(upload)
    in_hand: set[int] = set()

    async with httpx.AsyncClient(base_url=service.url, timeout=120) as client:

        async def client_loop() -> None:
            while not queue.empty():
                upload = queue.get_nowait()
                in_hand.add(id(upload))
                await _settle(client, upload, report, time.monotonic() + GIVE_UP_SECONDS)
                in_hand.discard(id(upload))

        async def faults() -> None:
            faults = ["worker"] * worker_kills + ["service"] * service_crashes
            random.Random(7).shuffle(faults)
            for index, fault in enumerate(faults):
                target = uploads * (index + 1) // (len(faults) + 1)
                while sum(u.done_at is not None for u in work) < target:
                    await asyncio.sleep(0.05)
                if fault == "worker":
                    pids = await service.some_workers()
                    if not pids:
                        raise RuntimeError(f"no worker to kill:\n{log_tail(service.log)}")
                    killed_at = time.monotonic()
                    held = [u for u in work if id(u) in in_hand]
                    os.kill(random.Random(index).choice(pids), signal.SIGKILL)
                    report.worker_kills += 1
                    asyncio.get_running_loop().create_task(_watch(held, killed_at))
                else:
                    service.crash()
                    report.service_crashes += 1
                    await asyncio.sleep(1.0)
                    await service.start()

        async def _watch(held: list[_Upload], killed_at: float) -> None:
            while any(u.done_at is None for u in held) and time.monotonic() - killed_at < GIVE_UP_SECONDS:
                await asyncio.sleep(0.1)
            report.kill_waits.extend((u.done_at or time.monotonic()) - killed_at for u in held)

        async def crash_rounds() -> None:
            """Each round: a burst of keyed uploads, the whole service SIGKILLed a few ms into it."""
            chance = random.Random(11)
            for round_ in range(crash_loop):
                burst = _uploads(images, crash_burst, offset=round_)
                work.extend(burst)
                deadline = time.monotonic() + GIVE_UP_SECONDS
                settling = [asyncio.create_task(_settle(client, u, report, deadline)) for u in burst]
                await asyncio.sleep(chance.uniform(*CRASH_AFTER_MS) / 1000)
                service.crash()
                report.service_crashes += 1
                await service.start()
                await asyncio.gather(*settling)

        try:
            await asyncio.gather(faults(), *(client_loop() for _ in range(concurrency)))
            await asyncio.sleep(0.5)  # the last kill's watcher
            await crash_rounds()
        finally:
            service.stop()
    report.seconds = time.monotonic() - started
    report.uploads = len(work)
    for upload in work:
        report.accepted += bool(upload.ids)
        report.duplicated += len(upload.ids) > 1
        if upload.label is None:
            report.lost += bool(upload.ids)
        elif upload.label == upload.expected:
            report.correct += 1
        else:
            report.wrong += 1
    return report


def run_soak(
    *,
    uploads: int = 2000,
    concurrency: int = 16,
    worker_kills: int = 3,
    service_crashes: int = 1,
    crash_loop: int = 0,
    crash_burst: int = 32,
    data_dir: Path,
    workers: int = 2,
) -> SoakReport:
    return asyncio.run(
        _soak(
            uploads=uploads,
            concurrency=concurrency,
            worker_kills=worker_kills,
            service_crashes=service_crashes,
            crash_loop=crash_loop,
            crash_burst=crash_burst,
            data_dir=data_dir,
            workers=workers,
        )
    )
