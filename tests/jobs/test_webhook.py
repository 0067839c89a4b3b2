"""The jobs' webhook: one signed attempt at a time, a receiver verifies it; only public receivers
(loopback and private ones with the explicit setting; link-local never), in every spelling,
checked again at delivery; a redirect is an answer, never followed."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import HttpUrl, TypeAdapter

from services.jobs.monitor import WEBHOOK_ATTEMPTS, webhook_backoff
from services.jobs.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, attempt, signature, verify
from services.jobs.webhook_target import WebhookRefusedError, check
from tests.fixtures import webhook_receiver

SECRET = "whsec-test-0123456789"
URLS: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)  # what JobSpec.webhook parses a URL with


def test_an_attempt_is_signed_and_one_post_only() -> None:
    body = b'{"type": "job.done", "job": "abc"}'
    with webhook_receiver(fail_first=1) as receiver:
        assert attempt(receiver.url, body, secret=SECRET, delivery="abc", allow_private=True) == "HTTP 503"
        assert receiver.attempts == 1  # no retry inside an attempt: the monitor schedules the next
        assert attempt(receiver.url, body, secret=SECRET, delivery="abc", allow_private=True) is None
    assert receiver.attempts == 2 and len(receiver.deliveries) == 1
    headers, received = receiver.deliveries[0]
    assert received == body and headers[DELIVERY_HEADER] == "abc"
    assert verify(SECRET, headers[SIGNATURE_HEADER], received)
    assert not verify("another-secret-0123456789", headers[SIGNATURE_HEADER], received)
    assert not verify(SECRET, headers[SIGNATURE_HEADER], received + b" ")


def test_an_old_or_malformed_signature_is_refused_and_attempts_back_off_then_give_up() -> None:
    body = b"{}"
    old = signature(SECRET, int(time.time()) - 3600, body)
    assert not verify(SECRET, old, body)
    assert not verify(SECRET, "garbage", body)
    waits = [webhook_backoff(n) for n in range(1, WEBHOOK_ATTEMPTS + 1)]
    assert waits[-1] is None and all(w is not None for w in waits[:-1])
    assert waits[:3] == [1.0, 2.0, 4.0]


def test_a_redirect_is_not_followed() -> None:
    followed: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path == "/elsewhere":
                followed.append(self.path)
            self.send_response(307)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        assert attempt(url, b"{}", secret=SECRET, delivery="r", allow_private=True) == "HTTP 307"
    finally:
        server.shutdown()
        server.server_close()
    assert followed == []


METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/latest/meta-data/",  # decimal
    "http://0xa9fea9fe/",  # hex
    "http://0251.0376.0251.0376/",  # octal
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://169.254.43518/",  # short form
    "http://169.254.169.254./",  # trailing dot
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::169.254.169.254]/",  # NAT64
    "http://[2002:a9fe:a9fe::]/",  # 6to4
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",  # the metadata service's IPv6 address (private: refused by default)
]
LOOPBACK = [
    "http://127.0.0.1:8080/hook",
    "http://127.1/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://2130706433/",
    "http://127.0.0.1./",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://localhost/",
    "http://LOCALHOST./",
]
PRIVATE = [
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://0xc0a80101/",
    "http://[fd12::1]/",
]
NEVER = ["http://0/", "http://0.0.0.0/", "http://224.0.0.1/", "http://[ff02::1]/", "http://240.0.0.1/"]


def _checked(url: str, *, allow_private: bool) -> None:
    check(str(URLS.validate_python(url)), allow_private=allow_private)


@pytest.mark.parametrize("url", METADATA + LOOPBACK + PRIVATE + NEVER)
def test_a_webhook_to_a_non_public_address_is_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(WebhookRefusedError):
        _checked(url, allow_private=False)


@pytest.mark.parametrize("url", [u for u in METADATA if "fd00" not in u] + NEVER)
def test_the_private_setting_never_allows_link_local_multicast_or_reserved(url: str) -> None:
    with pytest.raises(WebhookRefusedError):
        _checked(url, allow_private=True)


@pytest.mark.parametrize("url", LOOPBACK + PRIVATE)
def test_the_private_setting_allows_loopback_and_private_receivers(url: str) -> None:
    _checked(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["http://user:pw@93.184.215.14/", "http://93.184.215.14@127.0.0.1/", "ftp://93.184.215.14/"]
)
def test_user_info_and_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(WebhookRefusedError):
        check(url, allow_private=True)


def test_a_public_address_is_allowed_and_is_what_the_request_connects_to() -> None:
    target = check("https://93.184.215.14:8443/hook", allow_private=False)
    assert (str(target.address), target.port, target.scheme) == ("93.184.215.14", 8443, "https")


def test_the_address_is_checked_again_at_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: a name that resolved to a public address at creation and to the metadata
    address at delivery is refused at delivery, and no request is made."""
    answers = {"rebind.test": "169.254.169.254"}
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    why = attempt("http://rebind.test/hook", b"{}", secret=SECRET, delivery="d", allow_private=True)
    assert why is not None and "link-local" in why
