"""A tiny real HTTP service on 127.0.0.1 that speaks the upload contract and misbehaves on cue.

The answer depends on the uploaded file's name, so one directory of files exercises every
outcome: `cat*` -> `<stem>:tabby`, `dog*` -> `<stem>:beagle`, `bad*` -> 422 not_an_image,
`boom*` -> 500 internal, `pending*` -> 202 (gave up waiting), `garbled*` -> a 200 answer that
breaks the contract, `slow*` -> waits a second first. It counts requests per name and the
peak number in flight.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tests.fixtures import FakeService, ServerStats, fake_upload_app


@pytest.fixture(scope="module")
def fake_service() -> Iterator[FakeService]:
    stats = ServerStats()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake_upload_app(stats), log_level="warning", lifespan="off"))
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


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
