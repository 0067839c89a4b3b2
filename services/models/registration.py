"""Registering a model folder: only if `evision model check` passes it. Its entry records the
engines its golden images agreed on and one thread's images/s where it was checked.

Apart from the catalog because the check runs the model (NumPy and the engines), which the web
tier, listing the catalog, never loads.
"""

from __future__ import annotations

import time
from pathlib import Path

from model import CheckReport, check_model_folder
from services.ports.models import ModelRegistry, RegisteredModel


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
