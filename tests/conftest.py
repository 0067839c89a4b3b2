"""Shared fixtures: the AWS emulator and a ready `Backend` for each adapter.

- `moto_endpoint`: one moto server on 127.0.0.1 for the whole session; boto3 in this process
  (and in child processes started later) is pointed at it with dummy credentials.
- The session's scratch TMPDIR: what the service and its child processes leave in the temporary
  directory (e.g. the per-host depth-publisher lease, one file per unique queue name) goes into
  one folder removed at the end; pytest's own `tmp_path` folders stay where they were (kept for
  a failed test).
- `backend_settings` / `backend`: parametrized over "local" (fresh data dir) and "aws" (moto,
  names unique per test), with buckets and queues created. Use `local_backend` where a test
  only makes sense locally.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.adapters.aws.emulator import Emulator
from services.adapters.registry import open_backend
from services.ports.backend import Backend
from services.settings import BackendSettings
from tests.fixtures import settings_for

# Where a native crash happened, for `python -m tests.crash_guard` (make test).
pytest_plugins = ["tests.native_crashes"]

_SCRATCH: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())  # tmp_path stays put
    scratch = tempfile.mkdtemp(prefix="evision-tests-")
    _SCRATCH.append(scratch)
    os.environ["TMPDIR"] = scratch  # child processes
    tempfile.tempdir = scratch  # this one


def pytest_unconfigure(config: pytest.Config) -> None:
    for scratch in _SCRATCH:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    emulator = Emulator()
    endpoint = emulator.start()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in emulator.environment().items():
            patch.setenv(key, value)
        yield endpoint
    emulator.stop()


@pytest.fixture(params=["local", "aws"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> BackendSettings:
    if request.param == "aws":
        request.getfixturevalue("moto_endpoint")
    return settings_for(request.param, tmp_path / "data")


@pytest.fixture
def backend(backend_settings: BackendSettings) -> Iterator[Backend]:
    backend = open_backend(backend_settings)
    backend.storage.provision(backend_settings)
    yield backend
    backend.close()


@pytest.fixture
def local_backend(tmp_path: Path) -> Iterator[Backend]:
    settings = settings_for("local", tmp_path / "data")
    backend = open_backend(settings)
    backend.storage.provision(settings)
    yield backend
    backend.close()
