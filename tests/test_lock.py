"""The lock the instances install from pins what the tests run (a drifted lock ships untested code)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-openvino.lock"])
def test_every_locked_package_is_installed_here_at_its_pinned_version(lock: str) -> None:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / lock).read_text(), flags=re.MULTILINE))
    assert "uvicorn" in pins and "onnxruntime" in pins
    assert ("openvino" in pins) == ("openvino" in lock)
    drifted = {}
    for name, pinned in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. a platform-specific dependency of another platform
        if installed != pinned:
            drifted[name] = f"locked {pinned}, installed {installed}"
    assert not drifted, f"re-run `make lock` (or install the lock): {drifted}"
