"""What the backends share: the aggregate of their role objects, and storage that builds one
adapter per bucket / queue name on first use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.ports.capacity import Capacity
from services.ports.deployment import Deployment
from services.ports.job_locations import JobLocations
from services.ports.models import ModelRegistry
from services.ports.storage import BlobStore, MessageQueue, Storage
from services.ports.telemetry import Telemetry
from services.settings import BackendSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleBackend:
    """A `Backend` made of its role objects: each adapter builds its own and hands them out here."""

    name: str
    settings: BackendSettings
    storage: Storage
    capacity: Capacity
    telemetry: Telemetry
    job_locations: JobLocations
    deployment: Deployment
    models: ModelRegistry
    on_close: Callable[[], None]

    def close(self) -> None:
        self.on_close()


class CachingStorage:
    """Builds each blob store and queue once (`_open_blobs`, `_open_queue`) and hands out the same one."""

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self._blobs: dict[str, BlobStore] = {}
        self._queues: dict[str, MessageQueue] = {}

    def _open_blobs(self, bucket: str) -> BlobStore:
        raise NotImplementedError

    def _open_queue(self, name: str) -> MessageQueue:
        raise NotImplementedError

    def blobs(self, bucket: str) -> BlobStore:
        store = self._blobs.get(bucket)
        if store is None:  # two threads may both build one: setdefault keeps the first
            store = self._blobs.setdefault(bucket, self._open_blobs(bucket))
        return store

    def queue(self, name: str) -> MessageQueue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues.setdefault(name, self._open_queue(name))
        return queue

    def _forget_queue(self, name: str) -> None:
        """Forget the adapter of a deleted queue (so `queue(name)` asks the backend again)."""
        self._queues.pop(name, None)

    def _forget_adapters(self) -> None:
        self._blobs.clear()
        self._queues.clear()
