"""The web lifespan's exit stack: a start-up that fails half-way undoes exactly what had started."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.adapters.registry import open_backend
from services.jobs.monitor import JobMonitor
from services.web.main import create_app
from services.web.settings import WebSettings
from tests.fixtures import settings_for

PREFIX = "web-replies"


def _settings(tmp_path: Path) -> WebSettings:
    base = settings_for("local", tmp_path / "data").model_dump()
    return WebSettings.model_validate({**base, "reply_queue_prefix": PREFIX, "depth_metric_seconds": 1})


def _reply_queues(settings: WebSettings) -> list[str]:
    backend = open_backend(settings)
    try:
        return backend.storage.reply_queues().idle(PREFIX, since=time.time() + 3600)  # every one there is
    finally:
        backend.close()


APP_THREADS = {"reply-queue-keeper", "reply-dispatcher", "dead-letter-drainer", "orphan-sweep", "job-monitor"}


def _running() -> set[str]:
    """The app's background threads alive now."""
    return {t.name for t in threading.enumerate() if t.is_alive()} & APP_THREADS


def test_a_failed_start_up_deletes_the_reply_queue_and_stops_what_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    started: list[str] = []

    @contextmanager
    def broken(self: JobMonitor) -> Iterator[JobMonitor]:  # the last service to start
        started.extend(_running())
        raise RuntimeError("job monitor cannot start")
        yield self

    monkeypatch.setattr(JobMonitor, "running", broken)
    with pytest.raises(RuntimeError, match="job monitor cannot start"), TestClient(create_app(settings)):
        pass
    assert set(started) == APP_THREADS - {"job-monitor"}  # all but the last had started
    assert _reply_queues(settings) == []
    assert _running() == set()  # and none is left running


def test_a_clean_start_and_stop_leaves_nothing_behind(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert len(_reply_queues(settings)) == 1
        assert _running() == APP_THREADS
    assert _reply_queues(settings) == []
    assert _running() == set()
