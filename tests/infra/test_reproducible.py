"""The same commit synthesizes the same bytes: the bundles are rebuilt byte for byte, so their
asset hashes, the launch templates that name them, and the whole template do not change, and a
deploy of an unchanged commit rolls nothing; whatever the clone's umask, and whatever its docs say
(a README-only commit rolls no instance)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.architecture import ARCHITECTURES, bundle_name, served
from infra.wheelhouse import LOCKS, SERVICE_WHEEL, build_service_wheel, stage_bundle, wheelhouse_of
from infra.wheelhouse import main as make_wheelhouse
from tests.infra.synthesis import ROOT, STACK

LAUNCH_TEMPLATE = "AWS::EC2::LaunchTemplate"


def _clone(target: Path, umask: int) -> Path:
    """`git clone` of this checkout's HEAD under `umask` (files 0664 under 002, 0644 under 022)."""
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(target)],
        check=True,
        preexec_fn=lambda: os.umask(umask),
    )
    return target


def _synthesize_clone(clone: Path) -> dict[str, Any]:
    """What `make synth` does in `clone`: its own service wheel and bundles (the instances' other
    wheels linked from this checkout's wheelhouse: downloads, not the clone's code), then
    `python app.py` with cdk.json's context, in a process of its own."""
    for architecture in ARCHITECTURES:
        mine = wheelhouse_of(architecture)
        theirs = wheelhouse_of(architecture, clone / "build" / "wheelhouse")
        theirs.mkdir(parents=True, exist_ok=True)
        for wheel in mine.glob("*.whl"):
            if not wheel.match(SERVICE_WHEEL):
                os.link(wheel, theirs / wheel.name)
    service = build_service_wheel(clone, clone / "build" / "wheelhouse")
    for architecture in ARCHITECTURES:
        if architecture != "x86_64":
            shutil.copy(service, wheelhouse_of(architecture, clone / "build" / "wheelhouse"))
        for lock in LOCKS:
            if served(lock.name, architecture):
                stage_bundle(
                    clone / lock.name,
                    wheelhouse=clone / "build" / "wheelhouse",
                    out=clone / "build" / "bundles",
                    architecture=architecture,
                )
    assert (clone / "build" / "bundles" / bundle_name("requirements.lock", "x86_64")).is_dir()
    outdir = clone / "cdk.out"
    context = json.loads((clone / "cdk.json").read_text())["context"]
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    subprocess.run([sys.executable, "app.py"], cwd=clone, env=env, check=True, capture_output=True)
    template: dict[str, Any] = json.loads((outdir / f"{STACK}.template.json").read_text())
    return template


@pytest.mark.slow
def test_two_clones_under_other_umasks_and_a_readme_edit_synthesize_identical_launch_templates(
    tmp_path: Path,
) -> None:
    make_wheelhouse()  # this checkout's wheelhouse: the instances' third-party wheels
    docs_edit = _clone(tmp_path / "umask-002", 0o002)
    with (docs_edit / "README.md").open("a") as readme:
        readme.write("\nA documentation-only edit.\n")
    plain = _clone(tmp_path / "umask-022", 0o022)
    assert (docs_edit / "services" / "cli.py").stat().st_mode & 0o777 == 0o664  # the umask took
    assert (plain / "services" / "cli.py").stat().st_mode & 0o777 == 0o644

    templates = [_synthesize_clone(clone) for clone in (docs_edit, plain)]

    wheels = [next((c / "build" / "wheelhouse").glob(SERVICE_WHEEL)).read_bytes() for c in (docs_edit, plain)]
    assert wheels[0] == wheels[1]
    launch = [{k: r for k, r in t["Resources"].items() if r["Type"] == LAUNCH_TEMPLATE} for t in templates]
    assert len(launch[0]) >= 2  # web and workers
    assert launch[0] == launch[1]
    assert templates[0] == templates[1]
