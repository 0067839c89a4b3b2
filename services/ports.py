"""The two ports the services talk through: a blob store and a message queue.

Web and worker code depends only on these protocols; `services.adapters` provides the
`local` (files + SQLite) and `aws` (S3 + SQS) implementations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class BlobNotFoundError(KeyError):
    """The key does not exist in the store."""


@dataclass(frozen=True, slots=True)
class Blob:
    data: bytes
    metadata: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class BlobStore(Protocol):
    """A bucket: whole objects by key. Writes are atomic (a reader never sees half an object)."""

    @property
    def name(self) -> str: ...

    def put(
        self,
        key: str,
        data: bytes,
        *,
        metadata: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> None: ...

    def get(self, key: str) -> Blob:
        """Raises BlobNotFoundError when the key does not exist."""
        ...

    def exists(self, key: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    receipt: str  # handle for delete / extend_visibility; changes on every receive
    body: str
    receive_count: int  # 1 on first delivery


@dataclass(frozen=True, slots=True)
class QueueDepth:
    visible: int  # waiting to be received
    in_flight: int  # received, not yet deleted, visibility timeout not expired

    @property
    def outstanding(self) -> int:
        return self.visible + self.in_flight


@runtime_checkable
class MessageQueue(Protocol):
    """A queue with SQS semantics: at-least-once, visibility timeout, receive count, dead-letter."""

    @property
    def name(self) -> str: ...

    def send(self, body: str) -> str:
        """Send one message; returns its message id."""
        ...

    def send_batch(self, bodies: Sequence[str]) -> None:
        """Send many messages (any count; adapters chunk to the backend's batch limit)."""
        ...

    def receive(
        self, max_messages: int = 10, wait_seconds: float = 20.0, visibility_timeout: float | None = None
    ) -> list[Message]:
        """Long-poll: return as soon as at least one message is available, or [] after wait_seconds."""
        ...

    def delete_batch(self, receipts: Sequence[str]) -> None: ...

    def extend_visibility(self, receipts: Sequence[str], seconds: float) -> None:
        """Make received messages invisible for `seconds` from now (0 releases them at once)."""
        ...

    def depth(self) -> QueueDepth: ...
