"""Worker pools of cheap real processes (tests/elasticity/toy_worker.py) that are always stopped."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from services.elasticity.supervisor import WorkerPool

TOY = str(Path(__file__).with_name("toy_worker.py"))
ROOT = str(Path(__file__).parents[2])


def toy_command(*args: str) -> list[str]:
    return [sys.executable, TOY, *args]


def wait_for(condition: Callable[[], bool], timeout: float = 15.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


@pytest.fixture
def make_pool(tmp_path: Path) -> Iterator[Callable[..., WorkerPool]]:
    pools: list[WorkerPool] = []

    def make(*args: str, env: Mapping[str, str] | None = None, **options: Any) -> WorkerPool:
        import os

        ready = tmp_path / "ready"
        ready.mkdir(exist_ok=True)
        environment = {**os.environ, "PYTHONPATH": ROOT, "TOY_READY_DIR": str(ready), **(env or {})}
        pool = WorkerPool(toy_command(*args), environment, **options)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown(drain_seconds=5)


def ready_pids(tmp_path: Path) -> set[int]:
    ready = tmp_path / "ready"
    return {int(p.name) for p in ready.iterdir()} if ready.is_dir() else set()
