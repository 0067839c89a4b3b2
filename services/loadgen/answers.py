"""Reading the service's answers: `name:label` text from /upload, JSON from /v1/classify."""

from __future__ import annotations

import json
from enum import StrEnum


class OutcomeKind(StrEnum):
    """What became of one request. Everything but OK counts as an error of that kind."""

    OK = "ok"
    WRONG_LABEL = "wrong_label"  # a well-formed answer whose label differs from the expected one
    MALFORMED = "malformed"  # a 2xx answer that does not follow the contract
    PENDING = "pending"  # 202: the service gave up waiting for the result (it may come later)
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    HTTP_OTHER = "http_other"  # 1xx/3xx: the client does not follow redirects
    TIMEOUT = "timeout"  # the per-request timeout expired
    DEADLINE = "deadline"  # still in flight when the run's total time cap expired
    CONNECT = "connect"  # could not connect (refused, DNS, TLS)
    TRANSPORT = "transport"  # the connection broke mid-request


class MalformedAnswerError(ValueError):
    """The answer does not follow the contract."""


def parse_label(content_type: str, body: bytes, stem: str) -> str:
    """The label of a 2xx answer for the image whose name without extension is `stem`."""
    if content_type.startswith("application/json"):
        return _label_from_json(body)
    text = body.decode("utf-8", errors="replace").strip()
    # The label may itself contain ':' (and so may the name): match the known name, not a split.
    prefix = f"{stem}:"
    if not text.startswith(prefix):
        raise MalformedAnswerError(f"expected '{stem}:<label>', got {text[:80]!r}")
    label = text[len(prefix) :].strip()
    if not label:
        raise MalformedAnswerError(f"empty label in {text[:80]!r}")
    return label


def _label_from_json(content: bytes) -> str:
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise MalformedAnswerError(f"invalid JSON: {exc}") from None
    label = body.get("label") if isinstance(body, dict) else None
    if not isinstance(label, str) or not label:
        raise MalformedAnswerError("JSON answer without a 'label' string")
    return label


def error_detail(status: int, body: bytes) -> str:
    """`<status> <error kind>` from a contract error body ({"error": kind, ...}), else the status."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return str(status)
    kind = parsed.get("error") if isinstance(parsed, dict) else None
    return f"{status} {kind}" if isinstance(kind, str) else str(status)


ANSWER_KINDS = frozenset({OutcomeKind.OK, OutcomeKind.WRONG_LABEL, OutcomeKind.MALFORMED})


def status_kind(status: int) -> OutcomeKind:
    if status == 202:
        return OutcomeKind.PENDING
    if 400 <= status < 500:
        return OutcomeKind.HTTP_4XX
    if 500 <= status < 600:
        return OutcomeKind.HTTP_5XX
    return OutcomeKind.HTTP_OTHER
