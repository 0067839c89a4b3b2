"""Image format detection from magic bytes only (stdlib-only: the web tier imports this)."""

from __future__ import annotations

import struct
import zlib

SUPPORTED_FORMATS: frozenset[str] = frozenset({"jpeg", "png", "webp", "gif", "bmp"})

# (offset, signature) pairs per format; a file matches a format if any of its signatures match.
_SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("jpeg", 0, b"\xff\xd8\xff"),
    ("png", 0, b"\x89PNG\r\n\x1a\n"),
    ("gif", 0, b"GIF87a"),
    ("gif", 0, b"GIF89a"),
)
# "BM" alone is any two bytes of text: a BMP also has a DIB header whose size is one of these
# (BITMAPCOREHEADER 12, INFOHEADER 40, V2 52, V3 56, OS/2 v2 64, V4 108, V5 124).
_BMP_DIB_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def sniff(data: bytes) -> str | None:
    """The format of `data` judged by its first bytes: one of SUPPORTED_FORMATS, or None."""
    head = bytes(data[:16])
    for name, offset, signature in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return name
    # WebP is a RIFF container: "RIFF" <size:4> "WEBP".
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM" and len(data) >= 18 and struct.unpack_from("<I", data, 14)[0] in _BMP_DIB_SIZES:
        return "bmp"
    return None


def png_chunk_damage(data: bytes) -> str | None:
    """Which PNG chunk fails its CRC-32 (PNG spec, section 5.3), or None if all that are there pass.

    zlib (and so Pillow) checks only the image data's own Adler-32 and skips the chunk CRCs of
    IDAT: a PNG damaged in transit could be decoded to wrong pixels and classified. A chunk that
    runs past the end is left for the decoder (it reports the file as truncated).
    """
    offset = 8
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        end = offset + 8 + length
        if end + 4 > len(data):
            return None
        kind = data[offset + 4 : offset + 8]
        if zlib.crc32(data[offset + 4 : end]) != struct.unpack_from(">I", data, end)[0]:
            return kind.decode("latin-1")
        if kind == b"IEND":
            return None
        offset = end + 4
    return None


def webp_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a WebP header, or None if the header is not one we can read.

    Pillow's WebP plugin creates libwebp's decoder (which allocates the canvas) inside
    Image.open, before any size check: read the size here first.
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit width-1 and height-1
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame: 14-bit sizes
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None
