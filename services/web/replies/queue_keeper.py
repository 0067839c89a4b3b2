"""This web process's own reply queue, from creation to deletion, and the sweeping of orphans.

Each web process creates `<prefix>-<12 hex>` at start (so any number of processes, on one machine
or many, never share one), renews its liveness mark every `heartbeat` seconds and deletes it at a
graceful stop. A process that crashes leaves its queue behind: every running process looks, once
per heartbeat, for queues of the prefix not marked for `orphan` seconds and deletes them. The
mark is the backend's (a tag on SQS, a column locally); `orphan` is at least two heartbeats, so a
live process whose mark is merely late is not swept.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid

from services.ports.storage import MessageQueue, ReplyQueues

log = logging.getLogger(__name__)


def new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class ReplyQueueKeeper:
    def __init__(
        self, queues: ReplyQueues, prefix: str, *, heartbeat_seconds: float, orphan_seconds: float
    ) -> None:
        self._queues = queues
        self._prefix = prefix
        self._ours = re.compile(re.escape(prefix) + r"-[0-9a-f]{12}")  # never another prefix's queue
        self._heartbeat = heartbeat_seconds
        self._orphan = orphan_seconds
        self.name = new_name(prefix)
        self.swept = 0
        self._sweeping = threading.Lock()  # the heartbeat's sweep and a direct call: one at a time
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> MessageQueue:
        """Create this process's queue and start keeping it alive (a blocking call)."""
        queue = self._queues.create(self.name)
        log.info("reply queue %s created", self.name)
        self._thread = threading.Thread(target=self._keep, name="reply-queue-keeper", daemon=True)
        self._thread.start()
        return queue

    def close(self) -> None:
        """Stop, and delete this process's queue (replies still on their way are not needed:
        every result is in the output bucket)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self._queues.delete(self.name)
            log.info("reply queue %s deleted", self.name)
        except Exception:
            log.warning("could not delete reply queue %s; another web process will sweep it", self.name)

    def __enter__(self) -> MessageQueue:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _keep(self) -> None:
        while not self._stopping.wait(self._heartbeat):
            try:
                self._queues.mark_alive(self.name)
                self.sweep()
            except Exception:
                log.exception("reply queue keeper: heartbeat or sweep failed; retrying next period")

    def sweep(self) -> int:
        """Delete the orphaned queues of this prefix; how many went."""
        with self._sweeping:
            gone = 0
            for name in self._queues.idle(self._prefix, since=time.time() - self._orphan):
                if name != self.name and self._ours.fullmatch(name):
                    self._queues.delete(name)
                    log.info(
                        "reply queue %s deleted: not marked alive for %g s (its process died)",
                        name,
                        self._orphan,
                    )
                    gone += 1
            self.swept += gone
            return gone
