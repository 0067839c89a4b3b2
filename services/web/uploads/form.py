"""Reading one uploaded image from a multipart body, bounded and validated before anything is queued.

The body is read through a byte-counting stream, so an oversized upload is refused after at most
`limit` bytes whatever the client claims in Content-Length (or if it sends none), then split into
its parts in memory. The image type is sniffed from the bytes; the client's content type and file
name are never trusted.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from model import sniff
from services.contract import PRECISIONS, ErrorKind, Precision, as_precision
from services.web.errors import ApiError
from services.web.uploads.multipart import MultipartError, split_parts

FILE_FIELDS = ("myfile", "inputFile", "file")
MODEL_FIELD = "model"  # a text field naming the model (as the query parameter does)
MAX_MODEL_CHARS = 200
PRECISION_FIELD = "precision"  # a text field pinning the precision (as the query parameter does)
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers on top of the image itself
MAX_PARTS = 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ACCEPTED = ", ".join(FILE_FIELDS)


@dataclass(frozen=True, slots=True)
class UploadedImage:
    data: bytes
    name: str  # display name: base name of the client's file name, control characters removed
    format: str  # sniffed: jpeg, png, webp, gif, bmp
    model: str | None = None  # the form field `model`, if sent (the query parameter wins)
    precision: Precision | None = None  # the form field `precision`, if sent (likewise)

    @property
    def stem(self) -> str:
        """The name without its extension, as the course workload generators expect it."""
        stem, dot, _ = self.name.rpartition(".")
        return stem if dot and stem else self.name

    @property
    def ascii_name(self) -> str:
        """S3 metadata must be ASCII: percent-encode the rest."""
        return quote(self.name, safe=" .-_()+,")


# An oversized body is still read (and dropped) up to this much more, so that a client that sends
# its whole body before reading the answer (Python's urllib, many simple clients) reads the 413
# instead of a reset connection; past it the connection is closed (a reset is then unavoidable).
DISCARD_BYTES = 64 * 1024 * 1024


async def _read_bounded(stream: AsyncIterator[bytes], limit: int) -> bytes | None:
    """The whole body, or None (after discarding the rest) when it is larger than `limit`."""
    pieces: list[bytes] = []
    total = 0
    async for piece in stream:
        total += len(piece)
        if total > limit:
            await _discard(stream, DISCARD_BYTES)
            return None
        pieces.append(piece)
    return b"".join(pieces)


async def _discard(stream: AsyncIterator[bytes], most: int) -> None:
    dropped = 0
    async for piece in stream:  # never held: memory stays at one piece
        dropped += len(piece)
        if dropped > most:
            return


# What browsers and httpx escape in a multipart file name (WHATWG HTML, "multipart/form-data
# encoding algorithm": LF, CR and '"' become %0A, %0D and %22).
_FORM_ESCAPES = {"%0A": "\n", "%0D": "\r", "%22": '"'}
_FORM_ESCAPE = re.compile("|".join(_FORM_ESCAPES), re.IGNORECASE)


def display_name(raw: str | None) -> str:
    base = _FORM_ESCAPE.sub(lambda m: _FORM_ESCAPES[m.group().upper()], raw or "")
    base = re.split(r"[/\\]", base)[-1]
    # Control characters out; quotes and spaces left at either end by a broken quoting out too.
    base = _CONTROL.sub("", base).strip().strip('"').strip()[:200]
    return base or "image"


def _too_large(limit: int) -> ApiError:
    return ApiError(413, ErrorKind.TOO_LARGE, f"the image exceeds the limit of {limit} bytes")


async def read_upload(request: Request, max_bytes: int) -> UploadedImage:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        raise ApiError(
            400,
            ErrorKind.NOT_MULTIPART,
            f"send multipart/form-data with the image in one of the fields {_ACCEPTED}",
        )
    stream = request.stream()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD:
        if int(declared) <= max_bytes + FORM_OVERHEAD + DISCARD_BYTES:
            await _discard(stream, DISCARD_BYTES + max_bytes + FORM_OVERHEAD)
        raise _too_large(max_bytes)

    body = await _read_bounded(stream, max_bytes + FORM_OVERHEAD)
    if body is None:
        raise _too_large(max_bytes)
    try:
        parts = split_parts(body, options.get(b"boundary", b""), max_parts=MAX_PARTS)
    except MultipartError as exc:
        raise ApiError(400, ErrorKind.BAD_FORM, str(exc)) from None
    del body  # the image is a copy of its slice: hold one of them, not both
    upload = next(
        (part for field in FILE_FIELDS for part in parts if part.name == field and part.filename is not None),
        None,
    )
    if upload is None:
        raise ApiError(400, ErrorKind.MISSING_FIELD, f"no file in any of the form fields {_ACCEPTED}")
    data, name = upload.data, display_name(upload.filename)

    if not data:
        raise ApiError(400, ErrorKind.EMPTY, "the uploaded file is empty")
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    image_format = sniff(data)
    if image_format is None:
        raise ApiError(
            415, ErrorKind.NOT_AN_IMAGE, "the file is not a JPEG, PNG, WebP, GIF or BMP image (by content)"
        )
    model_part = next((part for part in parts if part.name == MODEL_FIELD and part.filename is None), None)
    model = None
    if model_part is not None:
        try:
            model = model_part.data.decode("utf-8").strip()[:MAX_MODEL_CHARS] or None
        except UnicodeDecodeError:
            raise ApiError(400, ErrorKind.BAD_FORM, "the model field is not UTF-8 text") from None
    precision_part = next((p for p in parts if p.name == PRECISION_FIELD and p.filename is None), None)
    precision = None if precision_part is None else _precision(precision_part.data)
    return UploadedImage(data=data, name=name, format=image_format, model=model, precision=precision)


def _precision(raw: bytes) -> Precision | None:
    """The form field `precision`: one of PRECISIONS, or None when empty; else a 422."""
    text = raw.decode("utf-8", "replace").strip()
    if text and text not in PRECISIONS:
        raise ApiError(
            422,
            ErrorKind.INVALID_REQUEST,
            f"precision {text[:40]!r} is not one of {', '.join(PRECISIONS)} (auto: the service's engine)",
        )
    return as_precision(text) if text else None
