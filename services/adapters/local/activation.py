"""Activation of local workers from zero: a web process marks an upload, the supervisor takes it.

Locally the supervisor samples the queue every period; a standby worker may take and answer an
upload within that period, so the sample would never show it and no worker would start. The
mark makes the upload count as demand for that period, as the web tier's activation does for the
cloud's worker group.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


class LocalActivation:
    def __init__(self, marker: Path) -> None:
        self._marker = marker

    def activate(self) -> bool:
        self._marker.parent.mkdir(parents=True, exist_ok=True)
        self._marker.touch()
        return True

    def take(self) -> bool:
        """Whether an upload asked for workers since the last call."""
        with contextlib.suppress(FileNotFoundError):
            self._marker.unlink()
            return True
        return False
