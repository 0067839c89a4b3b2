"""The backend: a small aggregate that hands out a process's role objects (storage, capacity,
telemetry, job locations, deployment checks, models), and the plug-in that opens it
(`services.adapters.registry` finds it by name, `EVISION_BACKEND`). A port grows by a role, not by
a method per feature."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from services.ports.capacity import Capacity
from services.ports.deployment import Deployment
from services.ports.job_locations import JobLocations
from services.ports.models import ModelRegistry
from services.ports.storage import Storage
from services.ports.telemetry import Telemetry

if TYPE_CHECKING:
    from services.settings import BackendSettings


@runtime_checkable
class Backend(Protocol):
    """What a backend provides to one process: its role objects. Thread-safe; `close()` at exit."""

    @property
    def name(self) -> str:
        """The registry name (`EVISION_BACKEND`), for display."""
        ...

    @property
    def settings(self) -> BackendSettings:
        """The settings it was opened with."""
        ...

    @property
    def storage(self) -> Storage: ...

    @property
    def capacity(self) -> Capacity: ...

    @property
    def telemetry(self) -> Telemetry: ...

    @property
    def job_locations(self) -> JobLocations: ...

    @property
    def deployment(self) -> Deployment: ...

    @property
    def models(self) -> ModelRegistry:
        """The deployment's model registry."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A local stand-in for a backend's services, e.g. an AWS emulator on 127.0.0.1."""

    environment: Mapping[str, str]  # the variables that point clients (and children) at it
    pid: int | None = None  # its own process, if it has one (its CPU is then measurable apart)


class BackendPlugin(Protocol):
    """A backend package's entry point (`plugin` in its `__init__`), as the registry loads it."""

    def open(self, settings: BackendSettings) -> Backend: ...

    def emulator(self, *, own_process: bool = False) -> AbstractContextManager[RunningEmulator] | None:
        """Start a local emulator of this backend's services, or None if it needs none."""
        ...
