"""The committed model (`model/`) behind the classifier port, in the contract's error vocabulary.

`model/` is a library of its own and does not import `services/`: its errors carry their own
kinds. This adapter is the one place they are translated, by a table that a test checks against
every kind the model can raise; a kind missing from it (a model newer than the table) still
becomes a client error with its reason, never an exception inside the worker's batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from model.classifier import Classifier
from model.errors import InvalidImageError, InvalidImageKind
from services.contract import ErrorKind
from services.ports import ImageRejectedError, Prediction

ERROR_KINDS: Mapping[InvalidImageKind, ErrorKind] = {
    "empty": ErrorKind.EMPTY,
    "not_an_image": ErrorKind.NOT_AN_IMAGE,
    "unsupported_format": ErrorKind.UNSUPPORTED_FORMAT,
    "truncated": ErrorKind.TRUNCATED,
    "corrupt": ErrorKind.CORRUPT,
    "too_many_pixels": ErrorKind.TOO_MANY_PIXELS,
    "bad_aspect_ratio": ErrorKind.BAD_ASPECT_RATIO,
}
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


def load_classifier(model_path: Path | None = None) -> ModelClassifier:
    """The model, loaded once per worker process: one session, one inference thread per caller."""
    return ModelClassifier(Classifier(model_path, intra_op_threads=1))
