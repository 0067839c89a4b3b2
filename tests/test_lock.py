"""The locks pin what the tests run: the instances' lock is what this environment has (a drifted
lock ships untested code), and this environment is the dev lock (`make install-dev` installs
exactly it, so a fresh clone on any later day tests the same versions)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)(?:\s*;\s*([^\\#]+?))?\s*\\?$", flags=re.MULTILINE)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    """The lock's pins that apply to this interpreter (a universal lock names some twice, by marker)."""
    found = {}
    for name, version, marker in PIN.findall((ROOT / lock).read_text()):
        if not marker or Marker(marker).evaluate():
            found[_normalized(name)] = version
    return found


def _drifted(locked: dict[str, str]) -> dict[str, str]:
    drifted = {}
    for name, pinned in locked.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. a platform-specific dependency of another platform
        if installed != pinned:
            drifted[name] = f"locked {pinned}, installed {installed}"
    return drifted


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-openvino.lock"])
def test_every_locked_package_is_installed_here_at_its_pinned_version(lock: str) -> None:
    locked = pins(lock)
    assert "uvicorn" in locked and "onnxruntime" in locked
    assert ("openvino" in locked) == ("openvino" in lock)
    assert not _drifted(locked), f"re-run `make lock` (or `make install-dev`): {_drifted(locked)}"


def test_the_dev_environment_is_exactly_the_dev_lock() -> None:
    locked = pins("requirements-dev.lock")
    assert {"pytest", "mypy", "aws-cdk-lib", "moto", "boto3"} <= locked.keys()
    missing = {name for name in locked if not _installed(name)}
    assert not missing, f"`make install-dev` installs the dev lock; not installed: {sorted(missing)}"
    assert not _drifted(locked), f"`make install-dev` installs the dev lock: {_drifted(locked)}"


@pytest.mark.parametrize(
    "lock", ["requirements.lock", "requirements-openvino.lock", "requirements-export.lock"]
)
def test_every_lock_agrees_with_the_dev_lock(lock: str) -> None:
    """Each lock is compiled within the dev lock's pins (`make lock`), so no two disagree."""
    dev = pins("requirements-dev.lock")
    disagree = {n: (v, dev[n]) for n, v in pins(lock).items() if n in dev and dev[n] != v}
    assert not disagree, f"{lock} vs requirements-dev.lock: {disagree}"


def test_the_export_lock_leaves_torch_to_the_cpu_build() -> None:
    """torch is the CPU build from this machine's disk (`make models`); the index's build would
    bring several GB of CUDA packages."""
    names = pins("requirements-export.lock").keys()
    assert {"onnx", "efficientnet-lite-pytorch"} <= names
    assert not [n for n in names if n == "torch" or n.startswith(("nvidia-", "cuda-", "triton"))]


def test_the_build_backend_is_one_pinned_release_the_dev_lock_agrees_with() -> None:
    """The wheel records the backend that built it: a floating backend moves the bundle's bytes."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    [backend] = requires
    name, _, version = backend.partition("==")
    assert version, f"pin the build backend exactly: {backend!r}"
    locks = [p.name for p in ROOT.glob("requirements*.lock")]
    named = {lock: pins(lock)[_normalized(name)] for lock in locks if _normalized(name) in pins(lock)}
    assert named, f"no lock names {name} (the export lock does, through torch)"
    assert set(named.values()) == {version}, f"{backend} vs the locks: {named}"


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True
