"""The deployment's models: registering a checked folder, and what GET /v1/models lists.

A folder is registered only if `evision model check` passes it; its entry records the engines
its golden images agreed on and one thread's images/s where it was checked. The model the
workers load by default (the committed EfficientNet-Lite0) is listed first, as `default`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pydantic import BaseModel

from model import MODEL_DIR, CheckReport, check_model_folder, load_metadata
from services.ports import ModelRegistry, RegisteredModel


class ModelInfo(BaseModel):
    model: str  # name@version: what a result names
    name: str
    version: str
    size_bytes: int | None
    engines: list[str]
    images_per_second: dict[str, float]
    default: bool


def register(folder: Path, registry: ModelRegistry) -> tuple[RegisteredModel | None, CheckReport]:
    """Check `folder`, then publish it; (None, the report) if a check failed."""
    report = check_model_folder(folder)
    if not report.ok:
        return None, report
    name, _, version = report.model.partition("@")
    entry = RegisteredModel(
        name=name,
        version=version,
        size_bytes=sum((folder / relative).stat().st_size for relative in report.files),
        engines=tuple(report.images_per_second),
        images_per_second=dict(report.images_per_second),
        added_at=time.time(),
    )
    registry.publish(entry, folder, report.files)
    return entry, report


def default_model() -> ModelInfo:
    metadata = load_metadata(MODEL_DIR / "metadata.json")
    name, _, version = metadata.short_name.partition("@")
    return ModelInfo(
        model=metadata.short_name,
        name=name,
        version=version,
        size_bytes=None,
        engines=[],
        images_per_second={},
        default=True,
    )


def catalog(registry: ModelRegistry) -> list[ModelInfo]:
    """The default model first (with its registry entry's figures, if it was registered too),
    then every other registered one."""
    default = default_model()
    listed = [default]
    for entry in registry.entries():
        info = ModelInfo(
            model=entry.ref,
            name=entry.name,
            version=entry.version,
            size_bytes=entry.size_bytes,
            engines=list(entry.engines),
            images_per_second=dict(entry.images_per_second),
            default=entry.ref == default.model,
        )
        if info.default:
            listed[0] = info
        else:
            listed.append(info)
    return listed


class UnknownModelError(LookupError):
    """A model name no one registered: the message lists the known ones."""


class ModelResolver:
    """What a request's `model` means: name@version as registered, or a name for its newest
    version; None for the default. The catalog is read at most every `ttl` seconds (and again at
    once for a name it does not know, so a model registered a moment ago is found)."""

    def __init__(self, registry: ModelRegistry, ttl: float = 30.0) -> None:
        self._registry = registry
        self._ttl = ttl
        self._lock = threading.Lock()
        self._models: list[ModelInfo] = []
        self._read_at = float("-inf")

    def resolve(self, requested: str | None) -> str | None:
        """Blocking (reads the registry when stale); raises UnknownModelError."""
        if requested is None or not requested.strip():
            return None
        requested = requested.strip()
        found = _find(self.models(), requested)
        if found is None:
            models = self.models(fresh=True)  # registered a moment ago?
            found = _find(models, requested)
            if found is None:
                known = ", ".join(m.model for m in models)
                raise UnknownModelError(f"unknown model {requested!r}; known: {known}")
        return None if found.default else found.model

    def models(self, *, fresh: bool = False) -> list[ModelInfo]:
        """The catalog as last read (again once older than `ttl`, or when `fresh`): GET /v1/models
        and the resolving share one registry read."""
        with self._lock:
            if fresh or time.monotonic() - self._read_at > self._ttl:
                self._models = catalog(self._registry)
                self._read_at = time.monotonic()
            return list(self._models)


def _find(models: list[ModelInfo], requested: str) -> ModelInfo | None:
    """name@version exactly, else a name: the default model's, else its newest version."""
    exact = [m for m in models if m.model == requested]
    if exact:
        return exact[0]
    named = [m for m in models if m.name == requested]
    if named:
        return next((m for m in named if m.default), named[-1])
    return None
