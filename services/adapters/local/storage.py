"""The local backend's storage role: blobs as files and queues in one SQLite database under the data dir.

Calls are brief (a file write, a short SQLite transaction), so callers may make them on the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from services.adapters.base import CachingStorage
from services.adapters.local.blob import LocalBlobStore
from services.adapters.local.queue import LocalQueue, QueueConfig, QueueDatabase
from services.adapters.local.reply_queues import LocalReplyQueues
from services.ports.storage import BlobStore, MessageQueue, ReplyQueues
from services.settings import BackendSettings


class LocalStorage(CachingStorage):
    calls_are_brief = True
    provisions_itself = True

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._db: QueueDatabase | None = None

    def _queue_db(self) -> QueueDatabase:
        with self._lock:
            if self._db is None:
                self._db = QueueDatabase(self._settings.data_dir)
            return self._db

    def _open_blobs(self, bucket: str) -> BlobStore:
        return LocalBlobStore(self._settings.data_dir, bucket)

    def _open_queue(self, name: str) -> MessageQueue:
        return LocalQueue(self._queue_db(), name)

    def provision(self, settings: BackendSettings, reply_queues: Sequence[str] = ()) -> None:
        db = self._queue_db()
        timeout = settings.visibility_timeout
        for bucket in (settings.input_bucket, settings.output_bucket):
            LocalBlobStore.create(settings.data_dir, bucket)
        db.create_queue(settings.dead_letter_queue, QueueConfig(timeout, settings.max_receives, None))
        db.create_queue(
            settings.request_queue, QueueConfig(timeout, settings.max_receives, settings.dead_letter_queue)
        )
        db.create_queue(settings.job_dead_letter_queue, QueueConfig(timeout, settings.max_receives, None))
        db.create_queue(
            settings.job_queue, QueueConfig(timeout, settings.max_receives, settings.job_dead_letter_queue)
        )
        for name in reply_queues:
            db.create_queue(name, QueueConfig(timeout, settings.max_receives, None))

    def reply_queues(self) -> ReplyQueues:
        config = QueueConfig(self._settings.visibility_timeout, self._settings.max_receives, None)
        return LocalReplyQueues(self._queue_db(), config, self.queue, self._forget_queue)

    def unavailable_reason(self) -> str | None:
        data_dir = self._settings.data_dir
        return None if data_dir.is_dir() else f"no local service data in {data_dir}"

    def delete_expired(self, now: float) -> int:
        settings = self._settings
        removed = 0
        for bucket, days in (
            (settings.input_bucket, settings.input_expiry_days),
            (settings.output_bucket, settings.result_expiry_days),
        ):
            store = self.blobs(bucket)
            assert isinstance(store, LocalBlobStore)
            removed += store.delete_older_than(now - days * 86_400)
        return removed

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._forget_adapters()
