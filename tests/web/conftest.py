from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.adapters.factory import Backend, make_backend
from tests.conftest import settings_for

REPLY_QUEUE = "replies-test"


@pytest.fixture
def replies_backend(tmp_path: Path) -> Iterator[Backend]:
    """A local backend with a reply queue."""
    settings = settings_for("local", tmp_path / "data")
    backend = make_backend(settings)
    backend.ensure(settings, reply_queues=[REPLY_QUEUE])
    yield backend
    backend.close()
