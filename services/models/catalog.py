"""What GET /v1/models lists: the model the workers load by default (the committed
EfficientNet-Lite0) first, as `default`, then every registered one (services/models/registration.py).

It reads the model's metadata only, so the web tier loads neither NumPy nor an engine.
"""

from __future__ import annotations

from pydantic import BaseModel

from model import MODEL_DIR, load_metadata
from services.ports.models import ModelRegistry


class ModelInfo(BaseModel):
    model: str  # name@version: what a result names
    name: str
    version: str
    size_bytes: int | None
    engines: list[str]
    images_per_second: dict[str, float]
    default: bool


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
