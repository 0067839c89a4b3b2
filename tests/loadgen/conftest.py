"""A tiny real HTTP service on 127.0.0.1 that speaks the upload contract and misbehaves on cue.

The answer depends on the uploaded file's name, so one directory of files exercises every
outcome: `cat*` -> `<stem>:tabby`, `dog*` -> `<stem>:beagle`, `bad*` -> 422 not_an_image,
`boom*` -> 500 internal, `pending*` -> 202 (gave up waiting), `garbled*` -> a 200 answer that
breaks the contract, `slow*` -> waits a second first. It counts requests per name and the
peak number in flight.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

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


def make_app(stats: ServerStats) -> FastAPI:
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


@pytest.fixture(scope="module")
def fake_service() -> Iterator[FakeService]:
    stats = ServerStats()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(stats), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "fake service did not start"
        time.sleep(0.01)
    yield FakeService(url=f"http://127.0.0.1:{port}", stats=stats)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def service(fake_service: FakeService) -> FakeService:
    """The shared fake service with its counters reset for this test."""
    fake_service.stats.by_name.clear()
    fake_service.stats.peak_in_flight = 0
    return fake_service


def write_images(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"\xff\xd8 not decoded by the fake " + name.encode())
    return directory


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
