"""The storage role: buckets of whole objects and queues with SQS semantics (and the per-process
reply queues the web tier keeps)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from services.settings import BackendSettings

Metadata = Mapping[str, str] | None  # a blob's user metadata (ASCII values: S3 user metadata)


BINARY = "application/octet-stream"  # the content type of a blob put without one


class BlobNotFoundError(KeyError):
    """The key does not exist in the store."""


class ResourceNotFoundError(LookupError):
    """A bucket or queue that does not exist (never provisioned, or deleted: e.g. the reply queue
    of a web process that has stopped)."""


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
        self, key: str, data: bytes, *, metadata: Metadata = None, content_type: str = BINARY
    ) -> None: ...

    def get(self, key: str) -> Blob:
        """Raises BlobNotFoundError when the key does not exist."""
        ...

    def exists(self, key: str) -> bool: ...

    def keys_between(self, after: str, before: str) -> Iterator[str]:
        """The keys k with `after` < k < `before`, in ascending order (S3's list order)."""
        ...


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

    def release_held_by(self, process_id: int) -> int:
        """Release at once what a (crashed) process on this machine received and did not finish;
        returns how many. 0 where the backend cannot tell (SQS: the lease runs out by itself)."""
        ...

    def depth(self) -> QueueDepth: ...


@runtime_checkable
class ReplyQueues(Protocol):
    """The per-process reply queues (one per web process): created at its start, marked alive
    while it runs, deleted at its graceful stop; what a crashed process left is found by idleness
    (`idle`) and deleted by the processes still running. Marks are wall-clock epoch seconds, so
    processes on different machines compare them."""

    def create(self, name: str) -> MessageQueue:
        """Create the queue (marked alive now) and return it."""
        ...

    def mark_alive(self, name: str) -> None: ...

    def idle(self, prefix: str, since: float) -> list[str]:
        """The queues named `<prefix>-...` whose last mark is older than `since`."""
        ...

    def delete(self, name: str) -> None:
        """Delete the queue and its messages; a queue already gone is not an error."""
        ...


class Storage(Protocol):
    """The storage role of a backend: its buckets and queues, made where it makes them itself."""

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
        """Delete inputs and results past the settings' expiry, where the backend does not do it
        itself (S3 lifecycle rules do); how many objects went."""
        ...
