from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.adapters.registry import open_backend
from services.ports.backend import Backend
from tests.fixtures import WEB_REPLY_QUEUE, settings_for


@pytest.fixture
def replies_backend(tmp_path: Path) -> Iterator[Backend]:
    """A local backend with a reply queue."""
    settings = settings_for("local", tmp_path / "data")
    backend = open_backend(settings)
    backend.storage.provision(settings, reply_queues=[WEB_REPLY_QUEUE])
    yield backend
    backend.close()
