"""The jobs' webhook: signed as Stripe signs its own, retried with backoff.

Header `Evision-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the
secret>`; a receiver recomputes it, compares in constant time and refuses an old `t` (replay).
`Evision-Delivery` is the job id: a receiver that got it twice (delivery is at least once) drops
the second. Attempts back off exponentially; a 2xx ends them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import httpx

log = logging.getLogger("services.jobs")
SIGNATURE_HEADER = "Evision-Signature"
DELIVERY_HEADER = "Evision-Delivery"
TOLERANCE_SECONDS = 300  # a signature older than this is refused (Stripe's default tolerance)


MIN_SECRET_LENGTH = 16


class _SecretSettings(Protocol):
    webhook_secret: str | None
    webhook_secret_parameter: str | None


def webhook_secret(settings: _SecretSettings, read_secret: Callable[[str], str]) -> str | None:
    """The signing key: the setting, else the parameter's value (cloud); None: no webhooks."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret
    if settings.webhook_secret_parameter is None:
        return None
    secret = read_secret(settings.webhook_secret_parameter).strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"the webhook secret must have {MIN_SECRET_LENGTH} characters or more")
    return secret


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """Whether `header` signs `body` under `secret`, recently enough."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def deliver(
    url: str,
    body: bytes,
    *,
    secret: str,
    delivery: str,
    attempts: int = 6,
    first_backoff: float = 1.0,
    timeout: float = 10.0,
    stop: threading.Event | None = None,
) -> bool:
    """POST `body` until a 2xx answer (True) or `attempts` are spent (False); backoff doubles."""
    backoff = first_backoff
    for attempt in range(1, attempts + 1):
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, int(time.time()), body),
            DELIVERY_HEADER: delivery,
        }
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=timeout)
            if response.is_success:
                log.info("webhook %s delivered to %s (attempt %d)", delivery, url, attempt)
                return True
            why = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            why = type(exc).__name__
        log.warning("webhook %s to %s: attempt %d of %d failed (%s)", delivery, url, attempt, attempts, why)
        if attempt < attempts:
            if stop is not None and stop.wait(backoff):
                return False
            if stop is None:
                time.sleep(backoff)
        backoff *= 2
    return False
