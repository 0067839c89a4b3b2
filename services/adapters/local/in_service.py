"""Which local worker processes are in service (taking work): one marker file per process.

A worker marks itself when it starts serving (`LocalCapacity.await_serving`, after its model has
loaded); a marker whose process is gone is stale and removed when counted. The standby worker of
`evision up` asks this count, as the cloud's standby asks the Auto Scaling group.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class LocalInService:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def mark(self, pid: int) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        (self._directory / str(pid)).touch()

    def in_service(self) -> int:
        if not self._directory.is_dir():
            return 0
        count = 0
        for marker in self._directory.iterdir():
            if marker.name.isdigit() and _alive(int(marker.name)):
                count += 1
            else:
                with contextlib.suppress(FileNotFoundError):
                    marker.unlink()
        return count
