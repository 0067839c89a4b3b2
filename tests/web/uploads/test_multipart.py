"""Splitting a multipart/form-data body: exact bytes back, and a clear error for every malformed body."""

from __future__ import annotations

import httpx
import pytest

from services.web.uploads.multipart import MultipartError, split_parts

BOUNDARY = b"b0undary"


def _encode(files: dict[str, tuple[str, bytes, str]], data: dict[str, str]) -> tuple[bytes, bytes]:
    """A body as a real client encodes it (httpx), and its boundary."""
    request = httpx.Request("POST", "http://test/", files=files, data=data)
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    return request.read(), boundary


def test_parts_come_back_in_order_with_their_exact_bytes() -> None:
    # Bytes that look like line breaks and boundaries must survive untouched.
    tricky = b"\xff\xd8\r\n--" + b"b0undar" + b"\r\n\r\n" + bytes(range(256)) * 300
    body, boundary = _encode(
        {"myfile": ("a/b\\c.jpg", tricky, "image/jpeg"), "other": ("x.txt", b"", "text/plain")},
        data={"note": "caf\u00e9"},
    )
    parts = split_parts(body, boundary)
    assert [(p.name, p.filename) for p in parts] == [
        ("note", None),
        ("myfile", "a/b\\c.jpg"),
        ("other", "x.txt"),
    ]
    assert parts[0].data == "caf\u00e9".encode()
    assert parts[1].data == tricky
    assert parts[2].data == b""


END = b"--" + BOUNDARY + b"--\r\n"


def _part(name: str, payload: bytes) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"; filename="f"'.encode()
    return b"--" + BOUNDARY + b"\r\n" + disposition + b"\r\n\r\n" + payload + b"\r\n"


@pytest.mark.parametrize(
    ("body", "boundary", "message"),
    [
        (_part("myfile", b"123"), BOUNDARY, "closing boundary"),  # cut off before the end
        (_part("myfile", b"123") + END, b"", "no boundary"),
        (b"--" + BOUNDARY + b"\r\nX-Other: 1\r\n\r\n123\r\n" + END, BOUNDARY, "Content-Disposition"),
        (b"".join(_part(f"f{i}", b"1") for i in range(17)) + END, BOUNDARY, "more than 16"),
        (b"--" + BOUNDARY + b"\r\nno colon in this header line\r\n\r\n", BOUNDARY, "malformed"),
        (b"not multipart at all", BOUNDARY, "malformed"),
    ],
    ids=["truncated", "no-boundary", "no-disposition", "too-many-parts", "bad-header", "garbage"],
)
def test_malformed_bodies_are_refused_with_a_reason(body: bytes, boundary: bytes, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        split_parts(body, boundary)


def test_a_complete_body_with_the_closing_boundary_is_accepted() -> None:
    parts = split_parts(_part("myfile", b"123") + END, BOUNDARY)
    assert [(p.name, p.filename, p.data) for p in parts] == [("myfile", "f", b"123")]


def test_display_names_lose_form_escapes_line_breaks_and_stray_quotes() -> None:
    from services.web.uploads.form import display_name

    assert display_name("a%0D%0Ab.jpg") == "ab.jpg"  # httpx and browsers escape CR LF so
    assert display_name('"a\r\nb.jpg') == "ab.jpg"
    assert display_name("say %22cheese%22.png") == 'say "cheese".png'
    assert display_name("C:\\photos\\cat.jpg") == "cat.jpg"
    assert display_name('"') == "image"
