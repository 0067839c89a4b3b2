"""A local folder as a batch job's source: its files, recursively, keyed by relative POSIX path.

The web tier only accepts folders under its configured jobs root (services/jobs/locations.py);
here a key is checked again to stay inside the folder, so a chunk message cannot read elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from services.ports.job_locations import OutputUnwritableError, SourceUnreadableError
from services.ports.storage import BlobNotFoundError


class FolderSource:
    def __init__(self, folder: Path) -> None:
        if not folder.is_absolute():
            raise ValueError(f"{folder} is not an absolute folder")
        if not folder.is_dir():  # e.g. removed since its job was accepted
            raise SourceUnreadableError(f"no folder {folder}")
        self._root = folder.resolve()

    @property
    def location(self) -> str:
        return str(self._root)

    def keys_after(self, cursor: str) -> Iterator[str]:
        keys: list[str] = []
        for directory, subdirectories, files in os.walk(self._root):
            subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
            relative = Path(directory).relative_to(self._root)
            keys.extend((relative / name).as_posix() for name in files if not name.startswith("."))
        yield from sorted(key.removeprefix("./") for key in keys if key.removeprefix("./") > cursor)

    def read(self, key: str) -> bytes:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):
            raise BlobNotFoundError(f"{key} is outside {self._root}")
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise BlobNotFoundError(f"{self._root}/{key}") from None


class FolderOutput:
    """A local folder a job's results are copied into (created if missing)."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_absolute():
            raise ValueError(f"{folder} is not an absolute folder")
        self._root = folder

    @property
    def location(self) -> str:
        return str(self._root)

    def write(self, name: str, data: bytes) -> None:
        path = self._root / name
        tmp = path.with_name(f".{name}.tmp-{os.getpid()}")
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
        except OSError as error:  # no permission, a file where the folder should be, a full disk
            raise OutputUnwritableError(f"cannot write {path}: {error.strerror or error}") from None
        tmp.replace(path)
