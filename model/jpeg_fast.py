"""The fast path for JPEG: libjpeg-turbo (simplejpeg) decoding straight to a reduced DCT scale.

Pillow decodes through libjpeg-turbo too; simplejpeg skips Pillow's decoder objects and writes
one NumPy array. It decodes at the scale Pillow's draft mode would pick (1/2, 1/4, 1/8: the
largest that still covers the resize), so its pixels are Pillow's, bit for bit on the golden
images, and the golden logits hold. libjpeg-turbo's other M/8 scales (e.g. 5/8 for a 640x427
photo) were tried and not taken: slower to decode here (non-power-of-two IDCT) and the int8
engine's near tie cat.jpg flipped (2026-12-06). Measured here: `evision bench-model` prints the
stages (decode on each path, resize, normalise, infer).

The fast path only takes what it decodes exactly as Pillow's path would: a JPEG whose header
Pillow has already read and bounded (pixels, aspect ratio), in RGB/YCbCr or grey, stored upright
(EXIF orientation 1 or none). Anything else, and anything it fails on (truncated or corrupt data:
`strict` turns libjpeg's warnings into errors), goes to Pillow, whose errors are the service's.
simplejpeg: MIT, manylinux wheels for x86_64 and aarch64 with libjpeg-turbo inside.
"""

from __future__ import annotations

import contextlib

import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image

ORIENTATION = 0x0112  # EXIF tag: 1 is upright
_MODES = frozenset({"RGB", "L"})  # what Pillow calls a YCbCr/RGB or a grey JPEG


def takes(image: Image.Image) -> bool:
    """Whether the fast path decodes this (header-only) Pillow JPEG exactly as Pillow would."""
    if image.format != "JPEG" or image.mode not in _MODES:
        return False  # CMYK/YCCK and anything else: Pillow converts them
    orientation: object = None
    with contextlib.suppress(Exception):  # a malformed EXIF block: Pillow's path decides
        orientation = image.getexif().get(ORIENTATION, 1)
    return orientation == 1


def decode_at_least(
    data: bytes, full: tuple[int, int], size: tuple[int, int]
) -> npt.NDArray[np.uint8] | None:
    """RGB pixels (H, W, 3) of a `full`-size JPEG at the largest of the scales 1/2, 1/4, 1/8 whose
    width and height still cover `size` (or at full size); None where libjpeg-turbo refuses the
    data (the caller falls back to Pillow)."""
    factor = next((k for k in (8, 4, 2) if -(-full[0] // k) >= size[0] and -(-full[1] // k) >= size[1]), 1)
    try:
        pixels = simplejpeg.decode_jpeg(
            data, colorspace="RGB", min_width=-(-full[0] // factor), min_height=-(-full[1] // factor)
        )
    except ValueError:  # corrupt or truncated (strict), or a colour conversion it does not do
        return None
    return np.asarray(pixels, dtype=np.uint8)
