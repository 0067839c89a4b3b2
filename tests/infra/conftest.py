"""Fixtures for the CDK tests: the whole app synthesized ONCE per session, and small bare stacks.

Synthesis of the whole app costs ~10 s and ~500 MB (field notes), so every whole-app assertion
reads the one session-scoped assembly (tests/infra/synthesis.py makes it). Per-construct tests
build one construct in a bare stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aws_cdk as cdk
import pytest

from infra.config import FEATURE_FLAGS
from tests.infra.synthesis import EVERY_OPTION_CONTEXT, FRONT_DOOR_CONTEXT, Synthesized, synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """`app.py` exactly as `python app.py` runs it (cdk-nag included), into a temporary cdk.out.

    The context is what cdk.json gives the CLI, so this is also what `make synth` produces.
    """
    return synthesize(tmp_path_factory, {})


@pytest.fixture(scope="session")
def synthesized_front_door(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app with every front-door option of `FRONT_DOOR_CONTEXT` given (cdk-nag included)."""
    return synthesize(tmp_path_factory, FRONT_DOOR_CONTEXT)


@pytest.fixture(scope="session")
def synthesized_every_option(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app with every option of `EVERY_OPTION_CONTEXT` on (cdk-nag included)."""
    return synthesize(tmp_path_factory, EVERY_OPTION_CONTEXT)


@pytest.fixture
def stack() -> cdk.Stack:
    """A bare stack (same feature flags as the app) to build one construct in."""
    return cdk.Stack(cdk.App(context=dict(FEATURE_FLAGS)), "Test")


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny stand-in for a staged bundle, so per-construct stacks do not stage the real one."""
    root = tmp_path_factory.mktemp("bundle")
    (root / "requirements.lock").write_text("")
    (root / "build" / "wheelhouse").mkdir(parents=True)
    (root / "build" / "wheelhouse" / "elastic_vision-0-py3-none-any.whl").write_bytes(b"stand-in")
    yield root
