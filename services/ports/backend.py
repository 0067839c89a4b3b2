"""The backend: what a storage-and-queue backend provides to one process, and the plug-in that
opens it (`services.adapters.registry` finds it by name, `EVISION_BACKEND`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from services.ports.capacity import (
    ActivationRequests,
    CapacityActivator,
    Placement,
    ScaleInProtection,
    WorkerGroupGauge,
)
from services.ports.deployment import PreflightProbe
from services.ports.job_locations import JobOutput, JobSource
from services.ports.models import ModelRegistry
from services.ports.storage import BlobStore, MessageQueue, ReplyQueues
from services.ports.telemetry import DepthReporter, MetricsSink

if TYPE_CHECKING:
    from services.settings import BackendSettings


@runtime_checkable
class Backend(Protocol):
    """What a storage-and-queue backend provides to one process. Thread-safe; `close()` at exit."""

    @property
    def name(self) -> str:
        """The registry name (`EVISION_BACKEND`), for display."""
        ...

    @property
    def settings(self) -> BackendSettings:
        """The settings it was opened with."""
        ...

    @property
    def calls_are_brief(self) -> bool:
        """Whether a put or send returns within a millisecond or so, never waiting on a network.

        Then callers may run them on an event loop or the calling thread rather than hopping to
        a worker thread, whose hand-off costs more than such a call.
        """
        ...

    @property
    def provisions_itself(self) -> bool:
        """Whether this process must create the buckets and queues (`provision`) before use.

        True for an embedded store and for an emulator; False where infrastructure owns them.
        """
        ...

    @property
    def capacity_manager(self) -> str | None:
        """Who scales the workers when no local supervisor runs (e.g. "auto scaling group")."""
        ...

    def blobs(self, bucket: str) -> BlobStore: ...

    def queue(self, name: str) -> MessageQueue: ...

    def provision(self, settings: BackendSettings, reply_queues: Sequence[str] = ()) -> None:
        """Create the buckets and queues if missing; the request queue dead-letters after
        `settings.max_receives` receives. Idempotent."""
        ...

    def reply_queues(self) -> ReplyQueues:
        """Where web processes create, keep alive and delete their own reply queues."""
        ...

    def unavailable_reason(self) -> str | None:
        """Why the service's data cannot be read from here (read-only check), or None."""
        ...

    def delete_expired(self, now: float) -> int:
        """Delete inputs and results past `settings`' expiry, where the backend does not do it
        itself (S3 lifecycle rules do); how many objects went."""
        ...

    def scale_in_protection(self, placement: Placement) -> ScaleInProtection:
        """Protection of this worker from scale-in while busy (NoProtection where it has none)."""
        ...

    def await_serving(self, placement: Placement, stop: threading.Event) -> bool:
        """Block until this worker may take work (e.g. its instance is in service, not in a warm
        pool); False if `stop` was set first."""
        ...

    def metrics_sink(self) -> MetricsSink:
        """Where workers publish their metrics (Silent: nowhere)."""
        ...

    def depth_reporter(self) -> DepthReporter:
        """Where the web tier publishes the queue depth for the fast alarms (Silent: nowhere)."""
        ...

    def capacity_activator(self, group: str | None, scale_to: int) -> CapacityActivator:
        """What raises `group` from zero to `scale_to` workers (Silent where nothing scales)."""
        ...

    def activation_requests(self) -> ActivationRequests | None:
        """What the activators of `capacity_activator` ask, for a supervisor that starts the workers
        itself; None where the activator acts on its own (cloud: SetDesiredCapacity)."""
        ...

    def worker_group_gauge(self, group: str | None) -> WorkerGroupGauge:
        """What counts `group`'s workers in service (cloud: its InService instances; local: the
        supervisor's workers that have started taking work). Raises ValueError if it needs a
        group name and got none."""
        ...

    def model_registry(self) -> ModelRegistry: ...

    def job_source(self, location: str) -> JobSource:
        """The images of `location` (aws: s3://bucket/prefix; local: an absolute folder path);
        raises ValueError for a location this backend cannot read."""
        ...

    def job_output(self, location: str) -> JobOutput:
        """Where results go (aws: s3://bucket/prefix; local: an absolute folder, created if
        missing); raises ValueError for a location this backend cannot write."""
        ...

    def preflight_probe(self) -> PreflightProbe | None:
        """What checks an account before a deployment into it (None: this backend deploys nothing)."""
        ...

    def read_secret(self, name: str) -> str:
        """The value of a secret this deployment keeps (cloud: an SSM SecureString parameter);
        raises LookupError if there is none of that name or the backend keeps no secrets, and
        PermissionError if it exists but this process may not read it (the reason in the message)."""
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
