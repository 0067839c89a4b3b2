"""The documentation site builds offline with every warning an error (broken links and anchors
included), and its reference pages name every `EVISION_` setting, every CDK context key, every
`evision` command and every HTTP operation the code has."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.config import CONTEXT_KEYS
from services.cli import COMMANDS
from services.settings import EvisionSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_MODULES = (
    "services.settings",
    "services.log_config",
    "services.web.settings",
    "services.worker.settings",
    "services.elasticity.supervisor",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def _text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text()))


def _settings_classes() -> Iterator[type[EvisionSettings]]:
    import importlib

    for module in SETTINGS_MODULES:
        importlib.import_module(module)
    pending = [EvisionSettings]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


def test_every_settings_class_in_the_code_is_one_this_test_knows() -> None:
    """A settings class in a module this test does not import would escape the next test."""
    declared = set()
    for path in (ROOT / "services").rglob("*.py"):
        declared |= set(
            re.findall(r"^class (\w+Settings)\((?!Protocol)", path.read_text(), flags=re.MULTILINE)
        )
    assert declared <= {cls.__name__ for cls in _settings_classes()}


def test_every_setting_is_in_the_settings_reference(site: Path) -> None:
    page = _text(site / "reference" / "settings" / "index.html")
    variables = {cls.variable(name) for cls in _settings_classes() for name in cls.model_fields}
    assert len(variables) > 60
    missing = sorted(v for v in variables if v not in page)
    assert not missing, f"not in the settings reference: {missing}"


def test_every_context_key_is_in_the_context_reference(site: Path) -> None:
    page = _text(site / "reference" / "context" / "index.html")
    missing = sorted(key for key in ["stage", *CONTEXT_KEYS] if f" {key} " not in page)
    assert not missing, f"not in the context reference: {missing}"


def test_every_command_and_operation_is_in_the_reference(site: Path) -> None:
    cli = _text(site / "reference" / "cli" / "index.html")
    assert not [name for name in COMMANDS if f"evision {name}" not in cli]
    http = _text(site / "reference" / "http" / "index.html")
    for operation in ("POST /upload", "POST /v1/classify", "GET /v1/results/", "POST /v1/jobs"):
        assert operation in http


def test_the_site_loads_nothing_from_elsewhere(site: Path) -> None:
    """Offline: no font, script or style sheet from a CDN (links to read are fine)."""
    loads = re.compile(r"""<(?:script|link|img)\b[^>]*(?:src|href)=["'](https?:)?//""")
    outside = [str(p.relative_to(site)) for p in site.rglob("*.html") if loads.search(p.read_text())]
    assert not outside, f"pages loading from elsewhere: {outside}"
