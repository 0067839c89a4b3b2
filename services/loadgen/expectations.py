"""Expected labels: a CSV file of `image_name,label` rows.

`image_name` is the file's name or its stem (name without extension); a header row
`image_name,label` (or any first row whose label column reads `label`) is skipped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Expectations:
    by_stem: dict[str, str] = field(default_factory=dict)

    def expected(self, image_name: str) -> str | None:
        """The expected label for an uploaded file name, or None when the file has no expectation."""
        return self.by_stem.get(Path(image_name).stem)

    def __len__(self) -> int:
        return len(self.by_stem)


def parse_expectations(text: str, *, source: str = "<labels>") -> Expectations:
    """Parse `image_name,label` rows; raises ValueError naming the line on a malformed or conflicting row."""
    by_stem: dict[str, str] = {}
    for line_no, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) != 2:
            raise ValueError(f"{source}:{line_no}: expected 'image_name,label', got {len(row)} fields")
        name, label = (cell.strip() for cell in row)
        if line_no == 1 and label.lower() == "label":
            continue
        if not name or not label:
            raise ValueError(f"{source}:{line_no}: empty image name or label")
        stem = Path(name).stem
        if by_stem.get(stem, label) != label:
            raise ValueError(f"{source}:{line_no}: conflicting labels for {stem!r}")
        by_stem[stem] = label
    if not by_stem:
        raise ValueError(f"{source}: no expectations")
    return Expectations(by_stem)


def load_expectations(path: Path) -> Expectations:
    return parse_expectations(path.read_text(encoding="utf-8"), source=str(path))
