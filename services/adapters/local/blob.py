"""Blob store on the local file system: one file per object under `<data_dir>/blobs/<bucket>/`.

Each object is ONE file: a header line, the metadata as one JSON line, then the bytes. Writing
goes to a temporary file in the same directory followed by `os.replace`, so object and
metadata change together atomically and a killed writer leaves at worst a stray temp file
(named `.tmp-*`, which no valid key can collide with; the next writer with its name reuses it).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from services.adapters.errors import ResourceNotFoundError
from services.adapters.local.staging import StagedFolder
from services.adapters.names import check_name
from services.ports.storage import BINARY, Blob, BlobNotFoundError, Metadata

_MAGIC = b"EVBLOB1\n"


def bucket_dir(data_dir: Path, bucket: str) -> Path:
    return data_dir / "blobs" / check_name(bucket, "bucket name")


class LocalBlobStore:
    """A bucket; also a `JobStaging` role whose signed PUTs the web tier receives itself
    (`ReceivesSignedPuts`): staged job images are plain files under `<data_dir>/staged/<bucket>/`."""

    def __init__(self, data_dir: Path, bucket: str) -> None:
        self._name = bucket
        self._staged = StagedFolder(data_dir / "staged" / check_name(bucket, "bucket name"))
        self._dir = bucket_dir(data_dir, bucket)
        if not self._dir.is_dir():
            raise ResourceNotFoundError(f"bucket {bucket!r} does not exist under {data_dir}")

    @staticmethod
    def create(data_dir: Path, bucket: str) -> None:
        bucket_dir(data_dir, bucket).mkdir(parents=True, exist_ok=True)

    @property
    def name(self) -> str:
        return self._name

    def put(self, key: str, data: bytes, *, metadata: Metadata = None, content_type: str = BINARY) -> None:
        path = self._dir / check_name(key)
        header = json.dumps({"content_type": content_type, "metadata": dict(metadata or {})}).encode()
        # One temporary name per writing thread: no two live writers share it, and it needs no
        # random name or O_EXCL retry (tempfile.mkstemp was a third of a worker's store time).
        tmp = self._dir / f".tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            with tmp.open("wb") as file:
                file.write(_MAGIC + header + b"\n")
                file.write(data)
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> Blob:
        path = self._dir / check_name(key)
        try:
            with path.open("rb") as file:
                magic, header, data = file.read(len(_MAGIC)), file.readline(), file.read()
        except FileNotFoundError:
            raise BlobNotFoundError(f"{self._name}/{key}") from None
        if magic != _MAGIC:
            raise ValueError(f"{path} is not a blob file written by this store")
        return Blob(data=data, metadata=json.loads(header)["metadata"])

    def exists(self, key: str) -> bool:
        return (self._dir / check_name(key)).is_file()

    def keys_between(self, after: str, before: str) -> Iterator[str]:
        # Temporary files start with a dot, which no key does, and sort before every key.
        with os.scandir(self._dir) as entries:
            names = sorted(entry.name for entry in entries if after < entry.name < before)
        yield from (name for name in names if not name.startswith("."))

    def delete_older_than(self, cutoff: float) -> int:
        """Delete the objects last written before `cutoff` (epoch seconds); how many went."""
        removed = 0
        with os.scandir(self._dir) as entries:
            for entry in entries:
                try:
                    if entry.is_file() and entry.stat().st_mtime < cutoff:
                        Path(entry.path).unlink()
                        removed += 1
                except FileNotFoundError:  # another sweeper, or a writer's rename, got there first
                    continue
        return removed + self._staged.delete_older_than(cutoff)

    # -- JobStaging, ReceivesSignedPuts --------------------------------------------------------------
    def staging_location(self, prefix: str) -> str:
        return self._staged.location(prefix)

    def staged_sizes(self, prefix: str, names: Sequence[str]) -> dict[str, int]:
        return self._staged.sizes(prefix, names)

    def signature(self, key: str, size: int, expires_at: int) -> str:
        return self._staged.signature(key, size, expires_at)

    def receive_put(self, key: str, size: int, expires_at: int, signature: str, data: bytes) -> None:
        self._staged.receive(key, size, expires_at, signature, data)
