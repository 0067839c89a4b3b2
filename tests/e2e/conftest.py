"""A running service per backend for the end-to-end tests: real uvicorn on 127.0.0.1 and real worker
processes, on a fresh local data directory or on the session's moto server. Module-scoped: each
test module starts it once and its tests share it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from services.adapters.registry import open_backend
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings
from tests.fixtures import E2E_VISIBILITY_TIMEOUT, Service, free_port, settings_for, stop, wait_until_healthy

REPLY_QUEUE = "e2e-replies"


@pytest.fixture(scope="module", params=["local", "aws"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    kind = request.param
    if kind == "aws":
        request.getfixturevalue("moto_endpoint")
    settings = settings_for(
        kind, tmp_path_factory.mktemp(f"e2e-{kind}"), visibility_timeout=E2E_VISIBILITY_TIMEOUT
    )
    backend = open_backend(settings)
    backend.storage.provision(settings)
    shared = settings.model_dump()
    web_settings = WebSettings.from_values(
        **shared, reply_queue_prefix=REPLY_QUEUE, wait_seconds=30, reply_poll_seconds=2
    )
    # Workers: short long-polls so they stop quickly.
    worker_settings = WorkerSettings.from_values(**shared, poll_seconds=2)
    env = {**os.environ, **web_settings.environment(), **worker_settings.environment(explicit_only=True)}
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "services.cli", "web", "--port", str(port)], env=env)
    service = Service(url=f"http://127.0.0.1:{port}", settings=settings, backend=backend, env=env, web=web)
    try:
        for _ in range(2):
            service.start_worker()
        wait_until_healthy(service.url, web)
        yield service
    finally:
        codes = [stop(w) for w in service.workers]
        web_code = stop(web)
        backend.close()
    # Graceful stops are part of the contract: every process drained and exited cleanly.
    assert web_code == 0
    assert all(code in (0, -signal.SIGKILL) for code in codes), codes
