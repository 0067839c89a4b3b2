"""Errors the adapters raise besides the ports' own (`BlobNotFoundError`, `ResourceNotFoundError`)."""

from __future__ import annotations

from services.ports.storage import ResourceNotFoundError

__all__ = ["InvalidKeyError", "QueueOperationError", "ResourceNotFoundError"]


class InvalidKeyError(ValueError):
    """A blob key or resource name outside [A-Za-z0-9._-] (or starting with a dot)."""


class QueueOperationError(RuntimeError):
    """The backend rejected part of a batch; nothing is silently dropped."""
