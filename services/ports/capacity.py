"""The capacity role: where a worker runs, its protection from scale-in, starting workers from
zero and counting those in service."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.ports.supervisor import SupervisorSnapshot


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


class NoActivation:
    """Nothing to activate: no group was named (e.g. against an emulator without one)."""

    def activate(self) -> bool:
        return False


class ActivationRequests(Protocol):
    """Where a local supervisor learns that an upload asked for workers (see `Capacity.activator`)."""

    def take(self) -> bool:
        """Whether one did since the last call."""
        ...


class WorkerGroupGauge(Protocol):
    """How many workers of the worker group are in service (taking work) now: what a standby
    worker asks before it takes work (it bridges only while the group has none)."""

    def in_service(self) -> int:
        """The count (a blocking call; raises if the backend cannot tell just now)."""
        ...


class Capacity(Protocol):
    """The capacity role of a backend: who scales the workers, and what a worker or the web tier
    asks of it (protection while busy, waiting to serve, starting from zero, counting)."""

    @property
    def manager(self) -> str | None:
        """Who scales the workers when no local supervisor runs (e.g. "auto scaling group")."""
        ...

    def scale_in_protection(self, placement: Placement) -> ScaleInProtection:
        """Protection of this worker from scale-in while busy (NoProtection where it has none)."""
        ...

    def await_serving(self, placement: Placement, stop: threading.Event) -> bool:
        """Block until this worker may take work (e.g. its instance is in service, not in a warm
        pool); False if `stop` was set first."""
        ...

    def activator(self, group: str | None, scale_to: int) -> CapacityActivator:
        """What raises `group` from zero to `scale_to` workers (NoActivation where nothing scales)."""
        ...

    def activation_requests(self) -> ActivationRequests | None:
        """What the activators ask, for a supervisor that starts the workers itself; None where
        the activator acts on its own (cloud: SetDesiredCapacity)."""
        ...

    def worker_group_gauge(self, group: str | None) -> WorkerGroupGauge:
        """What counts `group`'s workers in service (cloud: its InService instances; local: the
        supervisor's workers that have started taking work). Raises ValueError if it needs a
        group name and got none."""
        ...

    def supervisor_status(self) -> SupervisorSnapshot | None:
        """The last snapshot of the local supervisor that scales the workers (`evision up`), stale
        or not; None where none has written one (e.g. in the cloud). Blocking (a file read)."""
        ...
