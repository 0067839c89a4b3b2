"""The backends by name: `EVISION_BACKEND` picks one; each is a package under `services/adapters/`.

A leaf module of `services/` (it imports nothing), below both the settings, which validate a
backend's name with it, and the adapters' registry, which opens the package it names: so neither
the settings reach up into the adapters nor the registry and the settings form a cycle.
"""

from __future__ import annotations

BACKENDS: dict[str, str] = {
    "local": "services.adapters.local",  # embedded: files + SQLite, no server (the default)
    "aws": "services.adapters.aws",  # S3 + SQS (+ Auto Scaling), or any endpoint speaking their APIs
}
DEFAULT_BACKEND = "local"


def backend_names() -> tuple[str, ...]:
    return tuple(BACKENDS)
