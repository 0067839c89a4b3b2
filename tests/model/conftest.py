"""One real Classifier (the committed model) shared by the model tests."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from model.classifier import Classifier
from model.golden import GoldenImage, golden_by_name


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier(intra_op_threads=1)


@pytest.fixture(scope="session")
def cat() -> GoldenImage:
    return golden_by_name()["cat.jpg"]


@pytest.fixture(scope="session")
def cat_image(cat: GoldenImage) -> Image.Image:
    with Image.open(io.BytesIO(cat.read_bytes())) as image:
        return image.convert("RGB")
