"""The committed model (`model/`) behind the classifier port, in the contract's error vocabulary.

`model/` is a library of its own and does not import `services/`: its errors carry their own
kinds. This adapter is the one place they are translated, by a table that a test checks against
every kind the model can raise; a kind missing from it (a model newer than the table) still
becomes a client error with its reason, never an exception inside the worker's batch.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from model import engines
from model.agreement import check_agreement
from model.classifier import Classifier
from model.engines import EngineName
from model.errors import InvalidImageError, InvalidImageKind
from model.golden import load_golden
from services.contract import ErrorKind
from services.ports import ImageClassifier, ImageRejectedError, Prediction
from services.worker.settings import WorkerSettings

ERROR_KINDS: Mapping[InvalidImageKind, ErrorKind] = {
    "empty": ErrorKind.EMPTY,
    "not_an_image": ErrorKind.NOT_AN_IMAGE,
    "unsupported_format": ErrorKind.UNSUPPORTED_FORMAT,
    "truncated": ErrorKind.TRUNCATED,
    "corrupt": ErrorKind.CORRUPT,
    "too_many_pixels": ErrorKind.TOO_MANY_PIXELS,
    "bad_aspect_ratio": ErrorKind.BAD_ASPECT_RATIO,
}
EngineChoice = EngineName | Literal["auto"]
log = logging.getLogger("evision.engine")

UNMAPPED_KIND = ErrorKind.CORRUPT  # what an unreadable image is, when the model names it otherwise


def rejection(error: InvalidImageError) -> ImageRejectedError:
    return ImageRejectedError(ERROR_KINDS.get(error.kind, UNMAPPED_KIND), error.reason)


class ModelClassifier:
    """`model.classifier.Classifier` as an `ImageClassifier` (one ONNX Runtime session)."""

    def __init__(self, model: Classifier) -> None:
        self._model = model

    @property
    def name(self) -> str:
        return self._model.name

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


def load_classifier(
    model_path: Path | None = None, *, engine: EngineChoice = "onnxruntime", threads: int = 1
) -> ModelClassifier:
    """The model, loaded once per worker process, on the chosen engine (`auto`: see choose_engine)."""
    if engine == "auto":
        return ModelClassifier(choose_engine(model_path, threads=threads))
    return ModelClassifier(Classifier(model_path, intra_op_threads=1, engine=engine, threads=threads))


def choose_engine(model_path: Path | None = None, *, threads: int = 1) -> Classifier:
    """OpenVINO where it is installed, the CPU computes bf16 natively, its answers agree with ONNX
    Runtime's on the golden images (model/agreement.py) and it is faster here; else ONNX Runtime.
    The choice and its reason are logged (one line)."""
    reference = Classifier(model_path, intra_op_threads=1, threads=threads)
    if not engines.openvino_available():
        return _chosen(reference, "OpenVINO is not installed")
    if not engines.cpu_computes_bf16():
        return _chosen(reference, "this CPU has no native bf16 (OpenVINO f32 is no faster)")
    candidate = Classifier(model_path, engine="openvino", threads=threads)
    images = [image.read_bytes() for image in load_golden()]
    agreement = check_agreement(candidate, reference, images)
    if not agreement.ok:
        return _chosen(reference, f"OpenVINO bf16 disagrees: {'; '.join(agreement.problems)}")
    batch = np.stack([reference.preprocess(data) for data in images[:4]])
    fast, slow = _ms_per_image(candidate, batch), _ms_per_image(reference, batch)
    if fast >= slow:
        return _chosen(reference, f"OpenVINO bf16 is not faster here ({fast:.1f} vs {slow:.1f} ms/image)")
    return _chosen(candidate, f"{fast:.1f} vs {slow:.1f} ms/image; {agreement.summary()}")


def _chosen(classifier: Classifier, reason: str) -> Classifier:
    log.info("inference engine %s: %s", classifier.engine.label, reason)
    return classifier


def _ms_per_image(classifier: Classifier, batch: npt.NDArray[np.float32], seconds: float = 0.3) -> float:
    classifier.logits(batch)  # warm-up
    started, images = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        classifier.logits(batch)
        images += len(batch)
    return (time.perf_counter() - started) * 1000 / images
