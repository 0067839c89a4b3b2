"""The message and result contract shared by the web tier and the workers.

- RequestMessage: web -> request queue -> worker. Images travel through the input bucket
  (key = request id), never inside messages.
- Result: worker -> output bucket (key = request id). The source of truth for a request.
- ReplyMessage: worker -> the reply queue named in the request. A notification that carries
  the result too, so the waiting web request needs no extra read; a web process that lost it
  still serves GET /v1/results/{id} from the output bucket.
"""

from __future__ import annotations

import secrets
import time
from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

CONTRACT_VERSION = 1

# What a request may pin: `auto` takes the worker's engine (the fastest that agrees with fp32,
# model/engine_choice.py); `fp32` the reference, ONNX Runtime on the fp32 weights; `int8` the
# model's int8 variant, where it has one.
Precision = Literal["auto", "fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)


def as_precision(value: str | None) -> Precision:
    """`value` if it names a precision, else auto (e.g. an input stored without one)."""
    return next((precision for precision in PRECISIONS if precision == value), "auto")


class ErrorKind(StrEnum):
    """Every error kind on the wire: in a result (why a request has no label) and in every HTTP
    error body `{"error": kind, "reason": ...}`. Client-side kinds are answered 4xx, the rest 5xx."""

    # The image (found by the web tier's checks or by the worker's decoder).
    EMPTY = "empty"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    TOO_MANY_PIXELS = "too_many_pixels"
    BAD_ASPECT_RATIO = "bad_aspect_ratio"
    TOO_LARGE = "too_large"
    # The HTTP request itself.
    NOT_MULTIPART = "not_multipart"
    BAD_FORM = "bad_form"
    MISSING_FIELD = "missing_field"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_REQUEST = "invalid_request"  # a parameter that fails validation (e.g. a malformed id)
    BAD_REQUEST = "bad_request"  # any other refusal by the HTTP framework
    REQUEST_TIMEOUT = "request_timeout"  # the request head or body stopped arriving
    HEADERS_TOO_LARGE = "headers_too_large"
    UNAUTHORIZED = "unauthorized"  # a missing or wrong API key
    RATE_LIMITED = "rate_limited"
    # Ours, not the client's.
    MISSING_INPUT = "missing_input"  # the input object vanished from the input bucket
    FAILED = "failed"  # every attempt failed: the request was dead-lettered
    BUSY = "busy"  # the web process has no room for another connection
    INTERNAL = "internal"

    @property
    def is_client_error(self) -> bool:
        return self not in (ErrorKind.INTERNAL, ErrorKind.MISSING_INPUT, ErrorKind.FAILED, ErrorKind.BUSY)


ID_TIME_DIGITS = 12  # milliseconds since the epoch, in hex: ids sort by creation until the year 10889
_ID_RANDOM_BYTES = 10  # 80 random bits: an id cannot be guessed from another


def new_request_id(now: float | None = None) -> str:
    """Request ids are also object keys: hex only, never derived from user input.

    The first 12 digits are the creation time, so the ids (and the input objects they key) sort
    by time and a sweep can list just the inputs made since it last looked (`id_floor`); the
    other 20 are random.
    """
    return id_floor(time.time() if now is None else now) + secrets.token_hex(_ID_RANDOM_BYTES)


def id_floor(epoch_seconds: float) -> str:
    """A key that sorts below every id made at or after `epoch_seconds`, above every older one."""
    return f"{max(0, int(epoch_seconds * 1000)):0{ID_TIME_DIGITS}x}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class RequestMessage(_Frozen):
    v: int = CONTRACT_VERSION
    id: str
    image: str = Field(description="original file name, for display only; never a key or path")
    reply_to: str = Field(description="name of the queue the worker replies to")
    model: str | None = Field(
        default=None, description="name@version of a registered model; None: the worker's default"
    )
    precision: Precision = Field(default="auto", description="auto: the worker's engine; else pinned")
    submitted_at: float = Field(default_factory=time.time, description="epoch seconds")


class LabelScore(_Frozen):
    label: str
    score: float


class ResultError(_Frozen):
    kind: ErrorKind
    reason: str


class Result(_Frozen):
    v: int = CONTRACT_VERSION
    id: str
    image: str
    label: str | None = None
    score: float | None = None
    top5: list[LabelScore] = Field(default_factory=list)
    model: str = ""
    worker: str = ""
    timings: dict[str, float] = Field(default_factory=dict, description="milliseconds per stage")
    error: ResultError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ReplyMessage(_Frozen):
    v: int = CONTRACT_VERSION
    id: str
    result: Result
