"""What a request's `model` means: name@version as registered, a name for its newest version, or
None for the default (the web tier resolves before it sends; the workers get name@version)."""

from __future__ import annotations

import threading
import time

from services.models.catalog import ModelInfo, catalog
from services.models.errors import UnknownModelError
from services.ports.models import ModelRegistry


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
