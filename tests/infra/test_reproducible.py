"""The same commit synthesizes the same template: the bundles are rebuilt byte for byte (the
service's wheel with a fixed SOURCE_DATE_EPOCH), so their asset hashes, the launch templates that
name them, and the whole template do not change, and a deploy of an unchanged commit rolls
nothing."""

from __future__ import annotations

import hashlib

import pytest

from tests.infra.conftest import STACK, Synthesized, _synthesize


def _digest(synthesized: Synthesized) -> str:
    return hashlib.sha256((synthesized.outdir / f"{STACK}.template.json").read_bytes()).hexdigest()


@pytest.mark.slow
def test_two_syntheses_of_one_commit_give_byte_identical_templates(
    synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory
) -> None:
    again = _synthesize(tmp_path_factory, {})  # rebuilds the wheelhouse and the service's wheel
    assert _digest(again) == _digest(synthesized)
    assert again.assets["files"].keys() == synthesized.assets["files"].keys()  # content hashes
