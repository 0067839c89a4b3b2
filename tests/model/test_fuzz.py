"""Damaged files of every supported format: decoded, or refused with InvalidImageError only."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from model.classifier import Classifier
from model.errors import InvalidImageError
from tests.fixtures import encode

KINDS = {"truncated", "corrupt", "bad_aspect_ratio", "too_many_pixels", "not_an_image", "unsupported_format"}


def damaged(data: bytes, rng: random.Random, trial: int) -> bytes:
    """Cut short, bytes flipped, or the tail replaced with random bytes."""
    if trial % 3 == 0:
        return data[: rng.randrange(1, len(data))]
    if trial % 3 == 1:
        flipped = bytearray(data)
        for _ in range(rng.randrange(1, 20)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        return bytes(flipped)
    cut = rng.randrange(len(data))
    return data[:cut] + rng.randbytes(rng.randrange(1, 200))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_damaged_files_raise_only_invalid_image_error(
    classifier: Classifier, cat_image: Image.Image, fmt: str
) -> None:
    rng = random.Random(fmt)
    data = encode(cat_image.resize((160, 120)), fmt)
    refused = 0
    for trial in range(30):
        try:
            classifier.preprocess(damaged(data, rng, trial))
        except InvalidImageError as error:
            assert error.kind in KINDS and error.reason
            refused += 1
    assert refused >= 10  # every cut-short file at least
