"""Graviton (arm64): the image and the wheelhouse follow the instance type, or synthesis refuses
it with one line (the OpenVINO engine, whose aarch64 wheels need a newer glibc than AL2023's)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.architecture import UNSERVED, WHEEL_PLATFORMS, architecture_of
from infra.config import ServiceConfig
from infra.wheelhouse import LOCK, OPENVINO_LOCK, WHEELHOUSE, download_command, pinned, wheelhouse_of
from tests.infra.synthesis import Synthesized, synthesize

GRAVITON_CONTEXT = {"workerInstanceType": "c7g.large", "webInstanceType": "t4g.small"}


@pytest.fixture(scope="module")
def synthesized_graviton(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory, GRAVITON_CONTEXT)


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [
        ("c7g.large", "arm64"),
        ("t4g.small", "arm64"),
        ("m7gd.xlarge", "arm64"),
        ("c7gn.large", "arm64"),
        ("g5g.xlarge", "arm64"),
        ("a1.large", "arm64"),
        ("c7i.large", "x86_64"),
        ("c7i-flex.large", "x86_64"),
        ("t3.small", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("m6a.large", "x86_64"),
    ],
)
def test_the_architecture_follows_the_instance_type_name(instance_type: str, architecture: str) -> None:
    assert architecture_of(instance_type) == architecture


def test_a_graviton_worker_on_openvino_or_a_bad_type_name_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"workerInstanceType=c7g\.large is arm64: .*glibc") as refused:
        ServiceConfig.for_stage("dev", {"workerInstanceType": "c7g.large", "engine": "openvino"})
    assert "\n" not in str(refused.value)
    with pytest.raises(ValueError, match="webInstanceType: 't4g' is not an EC2 instance type"):
        ServiceConfig.for_stage("dev", {"webInstanceType": "t4g"})
    config = ServiceConfig.for_stage("dev", {"workerInstanceType": "c7g.large"})
    assert (config.worker_architecture, config.web_architecture) == ("arm64", "x86_64")


def _launch_template_image(synthesized: Synthesized, role: str) -> str:
    """The SSM parameter path the `role` group's launch template takes its image from."""
    for name, resource in synthesized.of_type("AWS::EC2::LaunchTemplate").items():
        if role in name.lower():
            image = resource["Properties"]["LaunchTemplateData"]["ImageId"]
            default: str = synthesized.template["Parameters"][image["Ref"]]["Default"]
            return default
    raise AssertionError(f"no launch template for {role}")


def _bundle_wheels(synthesized: Synthesized) -> dict[str, list[str]]:
    """Each staged bundle asset's directory name -> its wheels."""
    bundles: dict[str, list[str]] = {}
    for asset in synthesized.assets["files"].values():
        staged: Path = synthesized.outdir / asset["source"]["path"]
        if (staged / "build" / "wheelhouse").is_dir():
            bundles[staged.name] = sorted(w.name for w in (staged / "build" / "wheelhouse").glob("*.whl"))
    return bundles


def test_graviton_tiers_get_the_arm64_image_and_aarch64_wheels(
    synthesized_graviton: Synthesized, synthesized: Synthesized
) -> None:
    for role in ("worker", "web"):
        assert _launch_template_image(synthesized_graviton, role).endswith("-arm64")
        assert _launch_template_image(synthesized, role).endswith("-x86_64")
    [wheels] = _bundle_wheels(synthesized_graviton).values()  # one bundle: both tiers on arm64
    assert len(wheels) == len(pinned(LOCK)) + 1
    assert all(w.endswith(("aarch64.whl", "-none-any.whl")) for w in wheels), wheels
    assert any(w.startswith("onnxruntime-") and w.endswith("aarch64.whl") for w in wheels)
    [x86] = _bundle_wheels(synthesized).values()
    assert not any(w.endswith("aarch64.whl") for w in x86)


def test_every_locked_runtime_package_has_an_aarch64_build_and_openvino_still_has_none() -> None:
    """The wheelhouse make wheelhouse staged for arm64 holds every pin of the lock; the OpenVINO
    refusal's reason still holds on the package index (else lift it in infra/architecture.py)."""
    arm64 = wheelhouse_of("arm64", WHEELHOUSE)
    wheels = {w.name.split("-")[0].lower().replace(".", "_"): w.name for w in arm64.glob("*.whl")}
    for name, version in pinned(LOCK).items():
        assert name in wheels and f"-{version}-" in wheels[name], name
        assert wheels[name].endswith(("aarch64.whl", "-none-any.whl")), wheels[name]
    assert ("arm64", OPENVINO_LOCK.name) in UNSERVED
    openvino = {"openvino": pinned(OPENVINO_LOCK)["openvino"]}
    requirement = arm64.parent / "openvino-only.txt"
    requirement.write_text(f"openvino=={openvino['openvino']}\n")
    command = [
        a for a in download_command(requirement, arm64.parent / "probe", "arm64") if a != "--require-hashes"
    ]
    probe = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert probe.returncode != 0 and "No matching distribution" in probe.stderr, probe.stderr[-500:]
    assert WHEEL_PLATFORMS["arm64"][0] == "manylinux_2_34_aarch64"  # AL2023's glibc, the newest tag
