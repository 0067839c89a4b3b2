"""Fault injection for the crash-point tests: the web process dies right after one write of an upload.

Off unless `EVISION_CRASH_AFTER` names a point (never set in production). The tests set it to
each point in turn and check that a retry with the same `Idempotency-Key` still ends with the
right label and one id: the write order in `submission` is safe at every instant.
"""

from __future__ import annotations

import logging
import os
import signal
from enum import StrEnum

log = logging.getLogger(__name__)


class CrashPoint(StrEnum):
    INPUT = "input"  # the image is in the input bucket
    SEND = "send"  # the request message is in the queue
    REMEMBER = "remember"  # the Idempotency-Key names the request id


def crash_here(point: CrashPoint, armed: CrashPoint | None) -> None:
    """SIGKILL this process if `armed` is `point`: no cleanup, as a power cut or the OOM killer."""
    if armed is point:
        log.warning("crash point %s reached: SIGKILL (EVISION_CRASH_AFTER, a test setting)", point)
        os.kill(os.getpid(), signal.SIGKILL)
