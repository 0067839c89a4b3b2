"""The model registry on both backends: a checked folder is registered whole, listed, and
downloaded as a folder that passes the check again; a folder that fails is refused in one line
and never listed. `evision model add|list` and GET /v1/models show the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from model import MODEL_DIR, check_model_folder, load_metadata
from services.models.catalog import catalog
from services.models.registration import register
from services.ports.backend import Backend
from services.settings import BackendSettings
from tests.fixtures import clean_environment, running_up

LITE0 = load_metadata(MODEL_DIR / "metadata.json").short_name


def test_a_checked_folder_is_registered_listed_and_downloaded_whole(backend: Backend, tmp_path: Path) -> None:
    registry = backend.models
    entry, report = register(MODEL_DIR, registry)
    assert entry is not None and report.ok and entry.ref == LITE0
    assert set(entry.engines) == set(report.images_per_second) and entry.size_bytes > 10_000_000
    assert [e.ref for e in registry.entries()] == [LITE0]
    folder = registry.download(LITE0, tmp_path / "downloaded")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(
        [*report.files, "entry.json"]
    )
    assert check_model_folder(folder).ok
    [listed] = catalog(registry)  # the default model, now with its registry facts
    assert listed.default and listed.model == LITE0 and listed.size_bytes == entry.size_bytes
    with pytest.raises(LookupError):
        registry.download("no-such-model@000000000000", tmp_path / "x")


def test_a_folder_that_fails_the_check_is_refused_and_not_listed(backend: Backend, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(MODEL_DIR, broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    labels = broken / "labels.txt"
    labels.write_text("\n".join(labels.read_text().splitlines()[:999]) + "\n")
    registry = backend.models
    entry, report = register(broken, registry)
    assert entry is None and len(report.failures) == 1 and "labels" in report.failures[0]
    assert registry.entries() == []


def test_model_add_and_list_on_the_command_line_and_get_v1_models(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = BackendSettings.from_values(data_dir=data)
    command = [sys.executable, "-m", "services.cli", "model"]
    env = clean_environment(settings)
    added = subprocess.run(
        [*command, "add", str(MODEL_DIR)], env=env, capture_output=True, text=True, timeout=300
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"registered {LITE0}" in added.stdout
    listed = subprocess.run(
        [*command, "list", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    [model] = json.loads(listed.stdout)
    assert model["model"] == LITE0 and model["default"] and model["engines"]
    with running_up(data, "--workers", "0") as up:
        served = httpx.get(f"{up.url}/v1/models").json()
    assert [m["model"] for m in served] == [LITE0] and served[0]["size_bytes"] == model["size_bytes"]
