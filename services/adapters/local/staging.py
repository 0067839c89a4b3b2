"""Staged job uploads on the local file system: plain files under `<data_dir>/staged/<bucket>/`.

A job reads them as a folder (`FolderSource`), so they are the image bytes alone (not blob files
with a header). The web tier receives each PUT itself (the local backend has no endpoint of its
own): it is signed here with an HMAC key kept in the data dir (shared by every process of one
`evision up`), over the key, the exact size and the expiry; a PUT is written to a temporary file
and renamed, so a key that is there is whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from services.ports.staging import SignatureRefusedError

KEY_FILE = ".signing-key"


class StagedFolder:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _signing_key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._root.mkdir(parents=True, exist_ok=True)
                path = self._root / KEY_FILE
                try:  # the first process creates it; the others read it
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    key = b""
                    while len(key) < 32:  # its creator may still be writing it
                        key = path.read_bytes()
                        if len(key) < 32:
                            time.sleep(0.01)
                else:
                    key = secrets.token_bytes(32)
                    with os.fdopen(fd, "wb") as file:
                        file.write(key)
                self._key = key[:32]
            return self._key

    def _path(self, key: str) -> Path:
        root = self._root.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root) or path == root:
            raise SignatureRefusedError(f"{key!r} is outside the staging area")
        return path

    def location(self, prefix: str) -> str:
        folder = self._root / prefix
        folder.mkdir(parents=True, exist_ok=True)  # a job over nothing staged yet lists nothing
        return str(folder.resolve())

    def sizes(self, prefix: str, names: Sequence[str]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for name in names:
            try:
                sizes[name] = (self._root / prefix / name).stat().st_size
            except (FileNotFoundError, NotADirectoryError):
                continue
        return sizes

    def signature(self, key: str, size: int, expires_at: int) -> str:
        message = f"PUT\n{key}\n{size}\n{expires_at}".encode()
        return hmac.new(self._signing_key(), message, hashlib.sha256).hexdigest()

    def receive(self, key: str, size: int, expires_at: int, signature: str, data: bytes) -> None:
        if not hmac.compare_digest(self.signature(key, size, expires_at), signature):
            raise SignatureRefusedError("the signature does not match this key, size and expiry")
        if time.time() > expires_at:
            raise SignatureRefusedError("the signed URL has expired: ask for a new one")
        if len(data) != size:
            raise SignatureRefusedError(f"the URL is signed for {size} bytes, not {len(data)}")
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            tmp.write_bytes(data)
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def delete_older_than(self, cutoff: float) -> int:
        """Delete the staged files last written before `cutoff` (as the input bucket's expiry
        deletes them in S3), and the folders that leaves empty; how many files went."""
        removed = 0
        if not self._root.is_dir():
            return 0
        for directory, _, names in os.walk(self._root, topdown=False):
            for name in names:
                path = Path(directory) / name
                if path.parent == self._root and name == KEY_FILE:
                    continue
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
            if Path(directory) != self._root:
                with contextlib.suppress(OSError):
                    Path(directory).rmdir()  # only if empty
        return removed
