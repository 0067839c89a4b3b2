"""The aws backend's capacity role: the Auto Scaling group scales the workers (protection from
scale-in, the warm pool's wait for InService, activation from zero, the in-service count)."""

from __future__ import annotations

import threading

from services.adapters.aws.clients import AwsClients
from services.ports.capacity import (
    ActivationRequests,
    CapacityActivator,
    NoActivation,
    Placement,
    ScaleInProtection,
    WorkerGroupGauge,
)
from services.ports.supervisor import SupervisorSnapshot
from services.settings import BackendSettings
from services.status import read_snapshot, status_path


class AsgCapacity:
    manager = "auto scaling group"

    def __init__(self, settings: BackendSettings, clients: AwsClients) -> None:
        self._data_dir = settings.data_dir
        self._clients = clients

    def scale_in_protection(self, placement: Placement) -> ScaleInProtection:
        from services.adapters.aws.protection import make_protection

        return make_protection(placement, client=lambda: self._clients.client("autoscaling"))

    def await_serving(self, placement: Placement, stop: threading.Event) -> bool:
        from services.adapters.aws.lifecycle import await_in_service

        return await_in_service(placement, stop, client=lambda: self._clients.client("autoscaling"))

    def activator(self, group: str | None, scale_to: int) -> CapacityActivator:
        if not group:
            return NoActivation()  # not told which group (e.g. against an emulator without one)
        from services.adapters.aws.capacity import AsgActivator

        return AsgActivator(self._clients.client("autoscaling"), group=group, scale_to=scale_to)

    def activation_requests(self) -> ActivationRequests | None:
        return None  # the web tier's activator raises the Auto Scaling group itself

    def worker_group_gauge(self, group: str | None) -> WorkerGroupGauge:
        if not group:
            raise ValueError("the aws backend counts workers in service per Auto Scaling group: name it")
        from services.adapters.aws.capacity import AsgInServiceGauge

        return AsgInServiceGauge(self._clients.client("autoscaling"), group=group)

    def supervisor_status(self) -> SupervisorSnapshot | None:
        # In the cloud no supervisor runs (the group scales): there is no file, so None. Against
        # an emulator `evision up --backend aws` runs its local supervisor, which writes it.
        return read_snapshot(status_path(self._data_dir))
