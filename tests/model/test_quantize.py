"""The int8 variant is made from the model folder alone, the same bytes every time: the committed
file is what `python -m model.quantize` writes (where the export lock's onnx is installed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from model.metadata import MODEL_DIR, file_sha256, load_metadata
from model.quantize import AUGMENTATIONS, calibration_inputs


def test_calibration_uses_every_golden_image_under_every_augmentation() -> None:
    metadata = load_metadata()
    inputs = calibration_inputs(MODEL_DIR, metadata)
    assert inputs.shape == (6 * len(AUGMENTATIONS), 3, *metadata.input_size) and inputs.dtype == np.float32
    per_image = inputs.reshape(6, len(AUGMENTATIONS), -1)
    # every augmentation changes the pixels, and none leaves the normalised range
    assert all(np.abs(per_image[:, 0] - per_image[:, k]).mean() > 0.01 for k in range(1, len(AUGMENTATIONS)))
    assert float(np.abs(inputs).max()) <= 1.0
    np.testing.assert_array_equal(inputs, calibration_inputs(MODEL_DIR, metadata))  # deterministic


def test_quantizing_the_folder_again_gives_the_committed_bytes(tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="quantizing needs the export lock (onnx, sympy)")
    from model.quantize import quantize_folder

    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder, ignore=shutil.ignore_patterns("*.int8.onnx", "*.py", "__pycache__"))
    variant = quantize_folder(folder)
    committed = load_metadata().variants["int8"]
    assert variant.sha256 == committed.sha256 == file_sha256(MODEL_DIR / committed.file)
    assert load_metadata(folder / "metadata.json").variants["int8"] == committed
