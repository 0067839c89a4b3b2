"""Errors the adapters raise besides `ports.BlobNotFoundError`."""

from __future__ import annotations


class InvalidKeyError(ValueError):
    """A blob key or resource name outside [A-Za-z0-9._-] (or starting with a dot)."""


class ResourceNotFoundError(LookupError):
    """A bucket or queue that was never created (call `Backend.ensure` in local/emulated mode)."""


class QueueOperationError(RuntimeError):
    """The backend rejected part of a batch; nothing is silently dropped."""
