"""The capacity role: where a worker runs, its protection from scale-in, starting workers from
zero and counting those in service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a worker runs, as its platform names it: the group it belongs to (None: no group,
    e.g. a local worker), its instance (None: ask the platform's metadata service), the group's
    launch hook it completes, and that metadata service."""

    group: str | None = None
    instance_id: str | None = None
    launch_hook: str | None = None
    metadata_url: str = "http://169.254.169.254"


class ScaleInProtection(Protocol):
    """Keeps the platform from removing this worker while it holds messages (no-op where none)."""

    def set_busy(self, busy: bool) -> None: ...


class NoProtection:
    """Nothing to protect: e.g. local workers, which the supervisor drains with SIGTERM."""

    def set_busy(self, busy: bool) -> None:
        return None


class CapacityActivator(Protocol):
    """Starts workers at once when the group has none (the first upload must not wait for a metric)."""

    def activate(self) -> bool:
        """Raise the group's capacity from zero; True if this call did (a blocking call)."""
        ...


class ActivationRequests(Protocol):
    """Where a local supervisor learns that an upload asked for workers (see `capacity_activator`)."""

    def take(self) -> bool:
        """Whether one did since the last call."""
        ...


class WorkerGroupGauge(Protocol):
    """How many workers of the worker group are in service (taking work) now: what a standby
    worker asks before it takes work (it bridges only while the group has none)."""

    def in_service(self) -> int:
        """The count (a blocking call; raises if the backend cannot tell just now)."""
        ...
