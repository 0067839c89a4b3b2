"""The wheelhouse the instances install from: every runtime dependency as a wheel for their platform.

    python -m infra.wheelhouse      # (make wheelhouse) requirements*.lock -> build/wheelhouse/,
                                    # then one bundle per lock in build/bundles/<lock>/

`requirements.lock` pins the runtime dependencies with the hashes of every file PyPI has for
them (`make lock`: uv pip compile for CPython 3.11), `requirements-openvino.lock` the same plus
the OpenVINO engine (+59 MB of wheels; a worker installs it only when the deployment's engine
needs it). The wheels are downloaded for the instances' platforms (Amazon Linux 2023, the Python
3.11 its bootstrap installs; x86_64 into build/wheelhouse/, arm64 for Graviton into
build/wheelhouse-arm64/, `infra/architecture.py`), whatever this machine is, so an instance's
`pip install` needs no package index (infra/bootstrap/bootstrap.sh: --no-index --require-hashes).

Each lock gets a bundle of its own per architecture it can serve (`stage_bundle`;
build/bundles/<lock>[-arm64]/): the lock, the wheels it pins and the service's wheel (code and
model: the model travels once, inside it), so a web instance never downloads OpenVINO. The same
source gives the same bytes: the service's wheel is built with a fixed SOURCE_DATE_EPOCH (zip
timestamps), so the same commit synthesizes the same asset hashes, launch templates and
template, and a deploy of an unchanged commit rolls nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from infra.architecture import ARCHITECTURES, WHEEL_PLATFORMS, Architecture, bundle_name, served

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
# The same pins plus the OpenVINO engine: what a worker installs when the deployment uses it.
OPENVINO_LOCK = ROOT / "requirements-openvino.lock"
LOCKS = (LOCK, OPENVINO_LOCK)
WHEELHOUSE = ROOT / "build" / "wheelhouse"
BUNDLES = ROOT / "build" / "bundles"
# Any fixed time will do (the zip format starts at 1980): the wheel's bytes depend on the source only.
SOURCE_DATE_EPOCH = "315532800"
PYTHON_VERSION = "3.11"  # infra/bootstrap/bootstrap.sh installs python3.11 on AL2023


def wheelhouse_of(architecture: Architecture, x86_64: Path = WHEELHOUSE) -> Path:
    """Where the wheels of `architecture` are kept (x86_64's own directory holds the service's)."""
    return x86_64 if architecture == "x86_64" else x86_64.with_name(f"{x86_64.name}-{architecture}")


def download_command(lock: Path, out: Path, architecture: Architecture = "x86_64") -> list[str]:
    platforms = [arg for tag in WHEEL_PLATFORMS[architecture] for arg in ("--platform", tag)]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        *platforms,
        "-r",
        str(lock),
        "-d",
        str(out),
    ]


SERVICE_WHEEL = "elastic_vision-*.whl"


def build_wheelhouse(
    locks: tuple[Path, ...] = LOCKS,
    out: Path = WHEELHOUSE,
    source: Path = ROOT,
    architectures: tuple[Architecture, ...] = ARCHITECTURES,
) -> list[Path]:
    """Every lock's wheels for every architecture that can serve it (downloaded once, kept), and
    the service's own wheel (built anew, pure Python: the same file in every architecture's)."""
    for architecture in architectures:
        wheelhouse_of(architecture, out).mkdir(parents=True, exist_ok=True)
        for lock in locks:
            if served(lock.name, architecture):
                command = download_command(lock, wheelhouse_of(architecture, out), architecture)
                subprocess.run(command, check=True)
    service = build_service_wheel(source, out)
    for architecture in architectures:
        if architecture != "x86_64":
            other = wheelhouse_of(architecture, out)
            for stale in other.glob(SERVICE_WHEEL):
                stale.unlink()
            _link(service, other / service.name)
    pinned = {line.split("==")[0] for lock in locks for line in lock.read_text().splitlines() if "==" in line}
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) < len(pinned) + 1:
        raise RuntimeError(f"{out}: {len(wheels)} wheels for {len(pinned)} pinned packages and the service")
    return wheels


def build_service_wheel(source: Path = ROOT, out: Path = WHEELHOUSE) -> Path:
    """The service itself as a pure-Python wheel (code + model): the instance needs no build tools.

    Its bytes depend on the code that runs only: a fixed SOURCE_DATE_EPOCH (zip timestamps), the
    build backend pinned in pyproject.toml (the wheel names it), no README in the metadata, and
    file modes normalised (`normalize_modes`: a clone under umask 002 checks out 0664 files)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(SERVICE_WHEEL):
        stale.unlink()
    _clean_staging(source)  # a stale staging area could carry removed modules into the wheel
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH},
    )
    _clean_staging(source)
    [service] = out.glob(SERVICE_WHEEL)
    normalize_modes(service)
    return service


