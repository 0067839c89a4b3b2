"""The model registry role: where the deployment keeps its models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A model in the deployment's registry: what `evision model list` and GET /v1/models show."""

    name: str
    version: str  # the first 12 hex digits of the model file's sha256
    size_bytes: int
    engines: tuple[str, ...]  # the engines its golden images agreed on when it was added
    images_per_second: Mapping[str, float]  # one thread, on the machine that added it
    added_at: float

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class ModelRegistry(Protocol):
    """Where the deployment keeps its models (folders, as model/ describes them): locally under
    the data dir, in the cloud under a prefix of the output bucket."""

    def publish(self, entry: RegisteredModel, folder: Path, files: Sequence[str]) -> None:
        """Store `files` (relative to `folder`) under `entry.ref`, the entry last (so a listed
        model is always whole). Idempotent."""
        ...

    def entries(self) -> list[RegisteredModel]: ...

    def download(self, ref: str, into: Path) -> Path:
        """The model's folder, copied under `into` (LookupError: no such model)."""
        ...
