"""`evision up` as a subprocess for the end-to-end tests: its command, a clean environment, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.settings import EvisionSettings
from tests.e2e.conftest import free_port, wait_until_healthy


def up_command(port: int, data_dir: Path, *options: str) -> list[str]:
    """`evision up` as a user types it, on `port` with its data in `data_dir`."""
    return [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *options,
    ]


def clean_environment(*settings: EvisionSettings, **other: str) -> dict[str, str]:
    """This process's environment without EVISION_* and AWS_* variables, plus the explicit fields
    of each of `settings` (rendered by the settings classes, never typed by hand) and `other`
    variables that are not ours (e.g. PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVISION_", "AWS_"))}
    for each in settings:
        env.update(each.environment(explicit_only=True))
    return {**env, **other}


def interrupt(up: subprocess.Popen[str]) -> str:
    """Ctrl-C, as a user stops it; its whole output (killed if it does not stop within a minute)."""
    try:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
    return output


@dataclass
class RunningUp:
    url: str
    process: subprocess.Popen[str]
    output: str = ""  # its whole output, once stopped


@contextmanager
def running_up(
    data_dir: Path, *options: str, settings: EvisionSettings | None = None, timeout: float = 60
) -> Iterator[RunningUp]:
    """`evision up` on a free port with `options` and `settings` (explicit ones only), healthy;
    interrupted (Ctrl-C) at exit, its output then in `.output`."""
    port = free_port()
    process = subprocess.Popen(
        up_command(port, data_dir, *options),
        env=clean_environment(*([] if settings is None else [settings])),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningUp(url=f"http://127.0.0.1:{port}", process=process)
    try:
        wait_until_healthy(running.url, process, timeout=timeout)
        yield running
    finally:
        running.output = interrupt(process)
