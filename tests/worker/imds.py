"""An emulated EC2 instance metadata service (IMDSv2) on 127.0.0.1, for workers under test.

No test may reach the real 169.254.169.254: workers are given this one's URL (EVISION_IMDS_URL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Imds(BaseHTTPRequestHandler):
    state = "Warmed:Pending"
    asked: list[str] = []

    def do_PUT(self) -> None:  # the IMDSv2 session token
        self._answer("token-1")

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != "token-1":
            self.send_error(401)
            return
        self.asked.append(self.path)
        items = {
            "/latest/meta-data/instance-id": "i-0warm",
            "/latest/meta-data/autoscaling/target-lifecycle-state": type(self).state,
        }
        if self.path not in items:
            self.send_error(404)
            return
        self._answer(items[self.path])

    def _answer(self, text: str) -> None:
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def running_imds(state: str) -> Iterator[str]:
    """The emulator, answering `state` as the target lifecycle state (change `Imds.state`)."""
    Imds.state = state
    Imds.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Imds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
