"""Golden images for the service tests: `GOLDEN` (file name -> acceptable labels) and their bytes.

They come with the model (model/testdata, written by model/export.py together with the labels
the committed model gives them).
"""

from __future__ import annotations

from functools import cache

from model.golden import golden_by_name

_IMAGES = golden_by_name()
GOLDEN: dict[str, set[str]] = {name: {image.expected_label} for name, image in _IMAGES.items()}


@cache
def golden_bytes(name: str) -> bytes:
    return _IMAGES[name].read_bytes()
