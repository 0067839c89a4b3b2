"""Image format detection from magic bytes only (stdlib-only: the web tier imports this)."""

from __future__ import annotations

SUPPORTED_FORMATS: frozenset[str] = frozenset({"jpeg", "png", "webp", "gif", "bmp"})

# (offset, signature) pairs per format; a file matches a format if any of its signatures match.
_SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("jpeg", 0, b"\xff\xd8\xff"),
    ("png", 0, b"\x89PNG\r\n\x1a\n"),
    ("gif", 0, b"GIF87a"),
    ("gif", 0, b"GIF89a"),
    ("bmp", 0, b"BM"),
)


def sniff(data: bytes) -> str | None:
    """The format of `data` judged by its first bytes: one of SUPPORTED_FORMATS, or None."""
    head = bytes(data[:16])
    for name, offset, signature in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return name
    # WebP is a RIFF container: "RIFF" <size:4> "WEBP".
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None
