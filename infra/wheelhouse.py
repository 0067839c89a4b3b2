"""The wheelhouse the instances install from: every runtime dependency as a wheel for their platform.

    python -m infra.wheelhouse      # (make wheelhouse) requirements*.lock -> build/wheelhouse/

`requirements.lock` pins the runtime dependencies with their hashes (`make lock`: uv pip compile
for CPython 3.11 on manylinux x86_64), `requirements-openvino.lock` the same plus the OpenVINO
engine (+59 MB of wheels; a worker installs it only when the deployment's engine needs it). The
wheels are downloaded for the instances' platform
(Amazon Linux 2023, x86_64, the Python 3.11 its bootstrap installs), whatever this machine is. The
service bundle carries both, so an instance's `pip install` needs no package index
(infra/bootstrap/bootstrap.sh: --no-index --require-hashes).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
# The same pins plus the OpenVINO engine: what a worker installs when the deployment uses it.
OPENVINO_LOCK = ROOT / "requirements-openvino.lock"
LOCKS = (LOCK, OPENVINO_LOCK)
WHEELHOUSE = ROOT / "build" / "wheelhouse"
PYTHON_VERSION = "3.11"  # infra/bootstrap/bootstrap.sh installs python3.11 on AL2023
# AL2023 has glibc 2.34: any of these manylinux tags runs there.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def download_command(lock: Path, out: Path) -> list[str]:
    platforms = [arg for tag in PLATFORMS for arg in ("--platform", tag)]
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
    locks: tuple[Path, ...] = LOCKS, out: Path = WHEELHOUSE, source: Path = ROOT
) -> list[Path]:
    """Every lock's wheels (downloaded once, kept) and the service's own wheel (built anew)."""
    out.mkdir(parents=True, exist_ok=True)
    for lock in locks:
        subprocess.run(download_command(lock, out), check=True)
    for stale in out.glob(SERVICE_WHEEL):
        stale.unlink()
    # The service itself as a pure-Python wheel (code + model): the instance needs no build tools.
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
    )
    shutil.rmtree(source / "build" / "lib", ignore_errors=True)  # setuptools' staging, not ours
    pinned = {line.split("==")[0] for lock in locks for line in lock.read_text().splitlines() if "==" in line}
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) < len(pinned) + 1:
        raise RuntimeError(f"{out}: {len(wheels)} wheels for {len(pinned)} pinned packages and the service")
    return wheels


def main() -> int:
    wheels = build_wheelhouse()
    size = sum(w.stat().st_size for w in wheels) / 1e6
    print(f"wheelhouse: {len(wheels)} wheels, {size:.0f} MB in {WHEELHOUSE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
