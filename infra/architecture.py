"""Which CPU architecture an instance type runs, and what the service can install there.

EC2 names a type `<family><generation><attributes>.<size>`; a `g` among the attributes means an
AWS Graviton (arm64) processor (c7g, m7gd, c7gn, t4g, g5g), as does the first Graviton family
`a1` (EC2 user guide, "Instance type naming conventions", 2026-12). The image and the wheelhouse
follow the architecture: AL2023 for arm64 and aarch64 wheels, in a bundle of their own.
"""

from __future__ import annotations

import re
from typing import Literal

Architecture = Literal["x86_64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = ("x86_64", "arm64")

_TYPE = re.compile(r"^(?P<family>[a-z]+)(?P<generation>\d+)(?P<attributes>[a-z-]*)\.(?P<size>[a-z0-9]+)$")

# The manylinux tags an AL2023 instance (glibc 2.34) installs, per architecture (PEP 600: a
# manylinux_2_X wheel needs glibc >= 2.X).
GLIBC = (2, 34)
WHEEL_PLATFORMS: dict[Architecture, tuple[str, ...]] = {
    "x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "arm64": (
        "manylinux_2_34_aarch64",
        "manylinux_2_28_aarch64",
        "manylinux_2_17_aarch64",
        "manylinux2014_aarch64",
    ),
}

# What cannot be installed on an architecture, and why (checked against PyPI when `make
# wheelhouse` downloads: the wheelhouse test asserts the reason still holds). OpenVINO 2026.4
# ships aarch64 wheels for manylinux_2_35 only (PyPI, openvino 2026.4.1 files, 2026-12-03).
UNSERVED: dict[tuple[Architecture, str], str] = {
    ("arm64", "requirements-openvino.lock"): (
        "the OpenVINO engine has no aarch64 wheel for AL2023 (its wheels need glibc 2.35; AL2023 has "
        "2.34): use engine=onnxruntime on Graviton, or an x86_64 worker type"
    ),
}


def architecture_of(instance_type: str) -> Architecture:
    """x86_64 or arm64 for an EC2 instance type name; ValueError for a name that is not one."""
    match = _TYPE.match(instance_type)
    if match is None:
        raise ValueError(f"{instance_type!r} is not an EC2 instance type (e.g. c7i.large, c7g.large)")
    if match["family"] == "a" or "g" in match["attributes"]:
        return "arm64"
    return "x86_64"


def bundle_name(lock: str, architecture: Architecture) -> str:
    """The staged bundle's directory under build/bundles/: the lock's stem, plus the architecture
    for any but x86_64 (the original layout, kept so its asset hashes do not move)."""
    stem = lock.removesuffix(".lock")
    return stem if architecture == "x86_64" else f"{stem}-{architecture}"


def served(lock: str, architecture: Architecture) -> bool:
    return (architecture, lock) not in UNSERVED
