"""The `local` backend: blobs as files and queues in one SQLite database under the data dir.

Embedded and durable across crashes, no server, no credentials: what `evision up` runs on. Calls
are brief (a file write, a short SQLite transaction), so callers may make them on the event loop.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from services.adapters.base import CachingBackend
from services.adapters.local.activation import LocalActivation
from services.adapters.local.blob import LocalBlobStore
from services.adapters.local.in_service import LocalInService
from services.adapters.local.queue import LocalQueue, QueueConfig, QueueDatabase
from services.adapters.local.reply_queues import LocalReplyQueues
from services.ports.capacity import (
    ActivationRequests,
    CapacityActivator,
    NoProtection,
    Placement,
    ScaleInProtection,
    WorkerGroupGauge,
)
from services.ports.job_locations import JobOutput, JobSource
from services.ports.models import ModelRegistry
from services.ports.storage import BlobStore, MessageQueue, ReplyQueues
from services.ports.telemetry import DepthReporter, MetricsSink, Silent
from services.settings import BackendSettings


class LocalBackend(CachingBackend):
    name = "local"
    calls_are_brief = True
    provisions_itself = True
    capacity_manager = None  # only the local supervisor scales local workers

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._db: QueueDatabase | None = None
        self._in_service = LocalInService(settings.data_dir / "in-service")
        self._activation = LocalActivation(settings.data_dir / "activation-requested")

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

    def scale_in_protection(self, placement: Placement) -> ScaleInProtection:
        return NoProtection()  # the supervisor drains local workers with SIGTERM instead

    def await_serving(self, placement: Placement, stop: threading.Event) -> bool:
        if stop.is_set():
            return False
        self._in_service.mark(os.getpid())  # a local process serves as soon as it is started
        return True

    def metrics_sink(self) -> MetricsSink:
        return Silent()  # `evision status` and the terminal show what local workers do

    def depth_reporter(self) -> DepthReporter:
        return Silent()  # the supervisor reads the queue's depth itself

    def capacity_activator(self, group: str | None, scale_to: int) -> CapacityActivator:
        return self._activation  # the supervisor starts a worker within one period

    def activation_requests(self) -> ActivationRequests | None:
        return self._activation

    def worker_group_gauge(self, group: str | None) -> WorkerGroupGauge:
        return self._in_service  # one group per data dir: the name is not needed

    def model_registry(self) -> ModelRegistry:
        from services.adapters.local.model_registry import LocalModelRegistry

        return LocalModelRegistry(self._settings.data_dir)

    def job_source(self, location: str) -> JobSource:
        from services.adapters.local.folder_source import FolderSource

        if "://" in location:
            raise ValueError(f"the local backend reads folders, not {location.split('://')[0]}:// locations")
        return FolderSource(Path(location))

    def job_output(self, location: str) -> JobOutput:
        from services.adapters.local.folder_source import FolderOutput

        if "://" in location:
            raise ValueError(f"the local backend writes folders, not {location.split('://')[0]}:// locations")
        return FolderOutput(Path(location))

    def preflight_probe(self) -> None:
        return None  # nothing is deployed: `evision up` is the whole service

    def read_secret(self, name: str) -> str:
        raise LookupError(f"the local backend keeps no secrets (asked for {name!r}): use a file setting")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._forget_adapters()
