"""The jobs' webhook: signed as Stripe signs its own, one attempt at a time (the monitor keeps the
next attempt's time in the job record and backs off), only to public addresses
(`webhook_target`).

Header `Evision-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the
secret>`; a receiver recomputes it, compares in constant time and refuses an old `t` (replay).
`Evision-Delivery` is the job id: a receiver that got it twice (delivery is at least once) drops
the second. A 2xx ends the attempts; a redirect is not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from services.jobs.webhook_target import WebhookRefusedError, check

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


def attempt(
    url: str, body: bytes, *, secret: str, delivery: str, allow_private: bool, timeout: float = 10.0
) -> str | None:
    """ONE signed POST of `body` to `url`: None if a 2xx answered, else why not (the caller
    schedules the next attempt). The host is checked again here (DNS rebinding) and the request
    connects to the very address that was checked; a redirect is an answer, never followed."""
    try:
        target = check(url, allow_private=allow_private)
    except WebhookRefusedError as exc:
        return str(exc)
    headers = {
        "Content-Type": "application/json",
        "Host": target.host if target.port in (80, 443) else f"{_bracketed(target.host)}:{target.port}",
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
        DELIVERY_HEADER: delivery,
    }
    pinned = httpx.URL(url).copy_with(host=str(target.address))
    # No proxy from the environment (it would connect elsewhere); TLS checks the URL's host name.
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
            request = client.build_request(
                "POST", pinned, content=body, headers=headers, extensions=extensions
            )
            response = client.send(request)
    except httpx.HTTPError as exc:
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning("webhook %s to %s failed (%s)", delivery, url, why)
        return why
    if response.is_success:
        log.info("webhook %s delivered to %s", delivery, url)
        return None
    log.warning("webhook %s to %s: HTTP %d", delivery, url, response.status_code)
    return f"HTTP {response.status_code}"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
