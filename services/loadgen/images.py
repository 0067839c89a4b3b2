"""The images a load run uploads: read once into memory, then cycled."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})


@dataclass(frozen=True, slots=True)
class UploadImage:
    name: str  # file name as uploaded
    data: bytes

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


def load_images(directory: Path, *, limit: int | None = None) -> list[UploadImage]:
    """Every image file directly in `directory`, sorted by name; raises ValueError if there are none.

    Bytes are read up front so reading files never shows up in the measured latencies.
    """
    if not directory.is_dir():
        raise ValueError(f"not a directory: {directory}")
    paths = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if limit is not None:
        paths = paths[:limit]
    if not paths:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise ValueError(f"no images ({suffixes}) in {directory}")
    return [UploadImage(name=p.name, data=p.read_bytes()) for p in paths]
