"""What `evision status` and `GET /v1/status` show: queue depth, workers, recent scaling decisions.

The local supervisor writes a `SupervisorSnapshot` to `<data_dir>/status.json` once per period
(atomically: write a temporary file, then rename), so any process can read it without talking to
the supervisor (through the backend: `capacity.supervisor_status`). `collect_status` combines it
with the live queue depth into one `StatusReport`, the same JSON for the command line and the web
tier. In AWS no local supervisor runs: the report then says the workers are managed by the Auto
Scaling group.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from services.ports.storage import QueueDepth
from services.ports.supervisor import SupervisorSnapshot

STATUS_FILE = "status.json"


class QueueStatus(BaseModel):
    name: str
    visible: int | None = None
    in_flight: int | None = None
    error: str | None = Field(default=None, description="why the depth could not be read")


class StatusReport(BaseModel):
    backend: str
    time: float
    queue: QueueStatus
    dead_letters: QueueStatus | None = Field(
        default=None,
        description="requests that used up their receives, waiting to be given a `failed` result "
        "(the web tier drains them within seconds; a count that stays up means it cannot)",
    )
    workers_managed_by: str = Field(
        description='"local supervisor", the backend\'s own manager (e.g. "auto scaling group"), or "nothing"'
    )
    supervisor: SupervisorSnapshot | None = Field(
        default=None, description="the local supervisor's last snapshot, if one is running"
    )
    models: list[str] = Field(
        default_factory=list,
        description="the model and engine (with its precision) of the results this web process "
        'received in the last 10 minutes, newest first, e.g. "efficientnet-lite0@491235965c06 '
        'openvino-bf16" (empty from `evision status`, which receives none)',
    )


def status_path(data_dir: Path) -> Path:
    return data_dir / STATUS_FILE


def write_snapshot(path: Path, snapshot: SupervisorSnapshot) -> None:
    """Replace `path` atomically: readers see the old snapshot or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".status-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(snapshot.model_dump_json())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise


def read_snapshot(path: Path) -> SupervisorSnapshot | None:
    """The snapshot at `path`, or None when there is none (or it is unreadable)."""
    try:
        return SupervisorSnapshot.model_validate_json(path.read_bytes())
    except (FileNotFoundError, ValidationError):
        return None


def collect_status(
    *,
    backend: str,
    capacity_manager: str | None,
    queue_name: str,
    depth: Callable[[], QueueDepth],
    supervisor: Callable[[], SupervisorSnapshot | None],
    dead_letters: tuple[str, Callable[[], QueueDepth]] | None = None,
) -> StatusReport:
    """The status of the service as seen from here (blocking: reads the queue and the supervisor's
    snapshot, `supervisor`: the backend's `capacity.supervisor_status`).

    `depth` reads the request queue's depth; its failure (no such queue yet, no credentials...)
    is reported in the result rather than raised. `capacity_manager`: who scales the workers
    when no local supervisor runs (the backend says; None: nobody).
    """
    now = time.time()
    queue_status = _queue_status(queue_name, depth)
    dead_status = None if dead_letters is None else _queue_status(*dead_letters)
    snapshot = supervisor()
    if snapshot is not None and snapshot.stale(now):
        snapshot = None
    managed_by = "local supervisor" if snapshot is not None else capacity_manager or "nothing"
    return StatusReport(
        backend=backend,
        time=now,
        queue=queue_status,
        dead_letters=dead_status,
        workers_managed_by=managed_by,
        supervisor=snapshot,
    )


def _queue_status(name: str, depth: Callable[[], QueueDepth]) -> QueueStatus:
    status = QueueStatus(name=name)
    try:
        sample = depth()
        status.visible, status.in_flight = sample.visible, sample.in_flight
    except Exception as exc:  # the report is still useful without the depth
        status.error = f"{type(exc).__name__}: {exc}"
    return status
