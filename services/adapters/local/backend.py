"""The `local` backend: blobs as files and queues in one SQLite database under the data dir.

Embedded and durable across crashes, no server, no credentials: what `evision up` runs on.
"""

from __future__ import annotations

from services.adapters.base import RoleBackend
from services.adapters.local.capacity import LocalCapacity
from services.adapters.local.job_locations import LocalJobLocations
from services.adapters.local.model_registry import LocalModelRegistry
from services.adapters.local.storage import LocalStorage
from services.ports.backend import Backend
from services.ports.telemetry import DepthReporter, MetricsSink, Silent
from services.settings import BackendSettings


class LocalTelemetry:
    def metrics_sink(self) -> MetricsSink:
        return Silent()  # `evision status` and the terminal show what local workers do

    def depth_reporter(self) -> DepthReporter:
        return Silent()  # the supervisor reads the queue's depth itself


class LocalDeployment:
    def preflight_probe(self) -> None:
        return None  # nothing is deployed: `evision up` is the whole service

    def read_secret(self, name: str) -> str:
        raise LookupError(f"the local backend keeps no secrets (asked for {name!r}): use a file setting")


def open_local(settings: BackendSettings) -> Backend:
    storage = LocalStorage(settings)
    return RoleBackend(
        name="local",
        settings=settings,
        storage=storage,
        capacity=LocalCapacity(settings),
        telemetry=LocalTelemetry(),
        job_locations=LocalJobLocations(),
        deployment=LocalDeployment(),
        models=LocalModelRegistry(settings.data_dir),
        on_close=storage.close,
    )
