"""What the backends share: their settings, and one adapter per bucket / queue name, built on first use."""

from __future__ import annotations

from services.ports.storage import BlobStore, MessageQueue
from services.settings import BackendSettings


class CachingBackend:
    """Builds each blob store and queue once (`_open_blobs`, `_open_queue`) and hands out the same one."""

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self._blobs: dict[str, BlobStore] = {}
        self._queues: dict[str, MessageQueue] = {}

    @property
    def settings(self) -> BackendSettings:
        return self._settings

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
