"""The local backend's capacity role: the local supervisor scales the workers (no cloud group)."""

from __future__ import annotations

import os
import threading

from services.adapters.local.activation import LocalActivation
from services.adapters.local.in_service import LocalInService
from services.ports.capacity import (
    ActivationRequests,
    CapacityActivator,
    NoProtection,
    Placement,
    ScaleInProtection,
    WorkerGroupGauge,
)
from services.ports.supervisor import SupervisorSnapshot
from services.settings import BackendSettings
from services.status import read_snapshot, status_path


class LocalCapacity:
    manager = None  # only the local supervisor scales local workers

    def __init__(self, settings: BackendSettings) -> None:
        self._data_dir = settings.data_dir
        self._in_service = LocalInService(settings.data_dir / "in-service")
        self._activation = LocalActivation(settings.data_dir / "activation-requested")

    def scale_in_protection(self, placement: Placement) -> ScaleInProtection:
        return NoProtection()  # the supervisor drains local workers with SIGTERM instead

    def await_serving(self, placement: Placement, stop: threading.Event) -> bool:
        if stop.is_set():
            return False
        self._in_service.mark(os.getpid())  # a local process serves as soon as it is started
        return True

    def activator(self, group: str | None, scale_to: int) -> CapacityActivator:
        return self._activation  # the supervisor starts a worker within one period

    def activation_requests(self) -> ActivationRequests | None:
        return self._activation

    def worker_group_gauge(self, group: str | None) -> WorkerGroupGauge:
        return self._in_service  # one group per data dir: the name is not needed

    def supervisor_status(self) -> SupervisorSnapshot | None:
        return read_snapshot(status_path(self._data_dir))  # written once per period (`evision up`)
