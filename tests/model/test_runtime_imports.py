"""The runtime needs onnxruntime, numpy and Pillow only; the web tier's imports stay stdlib-only."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(output.stdout.split())


def test_classifier_does_not_import_torch() -> None:
    loaded = _modules_after("import model.classifier, model.golden\nmodel.classifier.Classifier()")
    assert "onnxruntime" in loaded  # the probe really imported the runtime
    assert not {"torch", "onnx", "pydantic", "skimage", "sklearn"} & loaded


def test_formats_and_errors_import_only_the_standard_library() -> None:
    loaded = _modules_after("import model.formats, model.errors")
    assert "model.formats" in loaded
    assert not {"PIL", "numpy", "onnxruntime"} & loaded


def test_the_public_entry_loads_lazily_what_a_name_needs() -> None:
    """The web tier sniffs formats through `model`'s public entry: no NumPy, Pillow or ONNX Runtime."""
    loaded = _modules_after("from model import InvalidImageError, sniff")
    assert "model.formats" in loaded
    assert not {"PIL", "numpy", "onnxruntime", "model.classifier"} & loaded
