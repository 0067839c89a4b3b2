"""Staging: a prefix of a bucket where a client puts its own images for a batch job, through
signed PUTs (the store's own presigned URLs, or ones the web tier receives itself)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class SignatureRefusedError(PermissionError):
    """A signed upload the store will not take: expired, forged, or of another size (the reason)."""


@dataclass(frozen=True, slots=True)
class SignedPut:
    """Where a client PUTs one object itself: `url` is absolute (the store's own endpoint, e.g.
    an S3 presigned URL) or a path on the web tier that signed it; `headers` must be sent as they
    are (they are part of the signature: Content-Length, which bounds the object's size)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class JobStaging(Protocol):
    """A role some blob stores play: a prefix of the bucket where a client stages its own images
    for a batch job (`evision batch ./photos --url ...`). Keys are `prefix + name`, names relative
    POSIX paths (checked by the caller). Writes are atomic, so a key that is there is whole."""

    def staging_location(self, prefix: str) -> str:
        """The staged prefix as a job source location (what `JobLocations.source` reads)."""
        ...

    def staged_sizes(self, prefix: str, names: Sequence[str]) -> dict[str, int]:
        """The sizes of those of `names` already stored under `prefix` (one listing)."""
        ...


@runtime_checkable
class PresignsPuts(Protocol):
    """A staging store with its own endpoint (S3): clients PUT to it directly, with its signature."""

    def sign_put(self, key: str, size: int, expires_at: int) -> SignedPut:
        """A PUT of exactly `size` bytes to `key`, valid until `expires_at` (unix seconds)."""
        ...


@runtime_checkable
class ReceivesSignedPuts(Protocol):
    """A staging store whose signed PUTs the web tier receives itself (no endpoint of its own,
    e.g. local files): it signs, and checks the signature, the expiry and the size, then writes."""

    def signature(self, key: str, size: int, expires_at: int) -> str:
        """The signature of a PUT of exactly `size` bytes to `key` until `expires_at`."""
        ...

    def receive_put(self, key: str, size: int, expires_at: int, signature: str, data: bytes) -> None:
        """Raises SignatureRefusedError (why) for an expired or forged signature or another size."""
        ...
