"""The model folder check (`evision model check`; its command line: tests/commands/test_model.py):
the committed model folder passes; a folder with a wrong labels count, a golden image that
disagrees, or an ONNX input shape unlike its manifest fails, each in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from model import check_model_folder
from model.metadata import MODEL_DIR
from tests.fixtures import drop_a_label, linked_model_copy


def _misname_a_golden_image(folder: Path) -> None:
    golden = folder / "testdata" / "golden.json"
    records = json.loads(golden.read_text())
    records[0]["expected_label"] = "tennis ball"
    golden.write_text(json.dumps(records))


def _claim_another_input_size(folder: Path) -> None:
    manifest = folder / "metadata.json"
    raw = json.loads(manifest.read_text())
    raw["input_size"] = [240, 240]
    manifest.write_text(json.dumps(raw))


def _misstate_the_int8_hash(folder: Path) -> None:
    manifest = folder / "metadata.json"
    raw = json.loads(manifest.read_text())
    raw["variants"]["int8"]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(raw))


def _lose_the_int8_file(folder: Path) -> None:
    (folder / "efficientnet_lite0.int8.onnx").unlink()


def test_the_committed_model_folder_passes_on_every_installed_engine() -> None:
    report = check_model_folder(MODEL_DIR)
    assert report.ok, report.failures
    [int8] = [line for line in report.passed if line.startswith("onnxruntime-int8: agrees with fp32")]
    assert "top-1 5/5" in int8 and "top-5 overlap" in int8 and "max softmax difference" in int8
    assert "onnxruntime-int8" in report.images_per_second
    assert "efficientnet_lite0.int8.onnx" in report.files  # `model add` copies it with the rest
    assert report.images_per_second and all(speed > 0 for speed in report.images_per_second.values())


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (drop_a_label, "labels: "),
        (
            _misname_a_golden_image,
            "golden images on onnxruntime: 1 of 6 disagree: cat.jpg gave 'Egyptian cat'",
        ),
        (
            _claim_another_input_size,
            "the graph's input shape is [n, 3, 224, 224], the manifest says [N, 3, 240, 240]",
        ),
        (_misstate_the_int8_hash, "efficientnet_lite0.int8.onnx has another sha256 than the manifest's"),
        (_lose_the_int8_file, "int8 file "),
    ],
    ids=["labels-count", "golden-disagrees", "input-shape", "int8-hash", "int8-missing"],
)
def test_a_broken_folder_fails_with_one_line(
    tmp_path: Path, breakage: Callable[[Path], None], reason: str
) -> None:
    folder = linked_model_copy(tmp_path)
    breakage(folder)
    report = check_model_folder(folder, engine_names=["onnxruntime"])
    assert not report.ok
    [failure] = report.failures
    assert failure.startswith(reason) and "\n" not in failure, failure
