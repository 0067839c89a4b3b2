"""A cheap stand-in for `evision worker` in the supervisor's process-management tests.

Modes (argv[1]):
- consume: take messages from the local request queue (EVISION_* settings) and delete each after
  SECONDS_PER_MESSAGE; the first SIGTERM finishes the batch in hand, then exits 0 (as the worker).
- drain SECONDS: run until SIGTERM, then take SECONDS to "finish the batch" and exit 0.
- crash: exit 3 at once.
- take-once: the first one to start takes every message it can and exits 0 without deleting them
  (a drained worker whose last receive was cut short); later ones wait for SIGTERM.
- stubborn: ignore SIGTERM (a batch that never ends).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

SECONDS_PER_MESSAGE = 0.01


def consume() -> int:
    from services.adapters.registry import open_backend
    from services.settings import BackendSettings

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    settings = BackendSettings()
    backend = open_backend(settings)
    queue = backend.storage.queue(settings.request_queue)
    while not stop.is_set():
        messages = queue.receive(10, wait_seconds=0.2)
        for _ in messages:
            time.sleep(SECONDS_PER_MESSAGE)
        queue.delete_batch([m.receipt for m in messages])
    backend.close()
    return 0


def take_once() -> int:
    from services.adapters.registry import open_backend
    from services.settings import BackendSettings

    marker = Path(os.environ["TOY_READY_DIR"]) / "taken"
    if marker.exists():
        return drain(0)
    settings = BackendSettings()
    backend = open_backend(settings)
    taken = backend.storage.queue(settings.request_queue).receive(10, wait_seconds=5)
    marker.write_text(str(len(taken)))
    backend.close()
    return 0


def ready() -> None:
    """Tell the test the signal handler is in place (TOY_READY_DIR/<pid>)."""
    if "TOY_READY_DIR" in os.environ:
        (Path(os.environ["TOY_READY_DIR"]) / str(os.getpid())).touch()


def drain(seconds: float) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ready()
    stop.wait()
    time.sleep(seconds)
    return 0


def main() -> int:
    mode = sys.argv[1]
    if mode == "consume":
        return consume()
    if mode == "drain":
        return drain(float(sys.argv[2]))
    if mode == "crash":
        return 3
    if mode == "take-once":
        return take_once()
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ready()
        time.sleep(120)
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main())
