"""Bytes -> normalised float32 (3, H, W) tensor, driven by ModelMetadata.

Order of work, cheapest refusal first: empty -> magic bytes -> lazy header parse (Pillow's
Image.open reads only the header) -> pixel-count and aspect-ratio limits -> the fast JPEG path
(model/jpeg_fast.py: libjpeg-turbo straight to a reduced DCT scale) where it takes the image ->
else reduced-size JPEG decoding (Image.draft) -> full decode -> EXIF orientation -> RGB -> one
resize whose `box` is the centre crop -> normalise into a preallocated buffer (a row of the
batch). A decompression bomb is refused from its header and never allocates its pixels.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from dataclasses import dataclass
from struct import error as struct_error

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model import jpeg_fast
from model.errors import InvalidImageError
from model.formats import SUPPORTED_FORMATS, png_chunk_damage, sniff, webp_size
from model.metadata import ModelMetadata

DEFAULT_MAX_PIXELS = 40_000_000  # e.g. 8000 x 5000; a bigger upload is refused before decoding
DEFAULT_MAX_ASPECT_RATIO = 20.0

# Pillow format names for our sniffed formats: Image.open tries only the one that matched.
_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP"}
_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
_WHITE = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class Limits:
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO


class Preprocessor:
    """Turns encoded image bytes into the network's input tensor, per the model's metadata."""

    def __init__(
        self,
        metadata: ModelMetadata,
        limits: Limits | None = None,
        *,
        draft: bool = True,
        fast_jpeg: bool = True,
    ) -> None:
        """`fast_jpeg`: decode JPEGs on the fast path where it takes them (False: Pillow only)."""
        self.metadata = metadata
        self.limits = limits or Limits()
        self.draft = draft
        self.fast_jpeg = fast_jpeg
        # Pillow refuses bombs itself in Image.open (before allocating); keep its threshold at or
        # above ours so our own check, with its clearer reason, is the one that normally fires.
        if Image.MAX_IMAGE_PIXELS is not None and self.limits.max_pixels > Image.MAX_IMAGE_PIXELS:
            Image.MAX_IMAGE_PIXELS = self.limits.max_pixels
        self._height, self._width = metadata.input_size
        self._resample = _RESAMPLE[metadata.interpolation]
        self._mean = np.asarray(metadata.mean, dtype=np.float32).reshape(3, 1, 1)
        self._scale = (1.0 / np.asarray(metadata.std, dtype=np.float32)).reshape(3, 1, 1)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3, self._height, self._width)

    def __call__(self, data: bytes, out: np.ndarray | None = None) -> np.ndarray:
        """Preprocess one image into `out` (a float32 (3, H, W) buffer, allocated if None)."""
        image = self.decode(data)
        return self.normalise(self.resize_crop(image), out)

    # -- stages ---------------------------------------------------------------------------------

    def decode(self, data: bytes) -> Image.Image:
        """Decoded, upright, RGB; reduced in size by JPEG draft decoding when that loses nothing."""
        image = self._open(data)
        self._check_size(image.size)
        if self.fast_jpeg and jpeg_fast.takes(image):
            size = self._draft_request(image.size) if self.draft else image.size
            pixels = jpeg_fast.decode_at_least(data, image.size, size)
            if pixels is not None:
                return Image.fromarray(pixels)
        if self.draft and image.format == "JPEG":
            image.draft("RGB", self._draft_request(image.size))
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct_error) as exc:
            raise _decode_error(image.format or "image", exc) from exc
        with contextlib.suppress(Exception):  # a malformed EXIF block: keep the stored orientation
            image = ImageOps.exif_transpose(image)
        return _to_rgb(image)

    def resize_crop(self, image: Image.Image) -> Image.Image:
        """Resize the shorter side to resize_shorter_side and take the centre crop, in one resample."""
        width, height = image.size
        scale = self.metadata.resize_shorter_side / min(width, height)
        crop_w, crop_h = self._width / scale, self._height / scale
        left, top = (width - crop_w) / 2, (height - crop_h) / 2
        box = (left, top, left + crop_w, top + crop_h)
        return image.resize((self._width, self._height), self._resample, box=box)

    def normalise(self, image: Image.Image, out: np.ndarray | None = None) -> np.ndarray:
        """(pixel - mean) / std per channel, HWC uint8 -> CHW float32, without temporaries."""
        if out is None:
            out = np.empty(self.shape, dtype=np.float32)
        pixels = np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
        np.subtract(pixels, self._mean, out=out, casting="unsafe")
        np.multiply(out, self._scale, out=out)
        return out

    # -- helpers --------------------------------------------------------------------------------

    def _open(self, data: bytes) -> Image.Image:
        if not data:
            raise InvalidImageError("empty", "the upload is empty (0 bytes)")
        kind = sniff(data)
        if kind is None:
            raise _unknown_format(data)
        assert kind in SUPPORTED_FORMATS
        if kind == "png" and (chunk := png_chunk_damage(data)) is not None:
            raise InvalidImageError("corrupt", f"the png {chunk} chunk fails its CRC check (damaged data)")
        if kind == "webp" and (size := webp_size(data)) is not None:
            self._check_size(size)  # before libwebp allocates the canvas inside Image.open
        try:
            return Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
        except Image.DecompressionBombError as exc:
            raise InvalidImageError("too_many_pixels", f"the {kind} image is a decompression bomb") from exc
        except (UnidentifiedImageError, SyntaxError, ValueError, struct_error) as exc:
            if len(data) < 64:
                raise InvalidImageError("truncated", f"the {kind} file ends inside its header") from exc
            raise InvalidImageError("corrupt", f"the {kind} header is not valid ({_said(exc)})") from exc
        except (OSError, EOFError) as exc:
            raise InvalidImageError(
                "truncated", f"the {kind} file ends inside its header ({_said(exc)})"
            ) from exc

    def _check_size(self, size: tuple[int, int]) -> None:
        width, height = size
        if width <= 0 or height <= 0:
            raise InvalidImageError("corrupt", f"the image claims a size of {width}x{height}")
        if width * height > self.limits.max_pixels:
            raise InvalidImageError(
                "too_many_pixels",
                f"{width}x{height} = {width * height:,} pixels is over the limit of "
                f"{self.limits.max_pixels:,}",
            )
        ratio = max(width, height) / min(width, height)
        if ratio > self.limits.max_aspect_ratio:
            raise InvalidImageError(
                "bad_aspect_ratio",
                f"{width}x{height} has an aspect ratio of {ratio:.1f}, over the limit of "
                f"{self.limits.max_aspect_ratio:g}",
            )

    def _draft_request(self, size: tuple[int, int]) -> tuple[int, int]:
        """The smallest decode size whose shorter side still covers resize_shorter_side.

        draft() picks the largest DCT scale (1/2, 1/4, 1/8) that keeps the image at least this
        big, so the final resample always downsamples, as it would from the full image.
        """
        width, height = size
        scale = self.metadata.resize_shorter_side / min(width, height)
        return (math.ceil(width * scale), math.ceil(height * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency is composited onto white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(image)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey -> 8-bit grey by range, not by clipping (Pillow's convert clips)."""
    values = np.asarray(image).astype(np.float32)
    if image.mode == "F":
        top = 1.0 if values.size and float(values.max()) <= 1.0 else 255.0
    elif image.mode.startswith("I;16") or (values.size and float(values.max()) > 255):
        top = 65535.0
    else:
        top = 255.0
    grey = np.clip(values * (255.0 / top), 0, 255).round().astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _unknown_format(data: bytes) -> InvalidImageError:
    """Not one of ours: an image format we do not take, or not an image at all."""
    try:
        with Image.open(io.BytesIO(data)) as other:
            name = other.format or "this"
    except Exception:
        return InvalidImageError(
            "not_an_image", f"the data is not a recognised image (starts with {bytes(data[:8])!r})"
        )
    supported = ", ".join(sorted(SUPPORTED_FORMATS))
    return InvalidImageError("unsupported_format", f"{name} images are not supported (use {supported})")


_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _said(exc: BaseException) -> str:
    """What the decoder said, without Python object reprs (`<_io.BytesIO object at 0x...>`)."""
    return _REPR.sub("the image", str(exc)) or type(exc).__name__


def _decode_error(name: str, exc: BaseException) -> InvalidImageError:
    message = _said(exc)
    if "truncated" in message or isinstance(exc, EOFError) or "end of file" in message.lower():
        return InvalidImageError("truncated", f"the {name} data is truncated ({message})")
    return InvalidImageError("corrupt", f"the {name} data is corrupt ({message})")
