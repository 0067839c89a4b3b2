"""The service's own processes, started exactly as a user starts them (`evision up`, `evision worker`).

Each child writes its log to a file; when it fails to come up, the error carries the log's tail.
Children run in their own session and are stopped with SIGTERM (they drain), then killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from services.settings import EvisionSettings

STOP_SECONDS = 60.0


class BenchError(RuntimeError):
    """A measurement could not be made (a process did not start, answers went missing...)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def evision(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli", *args]


def listening(*args: str) -> tuple[list[str], str]:
    """`evision <args>` on a free port of 127.0.0.1 (`up`, `web`), and the base URL it will serve."""
    port = free_port()
    return evision(*args, "--port", str(port)), f"http://127.0.0.1:{port}"


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Processes:
    """Child processes with one log file each; a context manager that always stops them."""

    def __init__(
        self, commands: Sequence[Sequence[str]], *, env: Mapping[str, str], log_dir: Path, name: str
    ) -> None:
        self._commands = [list(c) for c in commands]
        self._name = name
        self._env = dict(env)
        self._log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def __enter__(self) -> Processes:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        for i, command in enumerate(self._commands):
            log = self._log_dir / f"{self._name}-{i}.log"
            self.logs.append(log)
            with log.open("wb") as out:
                self.processes.append(
                    subprocess.Popen(
                        command, env=self._env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def check_alive(self) -> None:
        for process, log in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                command = " ".join(str(a) for a in self._commands[self.processes.index(process)])
                raise BenchError(f"{command} exited with {process.returncode}:\n{log_tail(log)}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(base_url: str, processes: Processes, *, timeout: float = 60.0) -> None:
    """Poll GET /healthz until it answers 200; raise BenchError (with logs) if it never does."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            processes.check_alive()
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{base_url}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
    tails = "\n".join(log_tail(log) for log in processes.logs)
    raise BenchError(f"{base_url} was not healthy within {timeout:.0f} s:\n{tails}")


def child_environment(settings: EvisionSettings) -> dict[str, str]:
    """This process's environment plus the variables that rebuild `settings` in the children."""
    return {**os.environ, **settings.environment()}
