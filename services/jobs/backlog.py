"""The work waiting for the pool: interactive requests plus job chunks, counted in images.

What the scaling reads (the local supervisor, the web tier's depth metric and activation): a
chunk message stands for `chunk_size` images, so a big job grows the pool to its maximum as the
same backlog of uploads would. Everything but the depth (and the release of a dead worker's
messages, from both queues) is the request queue's.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.ports.storage import Message, MessageQueue, QueueDepth


class WorkBacklog:
    def __init__(self, requests: MessageQueue, jobs: MessageQueue, chunk_size: int) -> None:
        self._requests = requests
        self._jobs = jobs
        self._chunk_size = chunk_size

    @property
    def name(self) -> str:
        return self._requests.name

    def depth(self) -> QueueDepth:
        requests, jobs = self._requests.depth(), self._jobs.depth()
        return QueueDepth(
            visible=requests.visible + jobs.visible * self._chunk_size,
            in_flight=requests.in_flight + jobs.in_flight * self._chunk_size,
        )

    def release_held_by(self, process_id: int) -> int:
        return self._requests.release_held_by(process_id) + self._jobs.release_held_by(process_id)

    def send(self, body: str) -> str:
        return self._requests.send(body)

    def send_batch(self, bodies: Sequence[str]) -> None:
        self._requests.send_batch(bodies)

    def receive(
        self, max_messages: int = 10, wait_seconds: float = 20.0, visibility_timeout: float | None = None
    ) -> list[Message]:
        return self._requests.receive(max_messages, wait_seconds, visibility_timeout)

    def delete_batch(self, receipts: Sequence[str]) -> None:
        self._requests.delete_batch(receipts)

    def extend_visibility(self, receipts: Sequence[str], seconds: float) -> None:
        self._requests.extend_visibility(receipts, seconds)
