"""Every kind of bad input raises InvalidImageError with the right kind and a reason."""

from __future__ import annotations

import pickle
import struct
import zlib

import pytest
from PIL import Image

from model.classifier import Classifier
from model.errors import InvalidImageError
from model.golden import GoldenImage
from model.preprocess import Limits, Preprocessor
from tests.fixtures import encode


def kind_of(classifier: Classifier, data: bytes) -> str:
    with pytest.raises(InvalidImageError) as caught:
        classifier.preprocess(data)
    assert caught.value.reason and str(caught.value) == caught.value.reason
    return caught.value.kind


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height but carries one tiny IDAT: a bomb without the pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def test_zero_bytes(classifier: Classifier) -> None:
    assert kind_of(classifier, b"") == "empty"


@pytest.mark.parametrize("data", [b"hello, this is text and not a picture\n" * 4, b"{}", b"\0" * 100])
def test_not_an_image(classifier: Classifier, data: bytes) -> None:
    assert kind_of(classifier, data) == "not_an_image"


def test_truncated_jpeg(classifier: Classifier, cat: GoldenImage) -> None:
    data = cat.read_bytes()
    assert kind_of(classifier, data[: len(data) // 2]) == "truncated"
    assert kind_of(classifier, data[:10]) == "truncated"


def test_truncated_png(classifier: Classifier, cat_image: Image.Image) -> None:
    data = encode(cat_image, "PNG")
    assert kind_of(classifier, data[: len(data) // 2]) == "truncated"


def test_png_header_then_garbage(classifier: Classifier) -> None:
    garbage = bytes(range(256)) * 8
    assert kind_of(classifier, b"\x89PNG\r\n\x1a\n" + garbage) in {"corrupt", "truncated"}
    valid_header = png_header_only(64, 64)[:33]  # signature + IHDR
    assert kind_of(classifier, valid_header + png_chunk(b"IDAT", garbage) + png_chunk(b"IEND", b"")) in {
        "corrupt",
        "truncated",
    }


def test_jpeg_marker_then_garbage(classifier: Classifier) -> None:
    assert kind_of(classifier, b"\xff\xd8\xff" + bytes(range(256)) * 4) in {"corrupt", "truncated"}


@pytest.mark.parametrize("size", [(100_000, 100_000), (8_000, 6_000)], ids=["pillow-bomb", "over-limit"])
def test_decompression_bomb_is_refused_from_its_header(classifier: Classifier, size: tuple[int, int]) -> None:
    data = png_header_only(*size)
    assert len(data) < 200  # the test itself never allocates the pixels
    assert kind_of(classifier, data) == "too_many_pixels"


def test_pixel_limit_is_configurable(cat_image: Image.Image, classifier: Classifier) -> None:
    strict = Preprocessor(classifier.metadata, Limits(max_pixels=100 * 100))
    with pytest.raises(InvalidImageError) as caught:
        strict(encode(cat_image, "JPEG"))
    assert caught.value.kind == "too_many_pixels"
    assert "limit" in caught.value.reason


@pytest.mark.parametrize("size", [(1, 500), (500, 1), (2100, 100)])
def test_absurd_aspect_ratio(classifier: Classifier, size: tuple[int, int]) -> None:
    assert kind_of(classifier, encode(Image.new("RGB", size, (200, 100, 50)), "PNG")) == "bad_aspect_ratio"


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "PPM"])
def test_unsupported_format(classifier: Classifier, cat_image: Image.Image, fmt: str) -> None:
    with pytest.raises(InvalidImageError) as caught:
        classifier.preprocess(encode(cat_image.resize((64, 64)), fmt))
    assert caught.value.kind == "unsupported_format"
    assert "not supported" in caught.value.reason


def test_the_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(InvalidImageError("truncated", "cut short")))
    assert (error.kind, error.reason, str(error)) == ("truncated", "cut short", "cut short")
    assert isinstance(error, ValueError)


def test_a_valid_image_still_works_after_bad_ones(classifier: Classifier, cat: GoldenImage) -> None:
    for data in (b"", b"junk", png_header_only(100_000, 100_000)):
        with pytest.raises(InvalidImageError):
            classifier.preprocess(data)
    (prediction,) = classifier.classify([cat.read_bytes()])
    assert getattr(prediction, "label", None) == cat.expected_label


def test_a_png_whose_image_data_fails_its_crc_is_corrupt(classifier: Classifier) -> None:
    data = bytearray(encode(Image.new("RGB", (40, 30), (200, 30, 30)), "PNG"))
    idat = data.index(b"IDAT")
    length = struct.unpack_from(">I", data, idat - 4)[0]
    data[idat + 4 + length] ^= 0xFF  # the IDAT's CRC, not its pixels: zlib alone would not notice
    with pytest.raises(InvalidImageError) as caught:
        classifier.preprocess(bytes(data))
    assert caught.value.kind == "corrupt" and "IDAT chunk fails its CRC" in caught.value.reason


def test_text_that_starts_with_bm_is_not_an_image(classifier: Classifier) -> None:
    assert kind_of(classifier, b"BM is not a bitmap, just a sentence of text.") == "not_an_image"


def test_no_reason_shows_a_python_repr(classifier: Classifier) -> None:
    damaged = [
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        b"GIF89a" + b"\xff" * 100,
        b"\xff\xd8\xff" + b"\0" * 100,
        b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 100,
        b"BM" + b"\0" * 12 + struct.pack("<I", 40) + b"\0" * 100,
    ]
    for data in damaged:
        with pytest.raises(InvalidImageError) as caught:
            classifier.preprocess(data)
        assert " object at 0x" not in caught.value.reason, caught.value.reason
