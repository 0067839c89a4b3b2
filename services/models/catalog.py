"""The deployment's models: registering a checked folder, and what GET /v1/models lists.

A folder is registered only if `evision model check` passes it; its entry records the engines
its golden images agreed on and one thread's images/s where it was checked. The model the
workers load by default (the committed EfficientNet-Lite0) is listed first, as `default`.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel

from model import MODEL_DIR, CheckReport, check_model_folder, load_metadata
from services.ports.models import ModelRegistry, RegisteredModel


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
