"""The jobs' webhook: a receiver verifies the signature; retries back off until one succeeds."""

from __future__ import annotations

import time

from services.jobs.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, deliver, signature, verify
from tests.jobs.receiver import webhook_receiver

SECRET = "whsec-test-0123456789"


def test_a_receiver_that_fails_twice_gets_the_third_attempt_signed() -> None:
    body = b'{"type": "job.done", "job": "abc"}'
    with webhook_receiver(fail_first=2) as receiver:
        started = time.monotonic()
        assert deliver(receiver.url, body, secret=SECRET, delivery="abc", first_backoff=0.1)
        waited = time.monotonic() - started
    assert receiver.attempts == 3 and len(receiver.deliveries) == 1
    assert waited >= 0.1 + 0.2  # backed off 0.1 s, then 0.2 s
    headers, received = receiver.deliveries[0]
    assert received == body and headers[DELIVERY_HEADER] == "abc"
    assert verify(SECRET, headers[SIGNATURE_HEADER], received)
    assert not verify("another-secret-0123456789", headers[SIGNATURE_HEADER], received)
    assert not verify(SECRET, headers[SIGNATURE_HEADER], received + b" ")


def test_an_old_or_malformed_signature_is_refused_and_spent_attempts_give_up() -> None:
    body = b"{}"
    old = signature(SECRET, int(time.time()) - 3600, body)
    assert not verify(SECRET, old, body)
    assert not verify(SECRET, "garbage", body)
    with webhook_receiver(fail_first=10) as receiver:
        assert not deliver(receiver.url, body, secret=SECRET, delivery="x", attempts=3, first_backoff=0.01)
    assert receiver.attempts == 3
