"""The worker's classifier: the model's public entry (`model.open_classifier`) behind the port.

The one translation between the two: the model refuses an image with `model.InvalidImageError`,
whose kinds are the contract's own names (one vocabulary; a test checks every one), and the
port speaks `ImageRejectedError`. A kind the contract does not know (a newer model) still
becomes a client error with its reason, never an exception inside the worker's batch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from model import (
    MODEL_DIR,
    Classifier,
    EngineChoice,
    EngineName,
    InvalidImageError,
    load_metadata,
    open_classifier,
)
from services.contract import ErrorKind, Precision
from services.models.errors import UnknownModelError
from services.ports.classifier import ImageClassifier, ImageRejectedError, Prediction
from services.worker.settings import WorkerSettings

UNKNOWN_KIND = ErrorKind.CORRUPT  # what an unreadable image is, when the model names it otherwise
# A pinned precision names an engine outright: the reference is ONNX Runtime on the fp32 weights.
PINNED_ENGINES: dict[Precision, EngineName] = {"fp32": "onnxruntime", "int8": "onnxruntime-int8"}


def rejection(error: InvalidImageError) -> ImageRejectedError:
    try:
        kind = ErrorKind(error.kind)
    except ValueError:
        kind = UNKNOWN_KIND
    return ImageRejectedError(kind, error.reason)


class ModelClassifier:
    """The model (`model.Classifier`) as an `ImageClassifier`."""

    def __init__(self, model: Classifier) -> None:
        self._model = model

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def ref(self) -> str:
        return self._model.metadata.short_name

    @property
    def engine(self) -> str:
        return self._model.engine.label

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self._model.input_shape

    def preprocess(self, data: bytes, out: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
        try:
            return self._model.preprocess(data, out)
        except InvalidImageError as error:
            raise rejection(error) from error

    def infer(self, batch: npt.NDArray[np.float32]) -> Sequence[Prediction]:
        return self._model.infer(batch)


def load_classifier(
    model_path: Path | None = None, *, engine: EngineChoice = "onnxruntime", threads: int = 1
) -> ModelClassifier:
    """The model, loaded once per worker process, on the chosen engine (`auto`: the faster that agrees)."""
    return ModelClassifier(open_classifier(model_path, engine=engine, threads=threads))


def folder_loader(settings: WorkerSettings) -> Callable[[Path], ImageClassifier]:
    """Opens a registered model's folder on the worker's engine."""

    def load(folder: Path) -> ImageClassifier:
        model_file = load_metadata(folder / "metadata.json").model_file
        return load_classifier(folder / model_file, engine=settings.engine, threads=settings.threads)

    return load


def classifier_for(settings: WorkerSettings, *, threads: int | None = None) -> ImageClassifier:
    """The worker's classifier: the bundled model on `settings.engine`, or, where
    `settings.classifier` names one (`package.module:function`), what that factory returns when
    called with the settings (another model behind the same port)."""
    threads = settings.threads if threads is None else threads
    if settings.classifier:
        module, _, function = settings.classifier.partition(":")
        factory = getattr(importlib.import_module(module), function)
        classifier: ImageClassifier = factory(settings.model_copy(update={"threads": threads}))
        return classifier
    return load_classifier(settings.model_path, engine=settings.engine, threads=threads)


def pinned_loader(settings: WorkerSettings) -> Callable[[Path | None, Precision], ImageClassifier]:
    """Opens a model (a registered model's folder, or None: the worker's default) on the engine a
    pinned precision names, whatever engine the worker chose; UnknownModelError for an int8 pin
    on a model without an int8 variant (the request's own error, not a failure to retry)."""

    def load(folder: Path | None, precision: Precision) -> ImageClassifier:
        if precision == "auto":
            raise ValueError("auto is the worker's own engine, not a pin")
        pinned = settings.model_copy(update={"engine": PINNED_ENGINES[precision]})
        if folder is not None:
            _check_variant(folder / "metadata.json", precision)
            return folder_loader(pinned)(folder)
        if not settings.classifier:  # a factory's model is its own: the factory decides
            _check_variant(
                (settings.model_path.parent if settings.model_path else MODEL_DIR) / "metadata.json",
                precision,
            )
        return classifier_for(pinned)

    return load


def _check_variant(metadata_file: Path, precision: Precision) -> None:
    metadata = load_metadata(metadata_file)
    if precision != "fp32" and precision not in metadata.variants:
        raise UnknownModelError(
            f"{metadata.short_name} has no {precision} variant (evision model quantize makes one); "
            "ask for precision auto or fp32"
        )
