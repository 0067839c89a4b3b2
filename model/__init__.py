"""The ImageNet classifier: the committed ONNX model, its metadata, preprocessing and batched inference.

This module is the model's one public entry: `services/` imports these names and nothing else of
`model/` (an import-rule test keeps it so). They load lazily, so a process that only sniffs an
upload's format (the web tier) never imports ONNX Runtime or NumPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.check import CheckReport as CheckReport
    from model.check import check_model_folder as check_model_folder
    from model.classifier import Classifier as Classifier
    from model.classifier import Prediction as Prediction
    from model.engine_choice import EngineChoice as EngineChoice
    from model.engine_choice import auto_engine as auto_engine
    from model.engine_choice import open_classifier as open_classifier
    from model.engines import EngineName as EngineName
    from model.errors import InvalidImageError as InvalidImageError
    from model.errors import InvalidImageKind as InvalidImageKind
    from model.formats import sniff as sniff
    from model.golden import GoldenImage as GoldenImage
    from model.golden import golden_by_name as golden_by_name
    from model.golden import load_golden as load_golden
    from model.metadata import MODEL_DIR as MODEL_DIR
    from model.metadata import load_metadata as load_metadata
    from model.preprocess import Preprocessor as Preprocessor
    from model.quantize import quantize_folder as quantize_folder

_WHERE = {
    "CheckReport": "model.check",
    "check_model_folder": "model.check",
    "Classifier": "model.classifier",
    "Prediction": "model.classifier",
    "EngineChoice": "model.engine_choice",
    "auto_engine": "model.engine_choice",
    "open_classifier": "model.engine_choice",
    "EngineName": "model.engines",
    "InvalidImageError": "model.errors",
    "InvalidImageKind": "model.errors",
    "sniff": "model.formats",
    "GoldenImage": "model.golden",
    "golden_by_name": "model.golden",
    "load_golden": "model.golden",
    "MODEL_DIR": "model.metadata",
    "load_metadata": "model.metadata",
    "Preprocessor": "model.preprocess",
    "quantize_folder": "model.quantize",  # export time: needs onnx (requirements-export.lock)
}
__all__ = [
    "MODEL_DIR",
    "CheckReport",
    "Classifier",
    "EngineChoice",
    "EngineName",
    "GoldenImage",
    "InvalidImageError",
    "InvalidImageKind",
    "Prediction",
    "Preprocessor",
    "auto_engine",
    "check_model_folder",
    "golden_by_name",
    "load_golden",
    "load_metadata",
    "open_classifier",
    "quantize_folder",
    "sniff",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'model' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
