"""An AWS emulator (moto server) on 127.0.0.1, for `evision up --backend aws --emulate`, the bench and tests.

In this process (a thread; starts in milliseconds) or as a `moto.server` process of its own
(the bench: its CPU is then not the service's). The dummy credentials below are set only for
talking to the emulator, never for real AWS.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from services.adapters.aws.request_tally import RequestTally
from services.ports.backend import RunningEmulator

EMULATOR_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class Emulator:
    """A moto server in a background thread of this process (starts in milliseconds).

    With `tally=True`, every request is counted by service and action (`self.tally`): what the
    bill's per-upload request counts are measured with. With `calls=True` too, each request's
    caller and resource as well (`self.tally.calls()`): what the IAM check of the services'
    calls reads (tests/infra/test_iam_services.py).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, tally: bool = False, calls: bool = False
    ) -> None:
        self._host = host
        self._port = port
        self._server: Any = None
        self._tally = tally or calls
        self._calls = calls
        self.tally: RequestTally | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per call otherwise
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto keeps its accounts in module globals: an emulator started after another in this
        # process would see the earlier one's buckets, queues and parameters. A new one starts empty.
        reset = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=30):
            pass
        if self._tally:  # wrap the WSGI application the server thread dispatches to
            wsgi_server = self._server._server
            self.tally = RequestTally(wsgi_server.app, calls=self._calls)
            wsgi_server.app = self.tally
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


@contextmanager
def emulator_process(*, start_seconds: float = 60.0) -> Iterator[RunningEmulator]:
    """`python -m moto.server` on a free loopback port, as its own process, until exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + start_seconds
        while not _answers(endpoint):
            if process.poll() is not None:
                raise RuntimeError(f"the moto server exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the moto server on {endpoint} did not answer within {start_seconds} s")
            time.sleep(0.1)
        yield RunningEmulator(environment=emulator_environment(endpoint), pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def emulator_thread() -> Iterator[RunningEmulator]:
    """An emulator in this process; its variables are set in this process's environment until exit."""
    with running_emulator() as emulator:
        yield RunningEmulator(environment=emulator.environment())


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if only with an error
    except OSError:
        return False
