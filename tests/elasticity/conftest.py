"""Worker pools of cheap real processes (tests/elasticity/toy_worker.py) that are always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from services.elasticity.supervisor import WorkerPool
from tests.fixtures import PROJECT_ROOT, toy_command


@pytest.fixture
def make_pool(tmp_path: Path) -> Iterator[Callable[..., WorkerPool]]:
    pools: list[WorkerPool] = []

    def make(*args: str, env: Mapping[str, str] | None = None, **options: Any) -> WorkerPool:
        import os

        ready = tmp_path / "ready"
        ready.mkdir(exist_ok=True)
        environment = {**os.environ, "PYTHONPATH": PROJECT_ROOT, "TOY_READY_DIR": str(ready), **(env or {})}
        pool = WorkerPool(toy_command(*args), environment, **options)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown(drain_seconds=5)
