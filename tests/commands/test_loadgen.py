"""`evision loadgen` end to end through the CLI dispatcher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli import main
from tests.fixtures import FakeService, fake_upload_service, write_images


@pytest.fixture
def service() -> Iterator[FakeService]:
    """A fake upload service (tests/fixtures.py) of this test's own."""
    with fake_upload_service() as running:
        yield running


def test_cli_writes_json_and_exits_zero_when_all_right(service: FakeService, tmp_path: Path) -> None:
    images = write_images(tmp_path / "img", "cat.jpg", "dog.jpg")
    labels = tmp_path / "labels.csv"
    labels.write_text("cat.jpg,tabby\ndog.jpg,beagle\n")
    out = tmp_path / "out.json"
    argv = ["loadgen", "--url", service.url, "--images", str(images), "-n", "6", "-c", "2"]
    code = main([*argv, "--expect", str(labels), "--json", str(out), "--warmup", "2", "--no-progress"])

    assert code == 0
    summary = json.loads(out.read_text())
    assert summary["sent"] == summary["ok"] == 6
    assert summary["correctness"] == {"checked": 6, "correct": 6, "accuracy": 1.0}
    assert set(summary["latency"]) == {"count", "mean", "p50", "p95", "p99", "max"}
    assert sum(service.stats.by_name.values()) == 8  # warm-up requests are sent but not counted


def test_cli_exits_one_on_errors(service: FakeService, tmp_path: Path) -> None:
    images = write_images(tmp_path / "img", "boom.jpg")
    assert main(["loadgen", "--url", service.url, "--images", str(images), "-n", "2"]) == 1


def test_cli_refuses_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["loadgen", "--url", "http://127.0.0.1:1", "--images", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
