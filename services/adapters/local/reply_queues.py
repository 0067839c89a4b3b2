"""Per-process reply queues in the local queue database: liveness is the `alive_at` column."""

from __future__ import annotations

import time
from collections.abc import Callable

from services.adapters.local.queue import QueueConfig, QueueDatabase
from services.ports.storage import MessageQueue


class LocalReplyQueues:
    def __init__(
        self,
        db: QueueDatabase,
        config: QueueConfig,
        open_queue: Callable[[str], MessageQueue],
        forget_queue: Callable[[str], None],
    ) -> None:
        self._db = db
        self._config = config
        self._open_queue = open_queue
        self._forget_queue = forget_queue

    def create(self, name: str) -> MessageQueue:
        self._db.create_queue(name, self._config, alive_at=time.time())
        return self._open_queue(name)

    def mark_alive(self, name: str) -> None:
        self._db.mark_alive(name, time.time())

    def idle(self, prefix: str, since: float) -> list[str]:
        return self._db.idle_queues(prefix, since)

    def delete(self, name: str) -> None:
        self._db.delete_queue(name)
        self._forget_queue(name)
