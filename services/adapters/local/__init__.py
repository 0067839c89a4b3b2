"""The embedded `local` backend (files + SQLite): the registry's entry point is `plugin`."""

from __future__ import annotations

from contextlib import AbstractContextManager

from services.ports.backend import Backend, RunningEmulator
from services.settings import BackendSettings


class _LocalPlugin:
    def open(self, settings: BackendSettings) -> Backend:
        from services.adapters.local.backend import open_local

        return open_local(settings)

    def emulator(self, *, own_process: bool = False) -> AbstractContextManager[RunningEmulator] | None:
        return None  # nothing to emulate: the backend is embedded


plugin = _LocalPlugin()
