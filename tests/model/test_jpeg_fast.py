"""The fast JPEG path (libjpeg-turbo with DCT scaling) gives Pillow's labels on the real images,
and everything it does not take (CMYK, EXIF-rotated, truncated, other formats) goes to Pillow's
path with Pillow's answer or error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model import jpeg_fast
from model.classifier import Classifier
from model.errors import InvalidImageError
from model.golden import GoldenImage, load_golden
from model.preprocess import Preprocessor
from tests.fixtures import encode

GOLDEN = load_golden()
EXIF_ORIENTATION = 0x0112


@pytest.fixture(scope="module")
def pillow(classifier: Classifier) -> Preprocessor:
    return Preprocessor(classifier.metadata, fast_jpeg=False)


def _header(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.name)
def test_the_fast_path_gives_pillows_label_on_every_real_image(
    classifier: Classifier, pillow: Preprocessor, golden: GoldenImage
) -> None:
    data = golden.read_bytes()
    header = _header(data)
    assert jpeg_fast.takes(header) and jpeg_fast.decode_at_least(data, header.size, header.size) is not None
    fast = classifier.preprocess(data)
    slow = pillow(data)
    np.testing.assert_array_equal(fast, slow)  # the same scale and IDCT: Pillow's pixels
    [fast_answer, slow_answer] = classifier.infer(np.stack([fast, slow]))
    assert fast_answer.label == slow_answer.label == golden.expected_label


def test_the_fast_path_decodes_a_large_jpeg_straight_to_pillows_draft_scale(
    classifier: Classifier, pillow: Preprocessor, cat_image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    large = encode(cat_image.resize((4000, 2660)), "JPEG", quality=90)
    calls: list[tuple[int, int]] = []
    decode = jpeg_fast.decode_at_least

    def counted(data: bytes, full: tuple[int, int], size: tuple[int, int]) -> object:
        calls.append(full)
        return decode(data, full, size)

    monkeypatch.setattr(jpeg_fast, "decode_at_least", counted)
    fast = classifier.preprocessor.decode(large)
    assert calls == [(4000, 2660)] and fast.size == pillow.decode(large).size == (
        500,
        333,
    )  # 1/8, as Pillow's draft
    assert min(fast.size) >= classifier.metadata.resize_shorter_side  # resampling still only shrinks
    np.testing.assert_allclose(classifier.preprocess(large), pillow(large), atol=0.02)


def test_a_cmyk_jpeg_goes_to_pillow(
    classifier: Classifier, pillow: Preprocessor, cat_image: Image.Image
) -> None:
    data = encode(cat_image.convert("CMYK"), "JPEG", quality=90)
    assert not jpeg_fast.takes(_header(data))
    np.testing.assert_array_equal(classifier.preprocess(data), pillow(data))


def test_an_exif_rotated_jpeg_goes_to_pillow(
    classifier: Classifier, pillow: Preprocessor, cat_image: Image.Image
) -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    data = encode(cat_image.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif.tobytes())
    assert not jpeg_fast.takes(_header(data))
    np.testing.assert_array_equal(classifier.preprocess(data), pillow(data))
    upright = encode(cat_image, "JPEG", quality=90, exif=Image.Exif().tobytes())  # tag absent: upright
    assert jpeg_fast.takes(_header(upright))


def test_a_truncated_jpeg_is_refused_by_the_fast_path_and_reported_by_pillows(classifier: Classifier) -> None:
    data = GOLDEN[1].read_bytes()
    cut = data[: len(data) * 2 // 3]
    assert jpeg_fast.takes(_header(cut)) and jpeg_fast.decode_at_least(cut, (451, 300), (1, 1)) is None
    with pytest.raises(InvalidImageError) as refused:
        classifier.preprocess(cut)
    assert refused.value.kind == "truncated"


def test_other_formats_never_take_the_fast_path(cat_image: Image.Image) -> None:
    for fmt in ("PNG", "WEBP", "BMP", "GIF"):
        assert not jpeg_fast.takes(_header(encode(cat_image, fmt)))
