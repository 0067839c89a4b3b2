"""The load generator's tests' fixtures: the fake upload service (tests/fixtures.py) shared by a
module, its counters reset for each test, and a port nothing listens on."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.fixtures import FakeService, fake_upload_service


@pytest.fixture(scope="module")
def fake_service() -> Iterator[FakeService]:
    with fake_upload_service() as service:
        yield service


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
