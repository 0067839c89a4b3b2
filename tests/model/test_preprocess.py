"""Decoding, orientation, colour modes, resize/crop/normalise and draft decoding on real images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model.classifier import Classifier
from model.errors import InvalidImageError
from model.formats import SUPPORTED_FORMATS, sniff, webp_size
from model.golden import GoldenImage, load_golden
from model.preprocess import Preprocessor
from tests.fixtures import encode

EXIF_ORIENTATION = 0x0112


def test_sniff_every_supported_format(cat_image: Image.Image) -> None:
    small = cat_image.resize((32, 32))
    found = {sniff(encode(small, fmt)) for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP")}
    assert found == SUPPORTED_FORMATS
    assert sniff(b"") is None
    assert sniff(b"RIFF\0\0\0\0WAVE") is None
    assert sniff(encode(small, "TIFF")) is None


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP"])
def test_every_format_classifies_the_cat(
    classifier: Classifier, cat: GoldenImage, cat_image, fmt: str
) -> None:
    options = {"lossless": True} if fmt == "WEBP" else {}
    (prediction,) = classifier.classify([encode(cat_image, fmt, **options)])
    assert getattr(prediction, "label", None) == cat.expected_label


def test_gif_uses_the_first_frame(classifier: Classifier) -> None:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(data)) as check:
        assert getattr(check, "n_frames", 1) == 2
    red = classifier.preprocessor.decode(data).getpixel((10, 10))
    assert red == (255, 0, 0)


def test_exif_orientation_is_honoured(classifier: Classifier, cat_image: Image.Image) -> None:
    upright = classifier.preprocess(encode(cat_image, "PNG"))
    stored = cat_image.transpose(Image.Transpose.ROTATE_90)  # as a camera held sideways stores it
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    with_tag = classifier.preprocess(encode(stored, "PNG", exif=exif.tobytes()))
    without_tag = classifier.preprocess(encode(stored, "PNG"))
    np.testing.assert_array_equal(with_tag, upright)
    assert not np.allclose(without_tag, upright, atol=0.1)


def test_exif_orientation_on_a_jpeg(classifier: Classifier, cat: GoldenImage, cat_image: Image.Image) -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 8  # "rotate 90 degrees counter-clockwise to display"
    stored = cat_image.transpose(Image.Transpose.ROTATE_270)
    (prediction,) = classifier.classify([encode(stored, "JPEG", quality=90, exif=exif.tobytes())])
    assert getattr(prediction, "label", None) == cat.expected_label


def _modes(rgb: Image.Image) -> dict[str, tuple[bytes, np.ndarray | None]]:
    """Encoded images in each colour mode, each with the RGB it must become (None: no exact check)."""
    grey = rgb.convert("L")
    opaque = rgb.copy()
    opaque.putalpha(255)
    grey_alpha = grey.copy().convert("LA")
    sixteen = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)  # full 16-bit range
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    grey_rgb = np.asarray(grey.convert("RGB"))
    return {
        "L": (encode(grey, "PNG"), grey_rgb),
        "LA": (encode(grey_alpha, "PNG"), grey_rgb),
        "P": (encode(palette, "PNG"), np.asarray(palette.convert("RGB"))),
        "RGBA": (encode(opaque, "PNG"), np.asarray(rgb)),
        "I;16": (encode(sixteen, "PNG"), grey_rgb),
        "CMYK": (encode(rgb.convert("CMYK"), "JPEG", quality=95), None),
        "1": (encode(grey.convert("1"), "PNG"), None),
    }


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "I;16", "CMYK", "1"])
def test_every_mode_converts_to_rgb(classifier: Classifier, cat_image: Image.Image, mode: str) -> None:
    data, expected = _modes(cat_image)[mode]
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.mode == mode  # the test really feeds this mode
    decoded = classifier.preprocessor.decode(data)
    assert decoded.mode == "RGB" and decoded.size == cat_image.size
    if expected is not None:
        np.testing.assert_array_equal(np.asarray(decoded), expected)
    pixels = classifier.preprocess(data)
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.float32 and np.isfinite(pixels).all()


def test_transparency_is_composited_onto_white(classifier: Classifier) -> None:
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    assert classifier.preprocessor.decode(encode(clear, "PNG")).getpixel((5, 5)) == (255, 255, 255)
    palette = Image.new("P", (64, 64), 0)
    palette.putpalette([0, 0, 0] * 256)
    data = encode(palette, "PNG", transparency=0)
    assert classifier.preprocessor.decode(data).getpixel((5, 5)) == (255, 255, 255)


def test_normalisation_follows_the_metadata(classifier: Classifier) -> None:
    metadata = classifier.metadata
    white = classifier.preprocess(encode(Image.new("RGB", (300, 260), (255, 255, 255)), "PNG"))
    black = classifier.preprocess(encode(Image.new("RGB", (300, 260), (0, 0, 0)), "PNG"))
    for channel in range(3):
        assert white[channel].mean() == pytest.approx((255 - metadata.mean[channel]) / metadata.std[channel])
        assert black[channel].mean() == pytest.approx((0 - metadata.mean[channel]) / metadata.std[channel])


def test_centre_crop_of_a_wide_image(classifier: Classifier) -> None:
    # Left and right thirds red, centre third blue: the centre crop (224 of 256 of the shorter
    # side) of a 3:1 image sees only blue.
    wide = Image.new("RGB", (900, 300), (255, 0, 0))
    wide.paste((0, 0, 255), (300, 0, 600, 300))
    decoded = classifier.preprocessor.resize_crop(wide)
    pixels = np.asarray(decoded)
    assert decoded.size == (224, 224)
    assert (pixels[..., 2] == 255).all() and (pixels[..., 0] == 0).all()


def test_preprocess_writes_into_a_given_buffer(classifier: Classifier, cat: GoldenImage) -> None:
    buffer = np.zeros((2, 3, 224, 224), dtype=np.float32)
    result = classifier.preprocess(cat.read_bytes(), out=buffer[1])
    assert np.shares_memory(result, buffer)
    np.testing.assert_array_equal(buffer[1], classifier.preprocess(cat.read_bytes()))
    assert not buffer[0].any()


def test_draft_decoding_of_a_large_jpeg(classifier: Classifier, cat: GoldenImage, cat_image) -> None:
    large = encode(cat_image.resize((4000, 2660), Image.Resampling.BICUBIC), "JPEG", quality=90)
    no_draft = Preprocessor(classifier.metadata, draft=False)
    drafted = classifier.preprocessor.decode(large)
    assert drafted.size[1] >= classifier.metadata.resize_shorter_side
    assert drafted.size[0] <= 4000 // 8 + 1  # reduced while decoding
    assert no_draft.decode(large).size == (4000, 2660)
    with_draft = classifier.infer(classifier.preprocess(large)[None])[0]
    without = classifier.infer(no_draft(large)[None])[0]
    assert with_draft.label == without.label == cat.expected_label


@pytest.mark.parametrize("golden", load_golden(), ids=lambda g: g.name)
def test_draft_decoding_keeps_the_top1(classifier: Classifier, golden: GoldenImage) -> None:
    with Image.open(golden.path) as image:
        scale = 1200 / min(image.size)
        large = image.convert("RGB").resize((round(image.width * scale), round(image.height * scale)))
    data = encode(large, "JPEG", quality=90)
    assert max(classifier.preprocessor.decode(data).size) < max(large.size) // 2  # draft really applied
    no_draft = Preprocessor(classifier.metadata, draft=False)
    with_draft = classifier.infer(classifier.preprocess(data)[None])[0]
    without = classifier.infer(no_draft(data)[None])[0]
    assert with_draft.label == without.label


@pytest.mark.parametrize(
    "options", [{"quality": 80}, {"lossless": True}, {"quality": 80, "exif": b"Exif\0\0II*\0\x08\0\0\0\0\0"}]
)
def test_webp_size_is_read_from_the_header(cat_image: Image.Image, options: dict[str, object]) -> None:
    data = encode(cat_image.resize((333, 217)), "WEBP", **options)
    assert webp_size(data) == (333, 217)
    assert webp_size(data[:20]) is None


def test_huge_webp_canvas_is_refused_before_decoding(classifier: Classifier) -> None:
    # An extended (VP8X) header claiming a 16000 x 16000 canvas and nothing else.
    vp8x = b"VP8X" + (10).to_bytes(4, "little") + b"\0\0\0\0" + (15999).to_bytes(3, "little") * 2
    data = b"RIFF" + (4 + len(vp8x)).to_bytes(4, "little") + b"WEBP" + vp8x
    assert webp_size(data) == (16000, 16000)
    with pytest.raises(InvalidImageError) as caught:
        classifier.preprocess(data)
    assert caught.value.kind == "too_many_pixels"
