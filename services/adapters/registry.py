"""Opens the backend `EVISION_BACKEND` names; each is a package under `services/adapters/`.

A backend package exposes `plugin` (a `services.ports.backend.BackendPlugin`) in its `__init__`;
adding a backend is a new package and one line in `services/backend_names.py` (README: "Adding a backend").
Packages are imported on first use, so a process loads only the backend it runs (boto3 stays out
of a local worker).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from services.ports.backend import Backend, BackendPlugin
    from services.settings import BackendSettings

from services.backend_names import BACKENDS, DEFAULT_BACKEND, backend_names

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "backend_names", "open_backend", "plugin"]


def plugin(name: str) -> BackendPlugin:
    try:
        module = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}") from None
    return cast("BackendPlugin", importlib.import_module(module).plugin)


def open_backend(settings: BackendSettings) -> Backend:
    """The backend `settings.backend` names, for this process (close it when done)."""
    return plugin(settings.backend).open(settings)
