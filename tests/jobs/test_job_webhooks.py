"""Webhooks that cannot hurt, against a real `evision up`: a receiver that never answers delays no
other job; webhooks to the metadata address, a private address or loopback are refused when the
job is created (422, in the error vocabulary), in several spellings of each."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.web.settings import WebSettings
from tests.fixtures import RunningUp, golden_bytes, running_up, webhook_receiver

# A generous timeout: on a loaded machine an answer may take seconds (the checks wait on states).
HTTP = httpx.Client(timeout=60)

SECRET = "whsec-e2e-0123456789abcdef"
METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://169.254.169.254./",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
]
PRIVATE = ["http://10.0.0.1/hook", "http://0x0a000001/", "http://192.168.1.1./", "http://[fd12::1]/"]
LOOPBACK = [
    "http://127.0.0.1:9/hook",
    "http://127.1/",
    "http://2130706433/",
    "http://[::1]/",
    "http://localhost/",
]


@pytest.fixture(scope="module")
def jobs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("jobs-root")
    for name in ("a", "b"):
        (root / name).mkdir()
        (root / name / "cat.jpg").write_bytes(golden_bytes("cat.jpg"))
    return root


def _up(tmp: pytest.TempPathFactory, jobs_root: Path, *, allow_private: bool) -> Iterator[RunningUp]:
    settings = WebSettings.from_values(
        jobs_root=jobs_root,
        webhook_secret=SECRET,
        webhook_allow_private=allow_private,
        webhook_timeout_seconds=600,  # an attempt at a silent receiver hangs for the whole test
    )
    with running_up(tmp.mktemp("data"), "--workers", "1", settings=settings) as up:
        yield up


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, jobs_root: Path) -> Iterator[RunningUp]:
    yield from _up(tmp_path_factory, jobs_root, allow_private=False)


@pytest.fixture(scope="module")
def on_premises(tmp_path_factory: pytest.TempPathFactory, jobs_root: Path) -> Iterator[RunningUp]:
    yield from _up(tmp_path_factory, jobs_root, allow_private=True)


@contextmanager
def silent_receiver() -> Iterator[tuple[str, threading.Event]]:
    """A receiver on 127.0.0.1 that accepts connections and never answers; the event is set
    once one was accepted."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)
            accepted.set()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook", accepted
    finally:
        server.close()
        for connection in held:
            connection.close()  # the hung attempt ends (reset) before the service stops


def _done(url: str, job: str) -> dict[str, object]:
    guard = time.monotonic() + 240  # a guard only
    while (state := HTTP.get(f"{url}/v1/jobs/{job}").json())["state"] != "done":
        assert time.monotonic() < guard, state
        time.sleep(0.1)
    done: dict[str, object] = state
    return done


@pytest.mark.parametrize("url", METADATA + PRIVATE + LOOPBACK)
def test_a_webhook_to_metadata_private_or_loopback_is_refused_at_creation(
    strict: RunningUp, url: str
) -> None:
    refused = HTTP.post(f"{strict.url}/v1/jobs", json={"source": "a", "webhook": url})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "invalid_request" and "refused" in body["reason"], body


@pytest.mark.parametrize("url", METADATA)
def test_the_private_setting_never_allows_the_metadata_address(on_premises: RunningUp, url: str) -> None:
    refused = HTTP.post(f"{on_premises.url}/v1/jobs", json={"source": "a", "webhook": url})
    assert refused.status_code == 422 and "link-local" in refused.json()["reason"], refused.text


def test_a_receiver_that_never_answers_delays_no_other_job(on_premises: RunningUp) -> None:
    url = on_premises.url
    with silent_receiver() as (silent, accepted), webhook_receiver() as receiver:
        first = HTTP.post(f"{url}/v1/jobs", json={"source": "a", "webhook": silent}).json()["id"]
        _done(url, first)
        assert accepted.wait(60)  # its webhook attempt is in flight now, and hangs
        second = HTTP.post(f"{url}/v1/jobs", json={"source": "b", "webhook": receiver.url}).json()["id"]
        state = _done(url, second)
        # Done AND notified while the first job's attempt still hangs (it would for 600 s): the
        # monitor never waits for a receiver.
        assert receiver.received.wait(60)
        assert state["state"] == "done" and not HTTP.get(f"{url}/v1/jobs/{first}").json()["problem"]
    headers, _ = receiver.deliveries[0]
    assert headers["Evision-Delivery"] == second
