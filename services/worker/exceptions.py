"""Worker control-flow exceptions."""

from __future__ import annotations


class StopRequestedError(BaseException):
    """Raised by the signal handler while the worker is idle in a long poll, to stop at once.

    A BaseException (like KeyboardInterrupt), so that no library retry loop swallows it.
    """