def normalize_modes(wheel: Path) -> None:
    """Rewrites `wheel` in place with every member 0644, or 0755 where its owner may execute it,
    as a checkout under umask 022 gives: the modes a clone's umask chose are not the code."""
    with zipfile.ZipFile(wheel) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    normalized = wheel.with_suffix(".normalized")
    with zipfile.ZipFile(normalized, "w") as archive:
        for info, data in members:
            mode = info.external_attr >> 16
            info.external_attr = (stat.S_IFREG | (0o755 if mode & stat.S_IXUSR else 0o644)) << 16
            archive.writestr(info, data, compress_type=info.compress_type)
    normalized.replace(wheel)


def _clean_staging(source: Path) -> None:
    """setuptools' staging directories under build/ (not ours)."""
    shutil.rmtree(source / "build" / "lib", ignore_errors=True)
    for staging in (source / "build").glob("bdist.*"):
        shutil.rmtree(staging, ignore_errors=True)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def pinned(lock: Path) -> dict[str, str]:
    """The lock's pins: normalized name -> version."""
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            pins[_normalized(name.split("[")[0])] = rest.split()[0].rstrip("\\").strip()
    return pins


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def stage_bundle(
    lock: Path, wheelhouse: Path = WHEELHOUSE, out: Path = BUNDLES, architecture: Architecture = "x86_64"
) -> Path:
    """`out/<bundle_name>/`: the lock, and build/wheelhouse/ with the wheels it pins for
    `architecture` (from `wheelhouse`, the x86_64 one: the others are beside it) and the service's
    own; the layout infra/bootstrap/bootstrap.sh installs from, whatever the architecture. Files
    are hard links (copies across file systems) of the wheelhouse's."""
    wheelhouse = wheelhouse_of(architecture, wheelhouse)
    pins = pinned(lock)
    chosen = []
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        if pins.get(_normalized(name)) == version or wheel.match(SERVICE_WHEEL):
            chosen.append(wheel)
    missing = set(pins) - {_normalized(w.name.split("-")[0]) for w in chosen}
    if missing:
        raise RuntimeError(f"{wheelhouse} has no wheel for {sorted(missing)} of {lock.name}")
    bundle = out / bundle_name(lock.name, architecture)
    shutil.rmtree(bundle, ignore_errors=True)
    (bundle / "build" / "wheelhouse").mkdir(parents=True)
    for source, target in [
        (lock, bundle / lock.name),
        *((w, bundle / "build" / "wheelhouse" / w.name) for w in chosen),
    ]:
        _link(source, target)
    return bundle


def main() -> int:
    wheels = build_wheelhouse()
    size = sum(w.stat().st_size for w in wheels) / 1e6
    print(f"wheelhouse: {len(wheels)} wheels, {size:.0f} MB in {WHEELHOUSE}")
    for architecture, lock in [(a, lock) for a in ARCHITECTURES for lock in LOCKS if served(lock.name, a)]:
        bundle = stage_bundle(lock, architecture=architecture)
        files = [p for p in bundle.rglob("*") if p.is_file()]
        print(
            f"bundle {bundle.name}: {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
