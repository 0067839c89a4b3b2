"""An in-process AWS emulator (moto server) on 127.0.0.1, for `evision up --backend aws --emulate` and tests.

The dummy credentials below are set only for talking to the emulator, never for real AWS.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

EMULATOR_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class Emulator:
    """A moto server in a background thread of this process (starts in milliseconds)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: Any = None
        self.endpoint_url = ""

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per call otherwise
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self.endpoint_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def environment(self, region: str = "us-east-1") -> dict[str, str]:
        """Variables that point boto3 (in this or a child process) at the emulator."""
        return emulator_environment(self.endpoint_url, region)


def emulator_environment(endpoint_url: str, region: str = "us-east-1") -> dict[str, str]:
    """Variables that point boto3 at an emulator on `endpoint_url` (this process's or a moto_server)."""
    return {"AWS_ENDPOINT_URL": endpoint_url, "AWS_DEFAULT_REGION": region, **EMULATOR_CREDENTIALS}


@contextmanager
def running_emulator(*, set_environ: bool = True) -> Iterator[Emulator]:
    """Start an emulator; optionally point this process's environment at it until exit."""
    emulator = Emulator()
    emulator.start()
    saved = {key: os.environ.get(key) for key in emulator.environment()}
    if set_environ:
        os.environ.update(emulator.environment())
    try:
        yield emulator
    finally:
        if set_environ:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        emulator.stop()
