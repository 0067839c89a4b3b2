"""The backends by name: `EVISION_BACKEND` picks one; each is a package under `services/adapters/`.

A leaf module (it imports nothing), so that the settings can validate a backend's name without
loading the registry, and the registry can name the settings without a cycle.
"""

from __future__ import annotations

BACKENDS: dict[str, str] = {
    "local": "services.adapters.local",  # embedded: files + SQLite, no server (the default)
    "aws": "services.adapters.aws",  # S3 + SQS (+ Auto Scaling), or any endpoint speaking their APIs
}
DEFAULT_BACKEND = "local"


def backend_names() -> tuple[str, ...]:
    return tuple(BACKENDS)
