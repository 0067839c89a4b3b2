"""`evision worker --exit-with-parent` exits when its parent dies, also when the parent dies while
the worker is still loading its model (a supervisor killed right after starting a worker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from services.adapters.registry import open_backend
from services.settings import BackendSettings
from tests.fixtures import alive, clean_environment

# A parent that starts the worker as `evision up` does, prints its pid and exits at once (the
# worker is still importing).
PARENT = """
import subprocess
from services.elasticity.supervisor import worker_command
worker = subprocess.Popen(worker_command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(worker.pid, flush=True)
"""


def test_a_worker_whose_parent_died_during_its_start_exits(tmp_path: Path) -> None:
    settings = BackendSettings.from_values(data_dir=tmp_path / "data")
    backend = open_backend(settings)
    backend.storage.provision(settings)
    backend.close()
    parent = subprocess.run(
        [sys.executable, "-c", PARENT],
        env=clean_environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    worker = int(parent.stdout.strip())
    assert alive(worker)  # still starting (importing, loading its model) when its parent is gone
    deadline = time.monotonic() + 120  # its model load, then one watch period
    while alive(worker):
        if time.monotonic() > deadline:
            os.kill(worker, 9)
            raise AssertionError("the orphaned worker did not exit")
        time.sleep(0.2)
