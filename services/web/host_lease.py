"""One holder per host among the processes that ask: who publishes the per-instance depth metric.

Why: every web process of an instance sees the same request queue, so one datapoint per period is
enough, and CloudWatch bills each PutMetricData call (the bill: services/elasticity/simulator/).
How: a non-blocking `flock` on a file in the temporary directory named after `key`. The kernel
drops the lock when its holder exits or dies, and another process takes it at its next `held()`;
different deployments on one host (other queue names) hold different files.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path


class HostLease:
    def __init__(self, key: str, directory: Path | None = None) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.path = (directory or Path(tempfile.gettempdir())) / f"evision-lease-{digest}.lock"
        self._fd: int | None = None

    def held(self) -> bool:
        """Whether this process holds the lease, taking it if it is free."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
