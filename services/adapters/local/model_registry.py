"""The local model registry: one folder per model under `<data_dir>/models/<name>@<version>/`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from services.adapters.model_entry import ENTRY, entry_from, entry_json
from services.adapters.names import check_name
from services.ports.models import RegisteredModel


class LocalModelRegistry:
    def __init__(self, data_dir: Path) -> None:
        self._root = data_dir / "models"

    def publish(self, entry: RegisteredModel, folder: Path, files: Sequence[str]) -> None:
        target = self._root / check_name(entry.ref.replace("@", "-at-"), "model reference")
        staging = target.with_name(f".staging-{target.name}-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        for relative in files:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / relative, staging / relative)
        (staging / ENTRY).write_bytes(entry_json(entry))
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # whole, or not there

    def entries(self) -> list[RegisteredModel]:
        if not self._root.is_dir():
            return []
        found = [
            entry_from((d / ENTRY).read_bytes())
            for d in sorted(self._root.iterdir())
            if (d / ENTRY).is_file()
        ]
        return sorted(found, key=lambda e: (e.name, e.added_at))

    def download(self, ref: str, into: Path) -> Path:
        source = self._root / ref.replace("@", "-at-")
        if not (source / ENTRY).is_file():
            raise LookupError(f"no model {ref} in {self._root}")
        target = into / source.name
        shutil.copytree(source, target, dirs_exist_ok=True)
        return target
