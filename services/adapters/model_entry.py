"""A registry entry as JSON: the same bytes in every backend's registry."""

from __future__ import annotations

import json

from services.ports.models import RegisteredModel

ENTRY = "entry.json"  # written after the model's files: a listed model is whole


def entry_json(entry: RegisteredModel) -> bytes:
    return json.dumps(
        {
            "name": entry.name,
            "version": entry.version,
            "size_bytes": entry.size_bytes,
            "engines": list(entry.engines),
            "images_per_second": dict(entry.images_per_second),
            "added_at": entry.added_at,
        }
    ).encode()


def entry_from(data: bytes) -> RegisteredModel:
    raw = json.loads(data)
    return RegisteredModel(
        name=raw["name"],
        version=raw["version"],
        size_bytes=int(raw["size_bytes"]),
        engines=tuple(raw["engines"]),
        images_per_second={k: float(v) for k, v in raw["images_per_second"].items()},
        added_at=float(raw["added_at"]),
    )
