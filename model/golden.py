"""The golden images (model/testdata/) and what the committed model says about them.

Produced by model/export.py. Other tests upload these images and expect `expected_label`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TESTDATA_DIR = Path(__file__).resolve().parent / "testdata"
GOLDEN_FILE = TESTDATA_DIR / "golden.json"


@dataclass(frozen=True, slots=True)
class GoldenImage:
    path: Path
    expected_label: str
    expected_index: int
    score: float  # softmax probability of expected_label
    top5: tuple[tuple[str, float], ...]
    logits: tuple[float, ...]  # rounded to 1e-5

    @property
    def name(self) -> str:
        return self.path.name

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


@cache
def load_golden() -> tuple[GoldenImage, ...]:
    records = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    return tuple(
        GoldenImage(
            path=TESTDATA_DIR / record["file"],
            expected_label=record["expected_label"],
            expected_index=record["expected_index"],
            score=record["score"],
            top5=tuple((label, score) for label, score in record["top5"]),
            logits=tuple(record["logits"]),
        )
        for record in records
    )


def golden_files(folder: Path) -> list[Path]:
    """A model folder's golden images (its testdata/golden.json lists them), in their listed order."""
    testdata = folder / TESTDATA_DIR.name
    records = json.loads((testdata / GOLDEN_FILE.name).read_text(encoding="utf-8"))
    return [testdata / str(record["file"]) for record in records]


def golden_by_name() -> dict[str, GoldenImage]:
    return {image.name: image for image in load_golden()}
