"""A webhook receiver on 127.0.0.1 for the tests: records every delivery, fails the first N."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    attempts: int = 0
    received: threading.Event = field(default_factory=threading.Event)


@contextmanager
def webhook_receiver(fail_first: int = 0) -> Iterator[Receiver]:
    state = Receiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.attempts += 1
            if state.attempts <= state.fail_first:
                self.send_response(503)
                self.end_headers()
                return
            state.deliveries.append((dict(self.headers.items()), body))
            state.received.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
