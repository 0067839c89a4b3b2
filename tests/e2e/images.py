"""Golden images for the service tests: `GOLDEN` (file name -> acceptable labels) and their bytes.

They come with the model (model/testdata + the model's golden-label helper). Until that has
landed, the modules that use them are skipped with that reason rather than failing to import.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

try:
    from model.golden import GOLDEN_LABELS  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    pytest.skip("model golden images (model.golden) not available yet", allow_module_level=True)

TESTDATA = Path(__file__).resolve().parents[2] / "model" / "testdata"
GOLDEN: dict[str, set[str]] = {name: set(labels) for name, labels in GOLDEN_LABELS.items()}


@cache
def golden_bytes(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()
