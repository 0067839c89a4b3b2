"""Worker control-flow exceptions."""

from __future__ import annotations


class StopRequestedError(Exception):
    """Raised by the signal handler while the worker is idle in a long poll, to stop at once."""
