"""Reading one uploaded image from a multipart body, bounded and validated before anything is queued.

The body is read through a byte-counting stream, so an oversized upload is refused after at most
`limit` bytes whatever the client claims in Content-Length (or if it sends none), then split into
its parts in memory. The image type is sniffed from the bytes; the client's content type and file
name are never trusted.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from model.formats import sniff
from services.contract import ErrorKind
from services.web.errors import ApiError
from services.web.multipart import MultipartError, split_parts

FILE_FIELDS = ("myfile", "inputFile", "file")
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers on top of the image itself
MAX_PARTS = 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ACCEPTED = ", ".join(FILE_FIELDS)


@dataclass(frozen=True, slots=True)
class UploadedImage:
    data: bytes
    name: str  # display name: base name of the client's file name, control characters removed
    format: str  # sniffed: jpeg, png, webp, gif, bmp

    @property
    def stem(self) -> str:
        """The name without its extension, as the course workload generators expect it."""
        stem, dot, _ = self.name.rpartition(".")
        return stem if dot and stem else self.name

    @property
    def ascii_name(self) -> str:
        """S3 metadata must be ASCII: percent-encode the rest."""
        return quote(self.name, safe=" .-_()+,")


class _TooLargeError(Exception):
    pass


async def _bounded(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise _TooLargeError
        yield chunk


def display_name(raw: str | None) -> str:
    base = re.split(r"[/\\]", raw or "")[-1]
    base = _CONTROL.sub("", base).strip()[:200]
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
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD:
        raise _too_large(max_bytes)

    try:
        body = b"".join([chunk async for chunk in _bounded(request.stream(), max_bytes + FORM_OVERHEAD)])
    except _TooLargeError:
        raise _too_large(max_bytes) from None
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
    return UploadedImage(data=data, name=name, format=image_format)
